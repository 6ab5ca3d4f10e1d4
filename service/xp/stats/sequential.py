"""Always-valid lift: the asymptotic confidence sequence of Waudby-Smith et al. (2023).

Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas, "Time-uniform central limit theory and
asymptotic confidence sequences", arXiv:2103.06476 (v7). As in gbstats'
``SequentialTwoSidedTTest``, the per-observation variance is the variance of the estimate
times the total sample ``N = nC + nT``, and the mixing parameter ``rho`` is tuned so the
sequence is tightest at ``N*`` (the planned total sample, default 5,000).

The interval may be looked at after every unit and still covers the true lift at all times
with probability ``1 - alpha``; the p-value is the smallest level whose sequence (same
``rho``) excludes 0, so ``p < alpha`` exactly when the interval excludes 0, and the running
minimum over looks stays valid.

Reference (gbstats ``tests/frequentist/test_tests.py::TestSequentialTTest``): A n=3000
sum=1396.87 sum_squares=52377.9767, B n=3461 sum=2422.7 sum_squares=134698.29, N*=1000:
relative 0.50336 (se 0.33341), CI (-0.55844, 1.56516), p 1; proportions A 1396/3000,
B 2422/3461, N*=5000: relative 0.50386 (se 0.03386), CI (0.40098, 0.60675), p 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from xp.stats.frequentist import (
    Effect,
    Estimate,
    FloatArray,
    LiftMoments,
    LiftResult,
    check_alpha,
    lift_moments,
)
from xp.stats.sufficient import ArmSummary, finite_or_none

DEFAULT_TUNING = 5000.0


def _check_tuning(tuning: float) -> None:
    if not tuning > 0:
        raise ValueError(f"sequential tuning N* must be positive, got {tuning!r}")


def sequential_rho(alpha: float, tuning: float = DEFAULT_TUNING) -> float:
    """Mixing parameter that makes the two-sided sequence tightest at ``N* = tuning``."""
    check_alpha(alpha)
    _check_tuning(tuning)
    log_alpha = math.log(alpha)
    # eq 161 in Waudby-Smith et al. 2023: rho = sqrt((-2 ln a + ln(-2 ln a + 1)) / N*)
    return math.sqrt((-2.0 * log_alpha + math.log(-2.0 * log_alpha + 1.0)) / tuning)


def cs_halfwidth(
    variance: ArrayLike, n_total: ArrayLike, alpha: float, tuning: float = DEFAULT_TUNING
) -> FloatArray:
    """Half-width of the ``1 - alpha`` confidence sequence for an estimate of ``variance``."""
    rho = sequential_rho(alpha, tuning)
    n = np.asarray(n_total, dtype=np.float64)
    s2 = np.asarray(variance, dtype=np.float64) * n  # per-observation variance
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        nr2 = n * rho**2
        # eq 9 in Waudby-Smith et al. 2023:
        # sqrt(s2) * sqrt(2 (N rho^2 + 1) / (N^2 rho^2) * log(sqrt(N rho^2 + 1) / alpha))
        return np.asarray(
            np.sqrt(s2 * 2.0 * (nr2 + 1.0) / (n * nr2) * np.log(np.sqrt(nr2 + 1.0) / alpha)),
            dtype=np.float64,
        )


def always_valid_p_value(
    estimate: ArrayLike,
    variance: ArrayLike,
    n_total: ArrayLike,
    alpha: float,
    tuning: float = DEFAULT_TUNING,
) -> FloatArray:
    """Smallest level at which the sequence (``rho`` fixed by ``alpha`` and ``N*``) excludes 0.

    Closed form: solving ``cs_halfwidth = |estimate|`` for the level gives
    ``min(1, sqrt(N rho^2 + 1) exp(-rho^2 N z^2 / (2 (N rho^2 + 1))))`` with ``z^2 =
    estimate^2 / variance``: the reciprocal of the mixture e-value of eq 155 in
    Waudby-Smith et al. 2023 (as gbstats' ``SequentialTwoSidedTTest.p_value``).
    """
    rho = sequential_rho(alpha, tuning)
    est = np.asarray(estimate, dtype=np.float64)
    var = np.asarray(variance, dtype=np.float64)
    n = np.asarray(n_total, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tr2p1 = n * rho**2 + 1.0
        z2 = est**2 / var
        log_p = 0.5 * np.log(tr2p1) - rho**2 * n * z2 / (2.0 * tr2p1)
        return np.asarray(np.exp(np.minimum(log_p, 0.0)), dtype=np.float64)


def running_minimum(p_values: ArrayLike) -> FloatArray:
    """Running minimum along the last axis (looks); a ``nan`` look leaves the minimum as is."""
    p = np.asarray(p_values, dtype=np.float64)
    return np.asarray(np.fmin.accumulate(p, axis=-1), dtype=np.float64)


def sequential_lift(
    control: ArmSummary,
    treatment: ArmSummary,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> LiftResult:
    """Always-valid ``1 - alpha`` intervals and p-values for the absolute and relative lift."""
    return sequential_result(lift_moments(control, treatment), alpha, tuning)


def sequential_result(
    m: LiftMoments, alpha: float = 0.05, tuning: float = DEFAULT_TUNING
) -> LiftResult:
    """The confidence sequences and p-values of already computed moments (CUPED's included)."""
    check_alpha(alpha)
    _check_tuning(tuning)

    def estimate(effect: Effect, tested: bool = True) -> Estimate:
        if m.reason is not None or not tested:
            return Estimate.point(effect.estimate)
        half = float(cs_halfwidth(effect.variance, m.n_total, alpha, tuning))
        p = float(always_valid_p_value(effect.estimate, effect.variance, m.n_total, alpha, tuning))
        low, high = effect.estimate - half, effect.estimate + half
        return Estimate.of(effect.estimate, math.sqrt(effect.variance), low, high, p)

    return LiftResult(
        absolute=estimate(m.absolute),
        relative=estimate(m.relative, m.relative_tested),
        control_mean=finite_or_none(m.control.mean),
        treatment_mean=finite_or_none(m.treatment.mean),
        method="sequential",
        reason=m.reason,
    )


def sequential_series(
    looks: Iterable[tuple[ArmSummary, ArmSummary]],
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> list[LiftResult]:
    """Sequential results at each look (cumulative stats per day, in order).

    **Absolute scale**: each look's ``p_value`` is the running minimum over the looks so far
    and its interval the running intersection of the intervals so far. Both stay valid
    because the sequence holds at all times at once (Howard et al. 2021), and they stay
    consistent: the p-value is below ``alpha`` exactly when some look's interval, hence the
    intersection, excluded 0. An empty intersection (the estimates moved further than any
    interval allowed: an earlier look's normal approximation was wrong) restarts the running
    state from the current look, its p-value included, so the p-value and interval still agree.

    **Relative scale**: each look reports its own confidence sequence and p-value, with no
    running intersection or minimum. The delta-method variance of a ratio is poor at the
    early looks of a launch (few conversions, a noisy control mean in the denominator), and
    an intersection lets one such look fix a bound for good: the interval then excludes its
    own estimate and the true lift (issue 10). The current look's sequence is valid at every
    look on its own (Waudby-Smith et al. 2023, eq 9), so "ever excludes 0" still happens with
    probability at most ``alpha``; the price is that a relative result may stop being
    significant at a later look.

    An insufficient look (``reason`` set: a zero variance, a zero control mean, too few units
    or conversions) is reported as it is, with no p-value and no interval, and takes no part
    in the running minimum or intersection: its p = 0 would otherwise stick for good.
    """
    out = []
    absolute: Estimate | None = None
    for control, treatment in looks:
        result = sequential_lift(control, treatment, alpha, tuning)
        if result.reason is not None:
            out.append(result)
            continue
        absolute = _narrowed(absolute, result.absolute)
        out.append(replace(result, absolute=absolute))
    return out


def _narrowed(before: Estimate | None, now: Estimate) -> Estimate:
    """``now`` (a tested look) with the running minimum p-value and the running
    intersection interval of the tested looks before it."""
    if before is None:
        return now
    p = _min(before.p_value, now.p_value)
    if now.ci_low is None or now.ci_high is None:
        return replace(now, ci_low=before.ci_low, ci_high=before.ci_high, p_value=p)
    low, high = now.ci_low, now.ci_high
    if before.ci_low is not None and before.ci_high is not None:
        low, high = max(low, before.ci_low), min(high, before.ci_high)
        if low > high:
            return now  # restart from this look: its interval goes with its own p-value
    return replace(now, ci_low=low, ci_high=high, p_value=p)


def _min(best: float | None, p: float | None) -> float | None:
    if p is None:
        return best
    return p if best is None else min(best, p)
