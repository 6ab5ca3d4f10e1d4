"""The daily looks at one metric: its results on the statistics cumulated day by day."""

from __future__ import annotations

from dataclasses import dataclass

from xp.results.document import Band, SeriesPoint
from xp.stats.frequentist import Estimate, LiftResult


@dataclass(frozen=True, slots=True)
class Looks:
    """The daily looks at one metric: dates, cumulative units, each treatment's results."""

    control: str
    dates: tuple[str, ...]
    units: tuple[dict[str, int], ...]
    results: dict[str, list[LiftResult]]

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
            )
            for variant, results in self.results.items()
            for date, n, result in zip(self.dates, self.units, results, strict=True)
        )


def _band(estimate: Estimate) -> Band:
    return Band(estimate.estimate, estimate.ci_low, estimate.ci_high)
