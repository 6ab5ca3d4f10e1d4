-- One conversion event attributed within one experiment E (one call per experiment).
-- KEYS[1] = xp:{E}:u:<bucket>  unit records of the unit's bucket
-- KEYS[2] = xp:{E}:stats       statistics
-- KEYS[3] = xp:{E}:names       name ids
-- KEYS[4] = xp:{E}:diag        diagnostic counters
-- KEYS[5] = xp:{E}:e:<bucket>  seen event digests of the event's bucket
-- ARGV[1] = unit id
-- ARGV[2] = ts, seconds since the epoch
-- ARGV[3] = value
-- ARGV[4] = event digest field
-- ARGV[5] = the metrics on the event, ';' between metrics, each
--           'name,kind,has_den,total,den,start,end': kind a key of KINDS (kinds.lua); has_den 1
--           when the kind keeps a denominator total; total and den are 1 when the event adds
--           to the unit's total or denominator total, else 0; start and end bound the window
--           in seconds after exposure (end '' = no end)
-- Returns 0 attributed, 1 duplicate, 3 not exposed, 4 before exposure, 5 outside every window

local units, stats, names, diag, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('HSETNX', seen, ARGV[4], '') == 0 then return 1 end

local rec = redis.call('HGET', units, ARGV[1])
if not rec then
  redis.call('HINCRBY', diag, 'not_exposed', 1)
  return 3
end
local unit = parse_unit(rec)
local ts, value = tonumber(ARGV[2]), tonumber(ARGV[3])
local after = ts - unit.ts
if after < 0 then
  redis.call('HINCRBY', diag, 'before_exposure', 1)
  return 4
end

local scopes = unit_scopes(unit.vid, unit.ts, unit.segs)
local attributed, changed = false, false
for spec in string.gmatch(ARGV[5], '[^;]+') do
  local name, kind, has_den, adds_total, adds_den, start, stop =
    string.match(spec, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
  local step = KINDS[kind] or error('unknown metric kind ' .. kind)
  has_den, adds_total, adds_den = has_den == '1', adds_total == '1', adds_den == '1'
  start, stop = tonumber(start), tonumber(stop)
  if after < start or (stop and after >= stop) then
    redis.call('HINCRBY', diag, 'outside_window', 1)
  else
    attributed = true
    local mid = name_id(names, 'm\31' .. name)
    local t = unit.tots[mid]
    if not t then
      t = {0, has_den and 0 or nil}
      unit.tots[mid] = t
      unit.order[#unit.order + 1] = mid
    end
    local total, den = t[1], t[2] or 0
    local d, dd = 0, 0
    if adds_total then d = step(total, value) end
    if adds_den then dd = step(den, value) end
    if d ~= 0 or dd ~= 0 then
      changed = true
      local x = unit.covs[mid]
      for _, scope in ipairs(scopes) do
        local p = scope .. ':' .. mid .. ':'
        bump(stats, p .. 's', d)
        bump(stats, p .. 'ss', 2 * total * d + d * d)
        if has_den then
          bump(stats, p .. 'ds', dd)
          bump(stats, p .. 'dss', 2 * den * dd + dd * dd)
          bump(stats, p .. 'sp', total * dd + d * den + d * dd)
        end
        if x then bump(stats, p .. 'xy', x * d) end
      end
      t[1] = total + d
      if has_den then t[2] = den + dd end
    end
  end
end
if changed then redis.call('HSET', units, ARGV[1], format_unit(unit)) end
if attributed then return 0 end
return 5
