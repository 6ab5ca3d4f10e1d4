"""The daily looks at one metric: its results on what was observable at the end of each day.

A look is the store's snapshot of the experiment's cumulative statistics at a UTC day boundary
(the last one: the current totals), never a recomputation from today's data, so a look once
taken does not change when the report is built again (docs/stats.md, "Looks").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xp.definitions.model import Metric
from xp.results.arms import arm
from xp.results.document import Band, SeriesPoint
from xp.stats.bayesian import GaussianPrior, bayesian_result, readings
from xp.stats.frequentist import Estimate, LiftResult, frequentist_lift, lift_moments
from xp.stats.sequential import sequential_series
from xp.store.model import Slice, SufficientStats


@dataclass(frozen=True, slots=True)
class Looks:
    """The daily looks at one metric: dates, cumulative units, each treatment's results."""

    control: str
    dates: tuple[str, ...]
    units: tuple[dict[str, int], ...]
    results: dict[str, list[LiftResult]]
    direction: str = "increase"  # the metric's, which a chance to win reads

    def points(self) -> tuple[SeriesPoint, ...]:
        """The series: one point per (treatment, day)."""
        return tuple(
            SeriesPoint(
                date=date,
                variant=variant,
                units=n[variant],
                control_units=n[self.control],
                relative=_band(result.relative),
                absolute=_band(result.absolute),
                p_value=result.p_value,
                reason=result.reason,
                chance_to_win=_chance_to_win(result, self.direction),
            )
            for variant, results in self.results.items()
            for date, n, result in zip(self.dates, self.units, results, strict=True)
        )


def _band(estimate: Estimate) -> Band:
    return Band(estimate.estimate, estimate.ci_low, estimate.ci_high)


def _chance_to_win(result: LiftResult, direction: str) -> float | None:
    """A Bayesian look's chance to win; none for other methods or insufficient data."""
    if result.method != "bayesian" or result.reason:
        return None
    posterior = readings(result.relative, direction)
    return None if posterior is None else posterior["chance_to_win"]


def daily_looks(
    metric: Metric,
    looks: Mapping[str, Slice],
    variants: Sequence[str],
    method: str,
    alpha: float,
    tuning: float,
    prior: GaussianPrior | None = None,
) -> Looks:
    """Each treatment's result at each look (``ExperimentData.looks``, oldest first), against
    the first of ``variants``. Sequentially each look carries, on the absolute scale, the
    running minimum p-value and the running intersection of the intervals over the looks so
    far, and on the relative scale its own confidence sequence (``sequential_series``).
    A Bayesian look is that day's posterior under ``prior`` (flat when none), with its
    credible interval and chance to win; an insufficient look has neither."""
    control, treatments = variants[0], variants[1:]
    dates = tuple(looks)
    arms = []
    units = []
    for date in dates:
        stats = looks[date].metrics.get(metric.name, {})
        per_variant = {v: stats.get(v, SufficientStats()) for v in variants}
        arms.append({v: arm(metric, s) for v, s in per_variant.items()})
        units.append({v: int(looks[date].units.get(v, 0)) for v in variants})
    results = {}
    for variant in treatments:
        pairs = [(at[control], at[variant]) for at in arms]
        if method == "sequential":
            results[variant] = sequential_series(pairs, alpha, tuning)
        elif method == "bayesian":
            flat = prior or GaussianPrior()
            results[variant] = [bayesian_result(lift_moments(c, t), alpha, flat) for c, t in pairs]
        else:
            results[variant] = [frequentist_lift(c, t, alpha) for c, t in pairs]
    return Looks(control, dates, tuple(units), results, metric.direction)
