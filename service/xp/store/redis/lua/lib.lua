-- Helpers prepended to every script of this folder (xp/store/redis/scripts.py).
-- KEYS: none of its own; ARGV: none of its own.
--
-- Statistics hash fields (all ids are small integers from the names hash):
--   <scope>:<variant id>:n                  exposed units
--   <scope>:<variant id>:<metric id>:<stat> stat = s ss ds dss sp x xx xy nx
-- scope = a (all units), d<days since epoch> (UTC day of first exposure),
--         g<segment value id> (one value of one segment).
-- Names hash: 'v\31<variant>', 'm\31<metric>', 'g\31<segment>\31<value>' -> id; '#' counts.
-- Unit record: <variant id>|<ts>|<segment value ids, comma>|<metric id>:<x>,...|
--              <metric id>:<total>[:<denominator total>],...  (the denominator for ratios)

-- Shortest text that reads back as the same double (tostring keeps 14 digits only).
local function fmt(x)
  local s = string.format('%.15g', x)
  if tonumber(s) ~= x then s = string.format('%.17g', x) end
  return s
end

-- The id of a name in the names hash, allocated on first use.
local function name_id(names_key, name)
  local id = redis.call('HGET', names_key, name)
  if id then return id end
  id = tostring(redis.call('HINCRBY', names_key, '#', 1) - 1)
  redis.call('HSET', names_key, name, id)
  return id
end

local function parse_unit(rec)
  local vid, ts, segs, covs, tots = string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  local unit = {vid = vid, ts_text = ts, ts = tonumber(ts), segs_text = segs, covs_text = covs,
                segs = {}, covs = {}, tots = {}, order = {}}
  for sid in string.gmatch(segs, '[^,]+') do unit.segs[#unit.segs + 1] = sid end
  for mid, x in string.gmatch(covs, '([^:,]+):([^,]+)') do unit.covs[mid] = tonumber(x) end
  for item in string.gmatch(tots, '[^,]+') do
    local mid, total, den = string.match(item, '^([^:]+):([^:]+):?(.*)$')
    unit.tots[mid] = {tonumber(total), tonumber(den)}
    unit.order[#unit.order + 1] = mid
  end
  return unit
end

local function format_unit(unit)
  local tots = {}
  for i, mid in ipairs(unit.order) do
    local t = unit.tots[mid]
    tots[i] = mid .. ':' .. fmt(t[1]) .. (t[2] and (':' .. fmt(t[2])) or '')
  end
  return unit.vid .. '|' .. unit.ts_text .. '|' .. unit.segs_text .. '|' .. unit.covs_text
    .. '|' .. table.concat(tots, ',')
end

-- Every slice the unit counts in: all units, its day of first exposure, its segment values.
local function unit_scopes(vid, ts, segs)
  local scopes = {'a:' .. vid, 'd' .. string.format('%d', math.floor(ts / 86400)) .. ':' .. vid}
  for _, sid in ipairs(segs) do scopes[#scopes + 1] = 'g' .. sid .. ':' .. vid end
  return scopes
end

local function bump(stats_key, field, by)
  if by ~= 0 then redis.call('HINCRBYFLOAT', stats_key, field, fmt(by)) end
end
