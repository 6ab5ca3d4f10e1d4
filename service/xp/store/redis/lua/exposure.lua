-- A unit's exposure to one experiment E: the first one wins, later ones change nothing.
-- KEYS[1] = xp:{E}:u:<bucket>  unit records of the unit's bucket
-- KEYS[2] = xp:{E}:stats       statistics
-- KEYS[3] = xp:{E}:names       name ids
-- KEYS[4] = xp:{E}:diag        diagnostic counters
-- KEYS[5] = xp:{E}:e:<bucket>  seen event digests of the event's bucket
-- ARGV[1] = unit id
-- ARGV[2] = variant key
-- ARGV[3] = ts, seconds since the epoch
-- ARGV[4] = event digest field (a repeated variant mismatch is counted once)
-- ARGV[5] = number of segments S, then S pairs: segment name, value
-- ARGV[6 + 2S] = number of covariates C, then C pairs: metric name, pre-period value
-- Returns 0 new unit, 1 duplicate, 2 variant mismatch (counted)

local units, stats, names, diag, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local unit_id = ARGV[1]
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
local nseg = tonumber(ARGV[5])
for i = 1, nseg do
  segs[i] = name_id(names, 'g\31' .. ARGV[4 + 2 * i] .. '\31' .. ARGV[5 + 2 * i])
end
local scopes = unit_scopes(vid, ts, segs)
for _, scope in ipairs(scopes) do redis.call('HINCRBY', stats, scope .. ':n', 1) end

local covs = {}
local at = 6 + 2 * nseg
for i = 1, tonumber(ARGV[at]) do
  local mid = name_id(names, 'm\31' .. ARGV[at - 1 + 2 * i])
  local text = ARGV[at + 2 * i]
  local x = tonumber(text)
  covs[i] = mid .. ':' .. text
  for _, scope in ipairs(scopes) do
    local p = scope .. ':' .. mid .. ':'
    bump(stats, p .. 'x', x)
    bump(stats, p .. 'xx', x * x)
    redis.call('HINCRBY', stats, p .. 'nx', 1)
  end
end

redis.call('HSET', units, unit_id,
  vid .. '|' .. ARGV[3] .. '|' .. table.concat(segs, ',') .. '|' .. table.concat(covs, ',') .. '|')
return 0
