"""The one rule for ``insufficient_data``: when a comparison can support a verdict at all.

Every test here (Welch t and delta method, the asymptotic confidence sequence, CUPED, ratio
metrics) rests on a normal approximation of each arm's mean with a *plug-in* variance. That
approximation fails, silently, on degenerate data: a variance estimated as 0 gives a
standard error of 0 and so p = 0 (0/8 conversions is "certain"), a control mean of 0 leaves
the relative lift undefined, and a handful of units or conversions gives a variance estimate
too noisy to use. A comparison is **insufficient** when, in either arm:

- it has fewer than :data:`MIN_UNITS` units, or its mean or variance is not finite;
- its variance estimate is 0 (all units equal: the delta method has nothing to work with);
- for a 0/1 metric, it has fewer than :data:`MIN_OUTCOMES` conversions *or* fewer than
  :data:`MIN_OUTCOMES` non-conversions: the classical condition ``n p >= 5`` and
  ``n (1 - p) >= 5`` for the normal approximation of the binomial (e.g. Agresti & Coull
  1998; Brown, Cai & DasGupta 2001 show coverage degrades below it);

or when the control's (unadjusted) mean is 0, where the relative lift has no denominator.

For a metric without that outcome condition (counts, sums, ratios), the **relative** scale
alone goes untested while the control's mean is too imprecise to divide by: its 95%
half-width is half its size or more (Fieller's ``g = (z se / mean)^2 >= 1/4``), where the
delta method's interval for a ratio of means stops holding. The absolute scale is still
tested, and the verdict reads it (``LiftResult.tested_scale``); the relative lift shows its
estimate only. (Frequentist and sequential tests; the Bayesian posterior is unchanged: not
measured there yet.) Without the rule, a heavy-tailed count tested from one or two active units
per arm excluded 0 on the relative scale at some daily look in 14.6% of A/A launches; with
it 5.0% (alpha 5%, ``tests/stats/test_sequential_coverage.py``).

An insufficient comparison reports its observed difference but no standard error, interval
or p-value, on both scales (``reason: insufficient_data``); decisions never ship on it nor
call a guardrail breached, and a sequential series skips it in its running minimum.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xp.stats.sufficient import ArmMoments

INSUFFICIENT_DATA = "insufficient_data"
# Units per arm below which no variance estimate is trusted.
MIN_UNITS = 10
# Conversions, and non-conversions, per arm of a 0/1 metric (n p >= 5, n (1 - p) >= 5).
MIN_OUTCOMES = 5


# The control mean's half-width, at this z, must stay under this share of the mean for the
# relative lift of a metric without an outcome condition to be tested (Fieller's g < 1/4).
REFERENCE_Z = 1.96
MAX_REFERENCE_HALFWIDTH = 0.5


def precise_references(
    n: ArrayLike,
    reference_mean: ArrayLike,
    variance: ArrayLike,
    minority_count: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Which control arms (elementwise) have a mean precise enough to divide by:
    ``REFERENCE_Z * sqrt(variance / n) < MAX_REFERENCE_HALFWIDTH * |mean|``; a 0/1 metric's
    (``minority_count`` not ``nan``) always."""
    nn = np.asarray(n, dtype=np.float64)
    m = np.asarray(reference_mean, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = REFERENCE_Z * np.sqrt(v / nn) < MAX_REFERENCE_HALFWIDTH * np.abs(m)
        if minority_count is not None:
            ok |= ~np.isnan(np.asarray(minority_count, dtype=np.float64))
    return np.asarray(ok, dtype=np.bool_)


def precise_reference(control: ArmMoments) -> bool:
    """:func:`precise_references` of one control arm."""
    minority = np.nan if control.minority_count is None else control.minority_count
    return bool(precise_references(control.n, control.reference_mean, control.variance, minority))


def sufficient_arms(
    n: ArrayLike,
    mean: ArrayLike,
    variance: ArrayLike,
    minority_count: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Which arms (elementwise) pass the per-arm part of the rule.

    ``minority_count`` is, for a 0/1 metric, the smaller of conversions and non-conversions
    (``nan`` or ``None`` for other metrics: no outcome condition).
    """
    nn = np.asarray(n, dtype=np.float64)
    m = np.asarray(mean, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = (nn >= MIN_UNITS) & np.isfinite(m) & np.isfinite(v) & (v > 0)
        if minority_count is not None:
            k = np.asarray(minority_count, dtype=np.float64)
            ok &= np.isnan(k) | (k >= MIN_OUTCOMES)
    return np.asarray(ok, dtype=np.bool_)


def insufficiency(control: ArmMoments, treatment: ArmMoments) -> str | None:
    """``insufficient_data`` when the comparison of these arms supports no verdict, else None."""
    arms = (control, treatment)
    per_arm = sufficient_arms(
        [a.n for a in arms],
        [a.reference_mean for a in arms],
        [a.variance for a in arms],
        [np.nan if a.minority_count is None else a.minority_count for a in arms],
    )
    means_finite = all(np.isfinite(a.mean) for a in arms)
    if not (per_arm.all() and means_finite) or control.reference_mean == 0:
        return INSUFFICIENT_DATA
    return None
