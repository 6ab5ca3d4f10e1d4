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
