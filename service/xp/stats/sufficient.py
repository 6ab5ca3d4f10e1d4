"""Sufficient statistics of one arm, and the moments every test reads from them.

Each statistic is a frozen dataclass of sums that add across days, shards and segments
(``n, sum, sum_squares`` as in GrowthBook's gbstats). ``moments()`` turns one into
:class:`ArmMoments` (units, mean, per-unit variance), the only thing the tests look at, so
a CUPED-adjusted arm enters the same formulas as a raw one. Degenerate sums (``n <= 1``,
a zero denominator, rounding that makes a variance slightly negative) give ``nan`` or ``0.0``,
never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

NAN = float("nan")


@dataclass(frozen=True)
class ArmMoments:
    """Units, mean and per-unit variance of one arm.

    ``unadjusted_mean`` is the arm's raw mean when ``mean`` has been adjusted (CUPED): relative
    lift divides by it, as gbstats does (``RegressionAdjustedStatistic.unadjusted_mean``).
    ``minority_count`` is, for a 0/1 metric, the smaller of conversions and non-conversions
    (what the normal approximation needs enough of, ``sufficiency.py``); ``None`` otherwise.
    """

    n: float
    mean: float
    variance: float
    unadjusted_mean: float | None = None
    minority_count: float | None = None

    @property
    def reference_mean(self) -> float:
        """The mean relative lift is measured against."""
        return self.mean if self.unadjusted_mean is None else self.unadjusted_mean

    def moments(self) -> ArmMoments:
        return self


def _sample_variance(n: float, total: float, total_squares: float) -> float:
    # unbiased sample variance from sums: (sum x^2 - (sum x)^2 / n) / (n - 1)
    if n <= 1:
        return NAN
    return max((total_squares - total * total / n) / (n - 1), 0.0)


def _sample_covariance(n: float, sum_x: float, sum_y: float, sum_xy: float) -> float:
    # unbiased sample covariance from sums: (sum xy - sum x * sum y / n) / (n - 1)
    if n <= 1:
        return NAN
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


@dataclass(frozen=True)
class MeanStats:
    """A metric averaged over units: count, sum and sum of squares."""

    n: float
    sum: float
    sum_squares: float

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else NAN

    @property
    def variance(self) -> float:
        """Sample variance (divisor ``n - 1``); ``nan`` below two units."""
        return _sample_variance(self.n, self.sum, self.sum_squares)

    def moments(self) -> ArmMoments:
        return ArmMoments(self.n, self.mean, self.variance)


@dataclass(frozen=True)
class ProportionStats:
    """A 0/1 metric: units and how many of them converted."""

    n: float
    sum: float

    @property
    def sum_squares(self) -> float:
        return self.sum  # x^2 = x for 0/1 values

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else NAN

    @property
    def variance(self) -> float:
        """Bernoulli variance ``p (1 - p)`` (gbstats ``ProportionStatistic.variance``)."""
        p = self.mean
        return p * (1.0 - p) if self.n > 0 else NAN

    def moments(self) -> ArmMoments:
        minority = min(self.sum, self.n - self.sum)
        return ArmMoments(self.n, self.mean, self.variance, minority_count=minority)


@dataclass(frozen=True)
class RatioStats:
    """A ratio of two per-unit sums (revenue per order, clicks per session).

    The unit of randomisation is the unit of ``n``; numerator and denominator are summed per
    unit, so their covariance (``sum_product``) matters.
    """

    n: float
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    sum_product: float

    @property
    def mean(self) -> float:
        return self.num_sum / self.den_sum if self.den_sum != 0 else NAN

    @property
    def variance(self) -> float:
        """Per-unit delta-method variance of the ratio; ``nan`` when undefined.

        Var(M/D) ~ var_m/mu_d^2 - 2 cov mu_m/mu_d^3 + mu_m^2 var_d/mu_d^4, the delta method
        for a ratio of means (Deng, Knoblich & Lu 2018; gbstats ``RatioStatistic``).
        """
        if self.n <= 1 or self.den_sum == 0:
            return NAN
        mu_m = self.num_sum / self.n
        mu_d = self.den_sum / self.n
        var_m = _sample_variance(self.n, self.num_sum, self.num_sum_squares)
        var_d = _sample_variance(self.n, self.den_sum, self.den_sum_squares)
        cov = _sample_covariance(self.n, self.num_sum, self.den_sum, self.sum_product)
        try:
            variance = var_m / mu_d**2 - 2 * cov * mu_m / mu_d**3 + mu_m**2 * var_d / mu_d**4
        except (OverflowError, ZeroDivisionError):  # float powers raise instead of giving inf
            return NAN
        return max(variance, 0.0) if math.isfinite(variance) else NAN

    def moments(self) -> ArmMoments:
        return ArmMoments(self.n, self.mean, self.variance)


@dataclass(frozen=True)
class CovariateStats:
    """Pre-period covariate sums for CUPED, paired with the same units' :class:`MeanStats`.

    ``sum_x`` and ``sum_x2`` are the covariate's sum and sum of squares, ``sum_xy`` the sum of
    covariate times metric over the same ``n`` units.
    """

    sum_x: float
    sum_x2: float
    sum_xy: float

    def mean(self, n: float) -> float:
        return self.sum_x / n if n > 0 else NAN

    def variance(self, n: float) -> float:
        return _sample_variance(n, self.sum_x, self.sum_x2)

    def covariance(self, metric: MeanStats | ProportionStats) -> float:
        """Sample covariance of covariate and metric over the metric's units."""
        return _sample_covariance(metric.n, self.sum_x, metric.sum, self.sum_xy)


ArmSummary = MeanStats | ProportionStats | RatioStats | ArmMoments


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or ``None`` when it is ``nan`` or infinite (JSON has neither)."""
    return float(value) if math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples) as ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
