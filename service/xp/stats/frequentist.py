"""Fixed-horizon lift: Welch t-test on the difference, delta method on the relative lift.

The kernels (:func:`difference_moments`, :func:`welch_df`, :func:`relative_variance`,
:func:`t_interval`) take numpy arrays so simulations can run thousands of experiments at once;
:func:`lift_moments` and :func:`frequentist_lift` are the per-comparison API, with the
``insufficient_data`` reason of ``sufficiency.py`` for degenerate data;
:func:`frequentist_result` draws the intervals of moments computed elsewhere (CUPED). The
sequential test (``sequential.py``) reuses :func:`lift_moments`.

Reference (gbstats ``tests/frequentist/test_tests.py``, A n=3407 sum=1396.87
sum_squares=52377.9767, B n=3461 sum=2422.7 sum_squares=134698.29): absolute 0.29,
CI (0.04538, 0.53462), p 0.02016; relative 0.70732 (se 0.37879), CI (-0.03526, 1.44989),
p 0.06191.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from xp.stats.sufficiency import INSUFFICIENT_DATA, insufficiency, precise_reference
from xp.stats.sufficient import NAN, ArmMoments, ArmSummary, finite_or_none

FloatArray = NDArray[np.float64]


def _array(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")


# --- vectorised kernels -------------------------------------------------------------------


def welch_df(
    var_control: ArrayLike, n_control: ArrayLike, var_treatment: ArrayLike, n_treatment: ArrayLike
) -> FloatArray:
    """Welch–Satterthwaite degrees of freedom of the difference of two means."""
    vc, nc = _array(var_control), _array(n_control)
    vt, nt = _array(var_treatment), _array(n_treatment)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = vt / nt
        c = vc / nc
        # Welch 1947, Satterthwaite 1946: (a + c)^2 / (a^2/(n_t-1) + c^2/(n_c-1))
        return _array((a + c) ** 2 / (a**2 / (nt - 1) + c**2 / (nc - 1)))


def relative_variance(
    mean_control: ArrayLike,
    var_control: ArrayLike,
    n_control: ArrayLike,
    mean_treatment: ArrayLike,
    var_treatment: ArrayLike,
    n_treatment: ArrayLike,
) -> FloatArray:
    """Delta-method variance of ``(mT - mC) / |mC|`` (means are the relative-lift references;
    the sign of ``mC`` is a constant factor, so the variance is that of ``(mT - mC) / mC``)."""
    mc, vc, nc = _array(mean_control), _array(var_control), _array(n_control)
    mt, vt, nt = _array(mean_treatment), _array(var_treatment), _array(n_treatment)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # delta method for a ratio of independent means: sT^2/(nT mC^2) + sC^2 mT^2/(nC mC^4)
        # (gbstats utils.variance_of_ratios with zero covariance; Deng, Knoblich & Lu 2018)
        return _array(vt / (nt * mc**2) + vc * mt**2 / (nc * mc**4))


class DifferenceMoments(NamedTuple):
    """Absolute and relative lift with the variances of those estimates, and Welch df."""

    absolute: FloatArray
    absolute_variance: FloatArray
    relative: FloatArray
    relative_variance: FloatArray
    df: FloatArray


def difference_moments(
    mean_control: ArrayLike,
    var_control: ArrayLike,
    n_control: ArrayLike,
    mean_treatment: ArrayLike,
    var_treatment: ArrayLike,
    n_treatment: ArrayLike,
    reference_control: ArrayLike | None = None,
    reference_treatment: ArrayLike | None = None,
) -> DifferenceMoments:
    """Lift moments of many comparisons at once (no reason codes: ``nan``/``inf`` instead).

    ``reference_*`` are the relative-lift means (the unadjusted ones after CUPED), defaulting
    to the means. The relative lift uses the same absolute-scale Welch df as the absolute
    one: that is what gbstats' ``TwoSidedTTest`` does and what reproduces its published
    reference values (a df from the relative-scale variance terms gives CI (-0.03524,
    1.44987) instead of (-0.03526, 1.44989)).
    """
    mc, vc, nc = _array(mean_control), _array(var_control), _array(n_control)
    mt, vt, nt = _array(mean_treatment), _array(var_treatment), _array(n_treatment)
    rc = mc if reference_control is None else _array(reference_control)
    rt = mt if reference_treatment is None else _array(reference_treatment)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = mt - mc
        # variance of a difference of independent means: sC^2/nC + sT^2/nT
        abs_var = vc / nc + vt / nt
        # over |mC|, as gbstats divides since GrowthBook #6658: a signed mean would flip
        # the lift's sign when the control mean is negative, and the verdict with it
        rel = diff / np.abs(rc)
    return DifferenceMoments(
        absolute=_array(diff),
        absolute_variance=_array(abs_var),
        relative=_array(rel),
        relative_variance=relative_variance(rc, vc, nc, rt, vt, nt),
        df=welch_df(vc, nc, vt, nt),
    )


def t_interval(
    estimate: ArrayLike, variance: ArrayLike, df: ArrayLike, alpha: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Two-sided ``1 - alpha`` t interval and p-value for H0: effect = 0.

    Returns ``(ci_low, ci_high, p_value)``; ``df = inf`` gives the normal interval.
    """
    est, var, dof = _array(estimate), _array(variance), _array(df)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se = np.sqrt(var)
        width = sps.t.ppf(1.0 - alpha / 2.0, dof) * se
        # two-sided p = 2 P(T_df > |t|), t = estimate / se
        p = 2.0 * sps.t.sf(np.abs(est / se), dof)
    return _array(est - width), _array(est + width), _array(p)


# --- per-comparison API -------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """One effect on one scale; ``None`` where it cannot be computed."""

    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None

    @classmethod
    def of(cls, estimate: float, se: float, ci_low: float, ci_high: float, p: float) -> Estimate:
        return cls(*(finite_or_none(float(v)) for v in (estimate, se, ci_low, ci_high, p)))

    @classmethod
    def point(cls, estimate: float) -> Estimate:
        """Only the observed effect: no interval (the data cannot support one)."""
        return cls(finite_or_none(estimate), None, None, None, None)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class LiftResult:
    """Absolute (``mT - mC``) and relative (``(mT - mC) / |mC|``) lift of one treatment: the
    two always have the same sign.

    ``reason`` is ``None`` when both scales are tested, else ``insufficient_data`` (the rule of
    ``sufficiency.py``): then both scales carry the observed effect only, no interval.
    """

    absolute: Estimate
    relative: Estimate
    control_mean: float | None
    treatment_mean: float | None
    method: str
    reason: str | None = None

    @property
    def p_value(self) -> float | None:
        """The p-value decisions use: the relative one (it matches the relative CI that
        reports quote), the absolute one where the relative lift is undefined."""
        if self.relative.p_value is not None:
            return self.relative.p_value
        return self.absolute.p_value

    @property
    def tested_scale(self) -> str | None:
        """The scale :attr:`p_value` (and so the verdict) belongs to; ``None`` when untested."""
        return tested_scale(self.absolute, self.relative)

    def to_dict(self) -> dict[str, Any]:
        return {
            "absolute": self.absolute.to_dict(),
            "relative": self.relative.to_dict(),
            "reason": self.reason,
            "tested_scale": self.tested_scale,
        }


def tested_scale(absolute: Estimate, relative: Estimate) -> str | None:
    """``relative`` when the relative lift has a p-value, else ``absolute`` when that has one:
    the scale a verdict reads (the two can disagree: docs/results.md)."""
    if relative.p_value is not None:
        return "relative"
    return "absolute" if absolute.p_value is not None else None


@dataclass(frozen=True)
class Effect:
    """A point estimate and the variance of that estimate (``nan`` when undefined)."""

    estimate: float
    variance: float


@dataclass(frozen=True)
class LiftMoments:
    """Everything a test needs about one comparison, before an interval is drawn.

    ``reason`` is ``insufficient_data`` when no interval may be drawn (variances are ``nan``).
    ``relative_tested`` is False when the control mean is too imprecise for the delta
    method's relative interval (``sufficiency.precise_reference``): the frequentist and
    sequential tests then draw the absolute scale only.
    """

    control: ArmMoments
    treatment: ArmMoments
    absolute: Effect
    relative: Effect
    df: float
    reason: str | None
    relative_tested: bool = True

    @property
    def n_total(self) -> float:
        return self.control.n + self.treatment.n


def lift_moments(control: ArmSummary, treatment: ArmSummary) -> LiftMoments:
    """Point estimates, their variances and Welch df of the absolute and relative lift,
    with the reason code that stops them from being tested."""
    c, t = control.moments(), treatment.moments()
    k = difference_moments(
        c.mean, c.variance, c.n, t.mean, t.variance, t.n, c.reference_mean, t.reference_mean
    )
    rel = float(k.relative) if c.reference_mean != 0 else NAN
    return checked_moments(
        c,
        t,
        Effect(float(k.absolute), float(k.absolute_variance)),
        Effect(rel, float(k.relative_variance)),
        float(k.df),
    )


def checked_moments(
    control: ArmMoments, treatment: ArmMoments, absolute: Effect, relative: Effect, df: float
) -> LiftMoments:
    """The moments of one comparison with the insufficiency rule applied: an insufficient
    comparison (or one whose variances came out non-positive) keeps its point estimates and
    loses its variances and df."""
    reason = insufficiency(control, treatment)
    variances = (absolute.variance, relative.variance)
    if reason is None and not all(math.isfinite(v) and v > 0 for v in variances):
        reason = INSUFFICIENT_DATA
    if reason is not None:
        absolute, relative = Effect(absolute.estimate, NAN), Effect(relative.estimate, NAN)
        df = NAN
    tested = reason is None and precise_reference(control)
    return LiftMoments(control, treatment, absolute, relative, df, reason, tested)


def frequentist_lift(control: ArmSummary, treatment: ArmSummary, alpha: float = 0.05) -> LiftResult:
    """Two-sided Welch t-test and ``1 - alpha`` intervals for the absolute and relative lift."""
    return frequentist_result(lift_moments(control, treatment), alpha)


def frequentist_result(m: LiftMoments, alpha: float = 0.05) -> LiftResult:
    """The Welch t intervals and p-values of already computed moments (CUPED's included)."""
    check_alpha(alpha)
    return LiftResult(
        absolute=_t_estimate(m.absolute, m.df, alpha, m.reason),
        relative=_t_estimate(m.relative, m.df, alpha, m.reason, m.relative_tested),
        control_mean=finite_or_none(m.control.mean),
        treatment_mean=finite_or_none(m.treatment.mean),
        method="frequentist",
        reason=m.reason,
    )


def _t_estimate(
    effect: Effect, df: float, alpha: float, reason: str | None, tested: bool = True
) -> Estimate:
    if reason is not None or not tested:
        return Estimate.point(effect.estimate)
    low, high, p = t_interval(effect.estimate, effect.variance, df, alpha)
    return Estimate.of(
        effect.estimate, math.sqrt(effect.variance), float(low), float(high), float(p)
    )
