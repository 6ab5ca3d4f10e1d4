"""The statistics engine: pure numpy/scipy functions over sufficient statistics.

No Flask, no Redis, no storage: everything here takes sums and returns numbers (or result
dataclasses with reason codes), so the API, the CLI, reports and simulations share one
implementation.
"""

from __future__ import annotations

from xp.stats.analyze import AnalyzeInputError, analyze
from xp.stats.cuped import CupedComparison, CupedResult, cuped_adjust, cuped_compare
from xp.stats.decision import Decision, MetricComparison, decide
from xp.stats.frequentist import (
    Estimate,
    LiftMoments,
    LiftResult,
    frequentist_lift,
    frequentist_result,
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
    sequential_result,
    sequential_series,
)
from xp.stats.srm import SRM_THRESHOLD, SrmResult, srm_test
from xp.stats.sufficiency import INSUFFICIENT_DATA, insufficiency
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
    "INSUFFICIENT_DATA",
    "SRM_THRESHOLD",
    "AnalyzeInputError",
    "ArmMoments",
    "ArmSummary",
    "CovariateStats",
    "CupedComparison",
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
    "cuped_compare",
    "days_to_reach",
    "decide",
    "frequentist_lift",
    "frequentist_result",
    "holm",
    "insufficiency",
    "lift_moments",
    "mde_mean",
    "mde_proportion",
    "running_minimum",
    "sample_size_mean",
    "sample_size_proportion",
    "sequential_lift",
    "sequential_result",
    "sequential_series",
    "srm_test",
]
