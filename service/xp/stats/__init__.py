"""The statistics engine: pure numpy/scipy functions over sufficient statistics.

No Flask, no Redis, no storage: everything here takes sums and returns numbers (or result
dataclasses with reason codes), so the API, the CLI, reports and simulations share one
implementation.

The names below are loaded on first use (PEP 562): importing the package, or one light module
of it, must not load every statistics module and with them scipy, which a serving worker
that only assigns never needs (issue 13).
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module of this package that defines it
_HOMES = {
    "AnalyzeInputError": "analyze",
    "ArmMoments": "sufficient",
    "ArmSummary": "sufficient",
    "CovariateStats": "sufficient",
    "CupedComparison": "cuped",
    "CupedResult": "cuped",
    "DEFAULT_TUNING": "sequential",
    "Decision": "decision",
    "Estimate": "frequentist",
    "INSUFFICIENT_DATA": "sufficiency",
    "LiftMoments": "frequentist",
    "LiftResult": "frequentist",
    "MeanStats": "sufficient",
    "MetricComparison": "decision",
    "ProportionStats": "sufficient",
    "RatioStats": "sufficient",
    "SRM_THRESHOLD": "srm",
    "SrmResult": "srm",
    "adjust_p_values": "multiple",
    "always_valid_p_value": "sequential",
    "analyze": "analyze",
    "benjamini_hochberg": "multiple",
    "cs_halfwidth": "sequential",
    "cuped_adjust": "cuped",
    "cuped_compare": "cuped",
    "days_to_reach": "power",
    "decide": "decision",
    "frequentist_lift": "frequentist",
    "frequentist_result": "frequentist",
    "holm": "multiple",
    "insufficiency": "sufficiency",
    "lift_moments": "frequentist",
    "mde_mean": "power",
    "mde_proportion": "power",
    "running_minimum": "sequential",
    "sample_size_mean": "power",
    "sample_size_proportion": "power",
    "sequential_lift": "sequential",
    "sequential_result": "sequential",
    "sequential_series": "sequential",
    "srm_test": "srm",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'xp.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"xp.stats.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
