-- Erase one unit from one experiment E: its record goes, its contribution leaves every sum.
-- KEYS[1] = xp:{E}:u:<bucket>  unit records of the unit's bucket
-- KEYS[2] = xp:{E}:stats       statistics
-- KEYS[3] = xp:{E}:e:<bucket>  seen event ids holding the unit's default exposure id
-- ARGV[1] = unit id
-- ARGV[2] = field of the default exposure id (it is derived from the unit id, so it goes too)
-- Returns 1 when the unit was there, 0 when it was not

local units, stats = KEYS[1], KEYS[2]
local rec = redis.call('HGET', units, ARGV[1])
if not rec then return 0 end
local unit = parse_unit(rec)
local scopes = unit_scopes(unit.vid, unit.ts, unit.segs)
for _, scope in ipairs(scopes) do
  redis.call('HINCRBY', stats, scope .. ':n', -1)
  for mid, x in pairs(unit.covs) do
    local p = scope .. ':' .. mid .. ':'
    bump(stats, p .. 'x', -x)
    bump(stats, p .. 'xx', -x * x)
    redis.call('HINCRBY', stats, p .. 'nx', -1)
  end
  for mid, t in pairs(unit.tots) do
    local p = scope .. ':' .. mid .. ':'
    local total, den = t[1], t[2]
    bump(stats, p .. 's', -total)
    bump(stats, p .. 'ss', -total * total)
    if den then
      bump(stats, p .. 'ds', -den)
      bump(stats, p .. 'dss', -den * den)
      bump(stats, p .. 'sp', -total * den)
    end
    local x = unit.covs[mid]
    if x then bump(stats, p .. 'xy', -x * total) end
  end
end
redis.call('HDEL', units, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
