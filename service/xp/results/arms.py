"""One variant's stored sums as the statistics engine's arm, and as a report's variant row."""

from __future__ import annotations

import math
from collections.abc import Mapping

from xp.definitions.model import Metric
from xp.results.document import VariantRow
from xp.stats.sufficient import (
    ArmSummary,
    MeanStats,
    ProportionStats,
    RatioStats,
    finite_or_none,
)
from xp.store.model import SufficientStats


def arm(metric: Metric, stats: SufficientStats) -> ArmSummary:
    """The statistics engine's view of one variant's sums for ``metric``'s kind."""
    if metric.traits.has_denominator:
        return RatioStats(
            stats.n,
            stats.sum,
            stats.sum_squares,
            stats.den_sum,
            stats.den_sum_squares,
            stats.sum_product,
        )
    return mean_arm(metric, stats)


def mean_arm(metric: Metric, stats: SufficientStats) -> MeanStats | ProportionStats:
    """The arm of a non-ratio metric (CUPED adjusts these)."""
    if metric.traits.proportion:
        return ProportionStats(stats.n, stats.sum)
    return MeanStats(stats.n, stats.sum, stats.sum_squares)


def variant_rows(
    stats: Mapping[str, SufficientStats], arms: Mapping[str, ArmSummary]
) -> tuple[VariantRow, ...]:
    return tuple(_variant_row(v, stats.get(v, SufficientStats()), a) for v, a in arms.items())


def _variant_row(variant: str, stats: SufficientStats, summary: ArmSummary) -> VariantRow:
    moments = summary.moments()
    return VariantRow(
        variant=variant,
        units=stats.n,
        sum=stats.sum,
        mean=finite_or_none(moments.mean),
        sd=finite_or_none(math.sqrt(moments.variance)) if moments.variance >= 0 else None,
        denominator_sum=stats.den_sum if isinstance(summary, RatioStats) else None,
    )
