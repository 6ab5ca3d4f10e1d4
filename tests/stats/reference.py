"""Reference inputs shared by the stats tests.

The sums are those of GrowthBook's published gbstats unit tests
(packages/stats/tests/frequentist/test_tests.py in growthbook/growthbook).
"""

from __future__ import annotations

from xp.stats.sufficient import MeanStats, ProportionStats

# TestTwoSidedTTest: stat_a / stat_b
CONTROL = MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
TREATMENT = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)

# TestSequentialTTest uses the same sums with n=3000 for A
SEQ_CONTROL = MeanStats(n=3000, sum=1396.87, sum_squares=52377.9767)
SEQ_TREATMENT = TREATMENT
SEQ_PROP_CONTROL = ProportionStats(n=3000, sum=1396)
SEQ_PROP_TREATMENT = ProportionStats(n=3461, sum=2422)
