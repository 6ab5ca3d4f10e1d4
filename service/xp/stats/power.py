"""Sample size, minimum detectable effect and time to decision for a fixed-horizon test.

Normal approximation to the two-sided Welch test of the absolute difference (Chow, Shao &
Wang 2008, "Sample Size Calculations in Clinical Research", secs. 3.2 and 4.2, unpooled
variances). The MDE is relative to the control's mean. With more than two variants each
treatment is compared with the control at ``alpha / (variants - 1)`` (Bonferroni), a
conservative stand-in for the Holm correction applied to the results.
"""

from __future__ import annotations

import math

from scipy import optimize
from scipy import stats as sps

from xp.stats.frequentist import check_alpha


def _z_sum(alpha: float, power: float, variants: int) -> float:
    check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, got {power!r}")
    if variants < 2:
        raise ValueError(f"an experiment needs at least 2 variants, got {variants!r}")
    per_test = alpha / (variants - 1)
    return float(sps.norm.ppf(1.0 - per_test / 2.0) + sps.norm.ppf(power))


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def sample_size_proportion(
    baseline_rate: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
) -> int:
    """Units per variant to detect a relative lift ``mde`` on a conversion rate."""
    if not 0.0 < baseline_rate < 1.0:
        raise ValueError(f"baseline_rate must be strictly between 0 and 1, got {baseline_rate!r}")
    _check_positive("mde", abs(mde))
    treated = baseline_rate * (1.0 + mde)
    if not 0.0 < treated < 1.0:
        raise ValueError(f"a lift of {mde!r} moves the rate {baseline_rate!r} outside (0, 1)")
    z = _z_sum(alpha, power, variants)
    delta = treated - baseline_rate
    # n = (z_{1-a/2} + z_{1-b})^2 (p1 q1 + p2 q2) / delta^2, Chow et al. 2008 sec. 4.2
    spread = baseline_rate * (1 - baseline_rate) + treated * (1 - treated)
    return math.ceil(z**2 * spread / delta**2)


def sample_size_mean(
    baseline_mean: float,
    baseline_sd: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
) -> int:
    """Units per variant to detect a relative lift ``mde`` on a mean with standard deviation
    ``baseline_sd`` in both arms."""
    _check_positive("abs(baseline_mean)", abs(baseline_mean))
    _check_positive("baseline_sd", baseline_sd)
    _check_positive("abs(mde)", abs(mde))
    z = _z_sum(alpha, power, variants)
    delta = baseline_mean * mde
    # n = (z_{1-a/2} + z_{1-b})^2 2 sd^2 / delta^2, Chow et al. 2008 sec. 3.2
    return math.ceil(z**2 * 2.0 * baseline_sd**2 / delta**2)


def mde_mean(
    baseline_mean: float,
    baseline_sd: float,
    n_per_variant: float,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
) -> float:
    """Smallest relative lift on a mean detectable with ``n_per_variant`` units per arm."""
    _check_positive("abs(baseline_mean)", abs(baseline_mean))
    _check_positive("baseline_sd", baseline_sd)
    _check_positive("n_per_variant", n_per_variant)
    z = _z_sum(alpha, power, variants)
    # the sample-size formula solved for delta, divided by the baseline
    return z * baseline_sd * math.sqrt(2.0 / n_per_variant) / abs(baseline_mean)


def mde_proportion(
    baseline_rate: float,
    n_per_variant: float,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    decrease: bool = False,
) -> float | None:
    """Smallest relative increase of a conversion rate detectable with ``n_per_variant``
    units per arm (with ``decrease``, the smallest relative drop, as a positive fraction);
    ``None`` when even a rate of 1 (of 0) could not be told apart."""
    if not 0.0 < baseline_rate < 1.0:
        raise ValueError(f"baseline_rate must be strictly between 0 and 1, got {baseline_rate!r}")
    _check_positive("n_per_variant", n_per_variant)
    z = _z_sum(alpha, power, variants)
    p = baseline_rate
    sign = -1.0 if decrease else 1.0

    def shortfall(lift: float) -> float:
        # n needed at this lift minus n available; decreasing in lift
        treated = p * (1.0 + sign * lift)
        spread = p * (1 - p) + treated * (1 - treated)
        return z**2 * spread / (treated - p) ** 2 - n_per_variant

    # the binomial variance is not symmetric: a drop to 0 and a rise to 1 differ
    top = 1.0 if decrease else (1.0 - p) / p  # the lift that takes the rate to 0 (to 1)
    if shortfall(top) > 0:
        return None
    return float(optimize.brentq(shortfall, 1e-12, top, xtol=1e-12))


def days_to_reach(target_units: float, current_units: float, daily_units: float) -> int | None:
    """Whole days until ``target_units`` at ``daily_units`` a day (0 when already there,
    ``None`` with no traffic). Count all variants' units together on every side."""
    if current_units >= target_units:
        return 0
    if not daily_units > 0:
        return None
    return math.ceil((target_units - current_units) / daily_units)
