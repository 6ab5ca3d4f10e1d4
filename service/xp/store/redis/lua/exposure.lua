-- A unit's exposure to one experiment E: the first one wins, later ones change nothing. The
-- first one also attributes the conversions the unit had held, as if they came after it.
-- KEYS[1] = xp:{E}:u:<bucket>  unit records of the unit's bucket
-- KEYS[2] = xp:{E}:stats       statistics per day and segment
-- KEYS[3] = xp:{E}:names       name ids
-- KEYS[4] = xp:{E}:diag        diagnostic counters
-- KEYS[5] = xp:{E}:e:<bucket>  seen event digests of the event's bucket
-- KEYS[6] = xp:{E}:all         statistics of all units
-- KEYS[7] = xp:{E}:looks       daily snapshots
-- KEYS[8] = xp:{E}:held        conversions waiting for their unit's exposure
-- KEYS[9] = xp:{E}:hq          units with held conversions, by earliest expiry
-- ARGV[1] = unit id
-- ARGV[2] = variant key
-- ARGV[3] = ts, seconds since the epoch
-- ARGV[4] = event digest field (a repeated variant mismatch is counted once)
-- ARGV[5] = number of segments S, then S pairs: segment name, value
-- ARGV[6 + 2S] = number of covariates C, then C pairs: metric name, pre-period value
-- ARGV[7 + 2S + 2C] = now: the store time of the write, seconds since the epoch
-- ARGV[8 + 2S + 2C] = how many expired units to settle (sweep)
-- ARGV[9 + 2S + 2C] = number of events R the experiment's metrics count, then R pairs: event
--                     name, its metrics (conversion.lua's ARGV[5]), for held conversions
-- Returns 0 new unit, 1 duplicate, 2 variant mismatch (counted)

local units, names, diag, seen = KEYS[1], KEYS[3], KEYS[4], KEYS[5]
local held, queue = KEYS[8], KEYS[9]
STATS_KEY, ALL_KEY = KEYS[2], KEYS[6]
local unit_id = ARGV[1]
local nseg = tonumber(ARGV[5])
local at = 6 + 2 * nseg
local ncov = tonumber(ARGV[at])
local tail = at + 1 + 2 * ncov
local now = ARGV[tail]
roll_day(KEYS[7], now)
sweep(held, queue, diag, now, tonumber(ARGV[tail + 1]))
local vid = name_id(names, 'v\31' .. ARGV[2])

local rec = redis.call('HGET', units, unit_id)
if rec then
  if string.match(rec, '^([^|]*)|') == vid then return 1 end
  if redis.call('HSETNX', seen, ARGV[4], '') == 0 then return 1 end
  redis.call('HINCRBY', diag, 'variant_mismatch', 1)
  return 2
end

local ts = tonumber(ARGV[3])
local segs = {}
for i = 1, nseg do
  segs[i] = name_id(names, 'g\31' .. ARGV[4 + 2 * i] .. '\31' .. ARGV[5 + 2 * i])
end
local scopes = unit_scopes(vid, ts, segs)
for _, scope in ipairs(scopes) do redis.call('HINCRBY', key_of(scope), scope .. ':n', 1) end

local covs = {}
for i = 1, ncov do
  local mid = name_id(names, 'm\31' .. ARGV[at - 1 + 2 * i])
  local text = ARGV[at + 2 * i]
  local x = tonumber(text)
  covs[i] = mid .. ':' .. text
  for _, scope in ipairs(scopes) do
    local key, p = key_of(scope), scope .. ':' .. mid .. ':'
    bump(key, p .. 'x', x)
    bump(key, p .. 'xx', x * x)
    redis.call('HINCRBY', key, p .. 'nx', 1)
  end
end

rec = vid .. '|' .. ARGV[3] .. '|' .. table.concat(segs, ',') .. '|' .. table.concat(covs, ',')
  .. '|'
local waiting = redis.call('HGET', held, unit_id)
if waiting then
  local specs = {}  -- event id -> metrics spec
  local nrules = tonumber(ARGV[tail + 2])
  for i = 1, nrules do
    local evid = redis.call('HGET', names, 'c\31' .. ARGV[tail + 1 + 2 * i])
    if evid then specs[evid] = ARGV[tail + 2 + 2 * i] end
  end
  local entries = parse_held(waiting)
  local unit = parse_unit(rec)
  local expired = 0
  for _, h in ipairs(entries) do
    if h[4] <= tonumber(now) then
      expired = expired + 1
    elseif specs[h[1]] then  -- a metric still counts the event
      attribute(names, diag, unit, tonumber(h[2]), tonumber(h[3]), specs[h[1]])
    end
  end
  rec = format_unit(unit)
  redis.call('HDEL', held, unit_id)
  redis.call('ZREM', queue, unit_id)
  redis.call('HINCRBY', diag, 'held', -#entries)
  if expired > 0 then redis.call('HINCRBY', diag, 'not_exposed', expired) end
end
redis.call('HSET', units, unit_id, rec)
return 0
