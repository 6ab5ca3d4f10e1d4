-- One conversion event attributed within one experiment E (one call per experiment).
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
-- ARGV[2] = ts, seconds since the epoch
-- ARGV[3] = value
-- ARGV[4] = event digest field
-- ARGV[5] = the metrics on the event, ';' between metrics, each
--           'name,kind,has_den,total,den,start,end': kind a key of KINDS (kinds.lua); has_den 1
--           when the kind keeps a denominator total; total and den are 1 when the event adds
--           to the unit's total or denominator total, else 0; start and end bound the window
--           in seconds after exposure (end '' = no end)
-- ARGV[6] = now: the store time of the write, seconds since the epoch
-- ARGV[7] = when the conversion stops waiting if it is held (now + the grace period)
-- ARGV[8] = how many conversions a unit may have held at once
-- ARGV[9] = the event's name
-- ARGV[10] = how many expired units to settle (sweep)
-- Returns 0 attributed, 1 duplicate, 3 not exposed, 4 before exposure, 5 outside every window,
-- 6 held

local units, names, diag, seen = KEYS[1], KEYS[3], KEYS[4], KEYS[5]
local held, queue = KEYS[8], KEYS[9]
STATS_KEY, ALL_KEY = KEYS[2], KEYS[6]
local now = ARGV[6]
roll_day(KEYS[7], now)
sweep(held, queue, diag, now, tonumber(ARGV[10]))
if redis.call('HSETNX', seen, ARGV[4], '') == 0 then return 1 end

local rec = redis.call('HGET', units, ARGV[1])
if not rec then
  local waiting = redis.call('HGET', held, ARGV[1])
  local count = 0
  if waiting then count = #parse_held(waiting) end
  if count >= tonumber(ARGV[8]) or tonumber(ARGV[7]) <= tonumber(now) then
    redis.call('HINCRBY', diag, 'not_exposed', 1)
    return 3
  end
  local item = name_id(names, 'c\31' .. ARGV[9]) .. ',' .. ARGV[2] .. ',' .. ARGV[3] .. ','
    .. ARGV[7]
  if waiting then
    redis.call('HSET', held, ARGV[1], waiting .. ';' .. item)
  else
    redis.call('HSET', held, ARGV[1], item)
    redis.call('ZADD', queue, ARGV[7], ARGV[1])
  end
  redis.call('HINCRBY', diag, 'held', 1)
  return 6
end
local unit = parse_unit(rec)
local code, changed = attribute(names, diag, unit, tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[5])
if changed then redis.call('HSET', units, ARGV[1], format_unit(unit)) end
return code
