-- Erase one unit from one experiment E: its record and held conversions go, its contribution
-- leaves every current sum (daily snapshots, anonymous sums of what was seen, stay).
-- KEYS[1] = xp:{E}:u:<bucket>  unit records of the unit's bucket
-- KEYS[2] = xp:{E}:stats       statistics per day and segment
-- KEYS[3] = xp:{E}:e:<bucket>  seen event ids holding the unit's default exposure id
-- KEYS[4] = xp:{E}:all         statistics of all units
-- KEYS[5] = xp:{E}:looks       daily snapshots
-- KEYS[6] = xp:{E}:held        conversions waiting for their unit's exposure
-- KEYS[7] = xp:{E}:hq          units with held conversions, by earliest expiry
-- KEYS[8] = xp:{E}:diag        diagnostic counters
-- ARGV[1] = unit id
-- ARGV[2] = field of the default exposure id (it is derived from the unit id, so it goes too)
-- ARGV[3] = now: the store time of the write, seconds since the epoch
-- Returns 1 when the unit was exposed in E, 0 when it was not (held conversions go either way)

local units = KEYS[1]
STATS_KEY, ALL_KEY = KEYS[2], KEYS[4]
roll_day(KEYS[5], ARGV[3])
local waiting = redis.call('HGET', KEYS[6], ARGV[1])
if waiting then
  incr(KEYS[8], 'held', -#parse_held(waiting))
  redis.call('HDEL', KEYS[6], ARGV[1])
  redis.call('ZREM', KEYS[7], ARGV[1])
end
local rec = redis.call('HGET', units, ARGV[1])
if not rec then
  flush()
  return 0
end
local unit = parse_unit(rec)
local scopes = unit_scopes(unit.vid, unit.ts, unit.segs)
for _, scope in ipairs(scopes) do
  local key = key_of(scope)
  incr(key, scope .. ':n', -1)
  for mid, x in pairs(unit.covs) do
    local p = scope .. ':' .. mid .. ':'
    bump(key, p .. 'x', -x)
    bump(key, p .. 'xx', -x * x)
    incr(key, p .. 'nx', -1)
  end
  for mid, t in pairs(unit.tots) do
    local p = scope .. ':' .. mid .. ':'
    local total, den = t[1], t[2]
    bump(key, p .. 's', -total)
    bump(key, p .. 'ss', -total * total)
    if den then
      bump(key, p .. 'ds', -den)
      bump(key, p .. 'dss', -den * den)
      bump(key, p .. 'sp', -total * den)
    end
    local x = unit.covs[mid]
    if x then bump(key, p .. 'xy', -x * total) end
  end
end
redis.call('HDEL', units, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[2])
flush()
return 1
