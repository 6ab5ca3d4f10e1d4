-- Helpers prepended to every script of this folder (xp/store/redis/scripts.py).
-- KEYS: none of its own; ARGV: none of its own.
--
-- Statistics hash fields (all ids are small integers from the names hash):
--   <scope>:<variant id>:n                  exposed units
--   <scope>:<variant id>:<metric id>:<stat> stat = s ss ds dss sp x xx xy nx
-- scope = a (all units; these fields live in the all hash), d<days since epoch> (UTC day of
--         first exposure), g<segment value id> (one value of one segment).
-- Names hash: 'v\31<variant>', 'm\31<metric>', 'c\31<event>', 'g\31<segment>\31<value>' -> id;
--             '#' counts.
-- Looks hash: 'day' -> UTC day of the latest write; '<day>' -> the all hash at the end of that
--             day, '<field>=<value>' joined by ';'.
-- Held hash: unit id -> '<event id>,<ts>,<value>,<expires>' joined by ';', in arrival order.
-- Unit record: <variant id>|<ts>|<segment value ids, comma>|<metric id>:<x>,...|
--              <metric id>:<total>[:<denominator total>],...  (the denominator for ratios)

-- Shortest text that reads back as the same double (tostring keeps 14 digits only).
local function fmt(x)
  local s = string.format('%.15g', x)
  if tonumber(s) ~= x then s = string.format('%.17g', x) end
  return s
end

-- Name ids read or allocated by this call: a script is atomic and the only writer of the
-- names hash, so what it read stays true until it returns.
local NAME_IDS = {}

-- The id of a name in the names hash, allocated on first use.
local function name_id(names_key, name)
  local id = NAME_IDS[name]
  if id then return id end
  id = redis.call('HGET', names_key, name)
  if not id then
    id = tostring(redis.call('HINCRBY', names_key, '#', 1) - 1)
    redis.call('HSET', names_key, name, id)
  end
  NAME_IDS[name] = id
  return id
end

-- The id of a name when it has one, without allocating: false otherwise.
local function known_id(names_key, name)
  local id = NAME_IDS[name]
  if id then return id end
  id = redis.call('HGET', names_key, name) or false
  if id then NAME_IDS[name] = id end
  return id
end

-- Held records (the held hash) as this call last read or wrote them: unit id -> text, or
-- false for none. Writes go to Redis at once and here too, so the two never differ; reads
-- of units that held_prefetch read together cost no command.
local HELD = {}
local function held_get(held_key, uid)
  local rec = HELD[uid]
  if rec == nil then
    rec = redis.call('HGET', held_key, uid) or false
    HELD[uid] = rec
  end
  return rec
end

local function held_set(held_key, uid, rec)
  redis.call('HSET', held_key, uid, rec)
  HELD[uid] = rec
end

local function held_del(held_key, uid)
  redis.call('HDEL', held_key, uid)
  HELD[uid] = false
end

-- The held records of `uids` (distinct unit ids) in one HMGET.
local function held_prefetch(held_key, uids)
  if #uids == 0 then return end
  local recs = redis.call('HMGET', held_key, unpack(uids))
  for i, uid in ipairs(uids) do HELD[uid] = recs[i] or false end
end

-- Increments of this call, written once per distinct field by flush(): the statistics and
-- diagnostic hashes are never read by a write script except by roll_day, which runs first.
-- PENDING[key] = {fields = {field -> sum}, order = {field, ...}, float = {field -> true}}.
local PENDING, PENDING_KEYS = {}, {}
local function add(key, field, by, float)
  local p = PENDING[key]
  if not p then
    p = {fields = {}, order = {}, float = {}}
    PENDING[key] = p
    PENDING_KEYS[#PENDING_KEYS + 1] = key
  end
  local old = p.fields[field]
  if old == nil then
    p.order[#p.order + 1] = field
    p.fields[field] = by
  else
    p.fields[field] = old + by
  end
  if float then p.float[field] = true end
end

-- A counter's increment (HINCRBY at flush).
local function incr(key, field, by) add(key, field, by, false) end

-- One HINCRBY or HINCRBYFLOAT per distinct field, in first-touch order. A field touched only
-- by counters is an integer; a sum whose increments cancel still writes its 0, as the
-- per-event increments did.
local function flush()
  for _, key in ipairs(PENDING_KEYS) do
    local p = PENDING[key]
    for _, field in ipairs(p.order) do
      if p.float[field] then
        redis.call('HINCRBYFLOAT', key, field, fmt(p.fields[field]))
      else
        redis.call('HINCRBY', key, field, string.format('%d', p.fields[field]))
      end
    end
  end
  PENDING, PENDING_KEYS = {}, {}
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
  if by ~= 0 then add(stats_key, field, by, true) end
end

-- The hash a scope's fields live in: the all hash for 'a:...', the stats hash otherwise.
-- Each script sets the two keys before it writes.
local STATS_KEY, ALL_KEY
local function key_of(scope)
  if string.byte(scope, 1) == 97 then return ALL_KEY end  -- 'a'
  return STATS_KEY
end

-- Before the first write of a new UTC day (of the store time `now`), copy the all hash into
-- the snapshot of the latest write day: what was observable at that day's end. O(variants x
-- metrics) once per day. Days never go back: a write stamped earlier counts in the current one.
local function roll_day(looks_key, now)
  local day = math.floor(tonumber(now) / 86400)
  local last = tonumber(redis.call('HGET', looks_key, 'day'))
  if last and day <= last then return end
  if last then
    local flat = redis.call('HGETALL', ALL_KEY)
    local parts = {}
    for i = 1, #flat, 2 do parts[#parts + 1] = flat[i] .. '=' .. flat[i + 1] end
    redis.call('HSET', looks_key, string.format('%d', last), table.concat(parts, ';'))
  end
  redis.call('HSET', looks_key, 'day', string.format('%d', day))
end

-- A held record as a list of {event id, ts text, value text, expires}.
local function parse_held(rec)
  local out = {}
  if not rec then return out end
  for item in string.gmatch(rec, '[^;]+') do
    local evid, ts, value, expires = string.match(item, '^([^,]*),([^,]*),([^,]*),([^,]*)$')
    out[#out + 1] = {evid, ts, value, tonumber(expires)}
  end
  return out
end

local function format_held(entries)
  local parts = {}
  for i, h in ipairs(entries) do parts[i] = h[1] .. ',' .. h[2] .. ',' .. h[3] .. ',' .. fmt(h[4]) end
  return table.concat(parts, ';')
end

-- Settle up to `limit` units whose held conversions are past their grace period: those count
-- not_exposed; conversions still waiting stay, queued by their earliest expiry.
-- Returns how many units it settled.
local function sweep(held_key, queue_key, diag_key, now, limit)
  local due = redis.call('ZRANGEBYSCORE', queue_key, '-inf', now, 'LIMIT', 0, limit)
  for _, uid in ipairs(due) do
    local kept, expired, first = {}, 0, nil
    for _, h in ipairs(parse_held(held_get(held_key, uid) or nil)) do
      if h[4] <= tonumber(now) then
        expired = expired + 1
      else
        kept[#kept + 1] = h
        if not first or h[4] < first then first = h[4] end
      end
    end
    if expired > 0 then
      incr(diag_key, 'held', -expired)
      incr(diag_key, 'not_exposed', expired)
    end
    if #kept == 0 then
      held_del(held_key, uid)
      redis.call('ZREM', queue_key, uid)
    else
      held_set(held_key, uid, format_held(kept))
      redis.call('ZADD', queue_key, fmt(first), uid)
    end
  end
  return #due
end
