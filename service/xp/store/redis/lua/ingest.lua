-- Every exposure and conversion of one batch for one experiment E, in arrival order: one call
-- per (batch, experiment), atomic as any script (all of it applies or none). Each event does
-- what it would alone; the unit records it reads are cached for the call, and the statistics
-- and diagnostics increments are written once per distinct field at the end (flush, lib.lua).
-- KEYS[1] = xp:{E}:stats       statistics per day and segment
-- KEYS[2] = xp:{E}:names       name ids
-- KEYS[3] = xp:{E}:diag        diagnostic counters
-- KEYS[4] = xp:{E}:all         statistics of all units
-- KEYS[5] = xp:{E}:looks       daily snapshots
-- KEYS[6] = xp:{E}:held        conversions waiting for their unit's exposure
-- KEYS[7] = xp:{E}:hq          units with held conversions, by earliest expiry
-- KEYS[8...] = xp:{E}:u:<bucket> and xp:{E}:e:<bucket>: the unit records and the seen event
--                     digests of the events' buckets, each once (events name them by index)
-- ARGV[1] = now: the store time of the write, seconds since the epoch
-- ARGV[2] = how many expired units to settle before each event (sweep)
-- ARGV[3] = when a conversion held now stops waiting (now + the grace period)
-- ARGV[4] = how many conversions a unit may have held at once
-- ARGV[5] = JSON list of held-rule sets, each a flat list of pairs: event name, its metrics
--           (the spec below), how an exposure attributes its unit's held conversions
-- ARGV[6] = JSON list of metrics specs. A spec: ';' between metrics, each
--           'name,kind,has_den,total,den,start,end': kind a key of KINDS (kinds.lua); has_den
--           1 when the kind keeps a denominator total; total and den 1 when the event adds to
--           the unit's total or denominator total; start and end bound the window in seconds
--           after exposure (end '' = no end)
-- ARGV[7] = the events' seen-digest fields, 12 bytes each, in event order
-- ARGV[8] = JSON list of the events, each one of:
--   ['e', unit id, unit key index, seen key index, variant key, ts, held-rule set (1..),
--         [[segment name, value], ...], [[metric name, pre-period value], ...]]
--   ['c', unit id, unit key index, seen key index, ts, value, metrics spec (1..), event name]
--   (ts, value and pre-period values as JSON numbers; the records keep them as fmt's text)
-- Returns one code per event, in order: exposures 0 new unit, 1 duplicate, 2 variant mismatch
-- (counted); conversions 0 attributed, 1 duplicate, 3 not exposed, 4 before exposure,
-- 5 outside every window, 6 held

local names, diag, held, queue = KEYS[2], KEYS[3], KEYS[6], KEYS[7]
STATS_KEY, ALL_KEY = KEYS[1], KEYS[4]
local now = ARGV[1]
local now_n = tonumber(now)
local sweep_limit = tonumber(ARGV[2])
local expires, per_unit = ARGV[3], tonumber(ARGV[4])

-- Unit records read or written by this call: unit id -> {key, record text or false, dirty,
-- the record parsed (parse_unit) once a conversion needed it}; written back at the end.
local UNITS = {}
local function unit_entry(key, unit_id)
  local u = UNITS[unit_id]
  if not u then
    u = {key, redis.call('HGET', key, unit_id) or false, false}
    UNITS[unit_id] = u
  end
  return u
end

local function expose(u, unit_id, variant, ts, digest, rules, segments, covariates)
  local vid = name_id(names, 'v\31' .. variant)
  local rec = u[2]
  if rec then
    local known = u[4] and u[4].vid or string.match(rec, '^([^|]*)|')
    if known == vid then return 1 end
    if redis.call('HSETNX', digest[1], digest[2], '') == 0 then return 1 end
    incr(diag, 'variant_mismatch', 1)
    return 2
  end
  local ts_text = fmt(ts)
  local segs = {}
  for i, seg in ipairs(segments) do
    segs[i] = name_id(names, 'g\31' .. seg[1] .. '\31' .. seg[2])
  end
  local scopes = unit_scopes(vid, ts, segs)
  for _, scope in ipairs(scopes) do incr(key_of(scope), scope .. ':n', 1) end
  local covs = {}
  for _, cov in ipairs(covariates) do
    local mid = name_id(names, 'm\31' .. cov[1])
    local x = cov[2]
    local text = fmt(x)
    covs[#covs + 1] = mid .. ':' .. text
    for _, scope in ipairs(scopes) do
      local key, p = key_of(scope), scope .. ':' .. mid .. ':'
      bump(key, p .. 'x', x)
      bump(key, p .. 'xx', x * x)
      incr(key, p .. 'nx', 1)
    end
  end
  rec = vid .. '|' .. ts_text .. '|' .. table.concat(segs, ',') .. '|' .. table.concat(covs, ',')
    .. '|'
  u[2], u[3], u[4] = rec, true, nil
  local waiting = held_get(held, unit_id)
  if waiting then
    local specs = {}  -- event id -> metrics spec
    for i = 1, #rules, 2 do
      local evid = known_id(names, 'c\31' .. rules[i])
      if evid then specs[evid] = rules[i + 1] end
    end
    local entries = parse_held(waiting)
    local unit = parse_unit(rec)
    local expired = 0
    for _, h in ipairs(entries) do
      if h[4] <= now_n then
        expired = expired + 1
      elseif specs[h[1]] then  -- a metric still counts the event
        attribute(names, diag, unit, tonumber(h[2]), tonumber(h[3]), specs[h[1]])
      end
    end
    u[4] = unit
    held_del(held, unit_id)
    redis.call('ZREM', queue, unit_id)
    incr(diag, 'held', -#entries)
    if expired > 0 then incr(diag, 'not_exposed', expired) end
  end
  return 0
end

local function convert(u, unit_id, ts, value, digest, spec, event)
  if redis.call('HSETNX', digest[1], digest[2], '') == 0 then return 1 end
  local rec = u[2]
  if not rec then
    local waiting = held_get(held, unit_id)
    local count = 0
    if waiting then count = #parse_held(waiting) end
    if count >= per_unit or tonumber(expires) <= now_n then
      incr(diag, 'not_exposed', 1)
      return 3
    end
    local item = name_id(names, 'c\31' .. event) .. ',' .. fmt(ts) .. ',' .. fmt(value) .. ','
      .. expires
    if waiting then
      held_set(held, unit_id, waiting .. ';' .. item)
    else
      held_set(held, unit_id, item)
      redis.call('ZADD', queue, expires, unit_id)
    end
    incr(diag, 'held', 1)
    return 6
  end
  local unit = u[4] or parse_unit(rec)
  u[4] = unit
  local code, changed = attribute(names, diag, unit, ts, value, spec)
  if changed then u[3] = true end
  return code
end

roll_day(KEYS[5], now)  -- every event of the call has the same store time
local rule_sets = cjson.decode(ARGV[5])
local specs = cjson.decode(ARGV[6])
local fields = ARGV[7]

local events = cjson.decode(ARGV[8])
local uids, listed = {}, {}
for _, ev in ipairs(events) do
  if not listed[ev[2]] then
    listed[ev[2]] = true
    uids[#uids + 1] = ev[2]
  end
end
held_prefetch(held, uids)

local codes = {}
-- A sweep that settles fewer than its limit leaves nothing due: an event of this call holds
-- a conversion only until after `now`, so the later sweeps would find nothing and are skipped.
local due = true
for i, ev in ipairs(events) do
  if due then due = sweep(held, queue, diag, now, sweep_limit) >= sweep_limit end
  local unit_id = ev[2]
  local u = unit_entry(KEYS[ev[3]], unit_id)
  local digest = {KEYS[ev[4]], string.sub(fields, 12 * i - 11, 12 * i)}
  if ev[1] == 'e' then
    codes[i] = expose(u, unit_id, ev[5], ev[6], digest, rule_sets[ev[7]], ev[8], ev[9])
  else
    codes[i] = convert(u, unit_id, ev[5], ev[6], digest, specs[ev[7]], ev[8])
  end
end

for unit_id, u in pairs(UNITS) do
  if u[3] then redis.call('HSET', u[1], unit_id, u[4] and format_unit(u[4]) or u[2]) end
end
flush()
return codes
