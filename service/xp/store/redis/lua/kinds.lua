-- Metric kinds, prepended (after lib.lua) to every script of this folder.
-- KEYS: none of its own; ARGV: none of its own.
--
-- One step function per kind, the twin of xp/attribution/metric_kinds.py:
-- step(old total, event value) -> what one attributed event adds to the unit's total.
-- A ratio applies it to its numerator total and to its denominator total (attribute.lua);
-- the window, the sums and erasure are the same for every kind.
local KINDS = {}

KINDS.binomial = function(total, value)
  if total == 0 then return 1 end  -- 1 on the first attributed event, then nothing
  return 0
end

KINDS.count = function(total, value) return 1 end

KINDS.sum = function(total, value) return value end

KINDS.retention = KINDS.binomial  -- binomial within its window [a, b) days

KINDS.ratio = function(total, value) return value end
