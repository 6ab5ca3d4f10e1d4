"""The statistics engine: pure numpy/scipy functions over sufficient statistics.

No Flask, no Redis, no storage: everything here takes sums and returns numbers (or result
dataclasses with reason codes), so the API, the CLI, reports and simulations share one
implementation.
"""

from __future__ import annotations

from xp.stats.analyze import AnalyzeInputError, analyze
from xp.stats.cuped import CupedResult, cuped_adjust
from xp.stats.decision import Decision, MetricComparison, decide
from xp.stats.frequentist import (
    Estimate,
    LiftMoments,
    LiftResult,
    frequentist_lift,
    lift_moments,
)
from xp.stats.multiple import adjust_p_values, benjamini_hochberg, holm
from xp.stats.power import (
    days_to_reach,
    mde_mean,
    mde_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from xp.stats.sequential import (
    DEFAULT_TUNING,
    always_valid_p_value,
    cs_halfwidth,
    running_minimum,
    sequential_lift,
    sequential_series,
)
from xp.stats.srm import SRM_THRESHOLD, SrmResult, srm_test
from xp.stats.sufficient import (
    ArmMoments,
    ArmSummary,
    CovariateStats,
    MeanStats,
    ProportionStats,
    RatioStats,
)

__all__ = [
    "DEFAULT_TUNING",
    "SRM_THRESHOLD",
    "AnalyzeInputError",
    "ArmMoments",
    "ArmSummary",
    "CovariateStats",
    "CupedResult",
    "Decision",
    "Estimate",
    "LiftMoments",
    "LiftResult",
    "MeanStats",
    "MetricComparison",
    "ProportionStats",
    "RatioStats",
    "SrmResult",
    "adjust_p_values",
    "always_valid_p_value",
    "analyze",
    "benjamini_hochberg",
    "cs_halfwidth",
    "cuped_adjust",
    "days_to_reach",
    "decide",
    "frequentist_lift",
    "holm",
    "lift_moments",
    "mde_mean",
    "mde_proportion",
    "running_minimum",
    "sample_size_mean",
    "sample_size_proportion",
    "sequential_lift",
    "sequential_series",
    "srm_test",
]
