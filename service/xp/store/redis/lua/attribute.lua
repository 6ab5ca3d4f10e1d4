-- Attribution of one conversion, prepended after lib.lua and kinds.lua (it reads KINDS) to
-- every script of this folder: ingest.lua calls it for a conversion of an exposed unit, and
-- for each conversion an exposure's unit had held.
-- KEYS: none of its own; ARGV: none of its own.

-- One conversion at `ts` of an exposed unit (a parse_unit table, updated in place): each
-- metric of `spec` (ingest.lua's metrics spec) whose window holds it updates the unit's
-- total and the sums of every slice the unit is in. Returns the code (0 attributed,
-- 4 before exposure, 5 outside every window) and whether a total changed.
-- Metrics specs parsed by this call: spec text -> list of metrics, each {name, step,
-- has_den, adds_total, adds_den, start, stop, metric id once known}. A call's events share a
-- handful of specs, so each is parsed once rather than per conversion.
local SPECS = {}
local function parse_spec(spec)
  local metrics = SPECS[spec]
  if metrics then return metrics end
  metrics = {}
  for item in string.gmatch(spec, '[^;]+') do
    local name, kind, has_den, adds_total, adds_den, start, stop =
      string.match(item, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
    local step = KINDS[kind] or error('unknown metric kind ' .. kind)
    metrics[#metrics + 1] = {name = name, step = step, has_den = has_den == '1',
                             adds_total = adds_total == '1', adds_den = adds_den == '1',
                             start = tonumber(start), stop = tonumber(stop)}
  end
  SPECS[spec] = metrics
  return metrics
end

local function attribute(names, diag, unit, ts, value, spec)
  local after = ts - unit.ts
  if after < 0 then
    incr(diag, 'before_exposure', 1)
    return 4, false
  end
  -- A unit's slices never change: built once per unit and call.
  local scopes = unit.scopes
  if not scopes then
    scopes = unit_scopes(unit.vid, unit.ts, unit.segs)
    unit.scopes = scopes
  end
  local attributed, changed = false, false
  for _, m in ipairs(parse_spec(spec)) do
    local has_den, start, stop = m.has_den, m.start, m.stop
    if after < start or (stop and after >= stop) then
      incr(diag, 'outside_window', 1)
    else
      attributed = true
      -- The id on first attribution, as before: a name gets its id when it is first used.
      local mid = m.mid
      if not mid then
        mid = name_id(names, 'm\31' .. m.name)
        m.mid = mid
      end
      local t = unit.tots[mid] or {0, has_den and 0 or nil}
      local total, den = t[1], t[2] or 0
      local d, dd = 0, 0
      if m.adds_total then d = m.step(total, value) end
      if m.adds_den then dd = m.step(den, value) end
      if d ~= 0 or dd ~= 0 then
        changed = true
        if not unit.tots[mid] then  -- a total enters the record with its first change
          unit.tots[mid] = t
          unit.order[#unit.order + 1] = mid
        end
        local x = unit.covs[mid]
        for _, scope in ipairs(scopes) do
          local key, p = key_of(scope), scope .. ':' .. mid .. ':'
          bump(key, p .. 's', d)
          bump(key, p .. 'ss', 2 * total * d + d * d)
          if has_den then
            bump(key, p .. 'ds', dd)
            bump(key, p .. 'dss', 2 * den * dd + dd * dd)
            bump(key, p .. 'sp', total * dd + d * den + d * dd)
          end
          if x then bump(key, p .. 'xy', x * d) end
        end
        t[1] = total + d
        if has_den then t[2] = den + dd end
      end
    end
  end
  if attributed then return 0, changed end
  return 5, changed
end
