"""CUPED: variance reduction with a pre-period covariate (Deng, Xu, Kohavi & Walker 2013).

Each unit's metric ``y`` is replaced by ``y - theta (x - mean(x))`` with one ``theta`` for
all variants, so the adjustment cannot favour one of them. ``theta = cov(x, y) / var(x)``
over the pooled units of every variant, as gbstats' ``compute_theta`` does. The adjusted
arms come back as :class:`ArmMoments` (adjusted mean and variance, raw mean kept as the
relative-lift denominator), ready for ``frequentist_lift`` or ``sequential_lift``.

Those lift functions give the relative lift the *unadjusted* delta-method variance (with
adjusted variances), which is not what GrowthBook does. :func:`cuped_compare` computes one
control-treatment comparison as GrowthBook's current engine does: ``theta`` pooled over that
pair only, absolute lift on the adjusted means with variance ``vC*/nC + vT*/nT``, relative lift
``(mT* - mC*) / |mC|`` (``mC`` the raw control mean) with the regression-adjusted variance of
gbstats ``models/tests.py::frequentist_variance_relative_cuped`` (see
:func:`relative_variance_cuped`). With a real lift the two relative standard errors differ.

Reference (gbstats ``tests/frequentist/test_tests.py::test_sequential_test_runs_ra``):
post A n=3000 sum=1396.87 ss=52377.9767, B n=3461 sum=2422.7 ss=134698.29; pre A sum=16.87
ss=527.9767, B sum=22.7 ss=1348.29; sum_xy 1 and 1, pooled theta, N*=5000: relative 0.50338
(se 0.33341), CI (-0.50969, 1.51646).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from xp.stats.frequentist import (
    Effect,
    FloatArray,
    LiftMoments,
    checked_moments,
    lift_moments,
    welch_df,
)
from xp.stats.sufficient import (
    ArmMoments,
    CovariateStats,
    MeanStats,
    ProportionStats,
)

NO_COVARIATE = "no_covariate"
ZERO_COVARIATE_VARIANCE = "zero_covariate_variance"


def pooled_theta(
    n: ArrayLike, sum_y: ArrayLike, sum_x: ArrayLike, sum_x2: ArrayLike, sum_xy: ArrayLike
) -> FloatArray:
    """``cov(x, y) / var(x)`` over all units of the variants on the last axis."""
    nn = np.sum(np.asarray(n, dtype=np.float64), axis=-1)
    sy = np.sum(np.asarray(sum_y, dtype=np.float64), axis=-1)
    sx = np.sum(np.asarray(sum_x, dtype=np.float64), axis=-1)
    sxx = np.sum(np.asarray(sum_x2, dtype=np.float64), axis=-1)
    sxy = np.sum(np.asarray(sum_xy, dtype=np.float64), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # theta minimising Var(y - theta x): cov(x, y) / var(x) (Deng et al. 2013, sec. 3);
        # pooled over variants as in gbstats shared/models.compute_theta
        cov = sxy - sx * sy / nn
        var = sxx - sx * sx / nn
        return np.asarray(cov / var, dtype=np.float64)


def adjusted_mean_variance(
    mean_y: ArrayLike,
    var_y: ArrayLike,
    mean_x: ArrayLike,
    var_x: ArrayLike,
    cov_xy: ArrayLike,
    theta: ArrayLike,
    mean_x_pooled: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Per-unit mean and variance of ``y - theta (x - mean_x_pooled)``."""
    my, vy = np.asarray(mean_y, dtype=np.float64), np.asarray(var_y, dtype=np.float64)
    mx, vx = np.asarray(mean_x, dtype=np.float64), np.asarray(var_x, dtype=np.float64)
    cov, th = np.asarray(cov_xy, dtype=np.float64), np.asarray(theta, dtype=np.float64)
    # Var(Y - theta X) = var_y + theta^2 var_x - 2 theta cov(x, y) (Deng et al. 2013, sec. 3)
    variance = np.maximum(vy + th**2 * vx - 2.0 * th * cov, 0.0)
    mean = my - th * (mx - np.asarray(mean_x_pooled, dtype=np.float64))
    return np.asarray(mean, dtype=np.float64), np.asarray(variance, dtype=np.float64)


@dataclass(frozen=True)
class CupedResult:
    """Adjusted and raw arms (variant order) and the pooled ``theta``.

    ``reason`` is ``no_covariate`` or ``zero_covariate_variance`` when the arms came back
    unadjusted (``theta = 0``, ``arms == raw_arms``).
    """

    arms: tuple[ArmMoments, ...]
    raw_arms: tuple[ArmMoments, ...]
    theta: float
    reason: str | None = None

    def variance_reduction(self, treatment: int, control: int = 0) -> float:
        """``1 - Var(adjusted difference) / Var(raw difference)`` of one comparison; 0 when
        either is undefined."""
        adjusted = _difference_variance(self.arms[control], self.arms[treatment])
        raw = _difference_variance(self.raw_arms[control], self.raw_arms[treatment])
        if not (math.isfinite(adjusted) and math.isfinite(raw) and raw > 0):
            return 0.0
        return 1.0 - adjusted / raw


def _difference_variance(control: ArmMoments, treatment: ArmMoments) -> float:
    if control.n <= 0 or treatment.n <= 0:
        return math.nan
    return control.variance / control.n + treatment.variance / treatment.n


def cuped_adjust(
    metrics: Sequence[MeanStats | ProportionStats],
    covariates: Sequence[CovariateStats | None],
    theta: float | None = None,
) -> CupedResult:
    """CUPED-adjusted moments of every arm; unadjusted when a covariate is missing or flat.

    ``theta`` fixes the coefficient instead of estimating the pooled one.
    """
    if len(metrics) != len(covariates):
        raise ValueError(f"{len(metrics)} metrics but {len(covariates)} covariates")
    raw = tuple(m.moments() for m in metrics)
    present = [c for c in covariates if c is not None]
    if len(present) != len(covariates):
        return CupedResult(raw, raw, 0.0, NO_COVARIATE)

    n = np.array([m.n for m in metrics], dtype=np.float64)
    sum_x = np.array([c.sum_x for c in present], dtype=np.float64)
    sum_x2 = np.array([c.sum_x2 for c in present], dtype=np.float64)
    pooled_n = float(n.sum())
    pooled_var_x = CovariateStats(float(sum_x.sum()), float(sum_x2.sum()), 0.0).variance(pooled_n)
    if not (math.isfinite(pooled_var_x) and pooled_var_x > 0):
        return CupedResult(raw, raw, 0.0, ZERO_COVARIATE_VARIANCE)
    if theta is None:
        theta = float(
            pooled_theta(
                n,
                [m.sum for m in metrics],
                sum_x,
                sum_x2,
                [c.sum_xy for c in present],
            )
        )
    mean_x_pooled = float(sum_x.sum()) / pooled_n
    arms = []
    for metric, cov, arm in zip(metrics, present, raw, strict=True):
        mean, variance = adjusted_mean_variance(
            arm.mean,
            arm.variance,
            cov.mean(metric.n),
            cov.variance(metric.n),
            cov.covariance(metric),
            theta,
            mean_x_pooled,
        )
        arms.append(
            ArmMoments(
                arm.n,
                float(mean),
                float(variance),
                unadjusted_mean=arm.mean,
                minority_count=arm.minority_count,
            )
        )
    return CupedResult(tuple(arms), raw, theta)


def relative_variance_cuped(
    mean_control: ArrayLike,
    var_control: ArrayLike,
    cov_control: ArrayLike,
    var_x_control: ArrayLike,
    n_control: ArrayLike,
    mean_treatment: ArrayLike,
    var_adjusted_treatment: ArrayLike,
    n_treatment: ArrayLike,
    theta: ArrayLike,
) -> FloatArray:
    """Variance of ``(mT* - mC*) / mC`` as GrowthBook's engine computes it.

    ``mean_*`` are the raw (unadjusted) post-period means, ``var_control``/``cov_control``/
    ``var_x_control`` the control's raw metric variance, metric-covariate covariance and
    covariate variance, ``var_adjusted_treatment`` the treatment's ``Var(y - theta x)``.
    """
    mc, vc, cc = (np.asarray(a, dtype=np.float64) for a in (mean_control, var_control, cov_control))
    vxc, nc = np.asarray(var_x_control, dtype=np.float64), np.asarray(n_control, dtype=np.float64)
    mt = np.asarray(mean_treatment, dtype=np.float64)
    vt, nt = np.asarray(var_adjusted_treatment, dtype=np.float64), np.asarray(n_treatment)
    th = np.asarray(theta, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # GrowthBook packages/stats/gbstats/models/tests.py::frequentist_variance_relative_cuped
        # (growthbook/growthbook 8f1db44): delta method with the gradient of the control terms
        #   Var = vT* / (nT mC^2)
        #       + (vC mT^2 / mC^2 - 2 theta cov_C mT / mC + theta^2 vxC) / (nC mC^2)
        # where vT* = vT + theta^2 vxT - 2 theta cov_T and mC, mT are the unadjusted means.
        v_trt = vt / (nt * mc**2)
        v_ctrl = (vc * mt**2 / mc**2 - 2.0 * th * cc * mt / mc + th**2 * vxc) / (nc * mc**2)
        return np.asarray(v_trt + v_ctrl, dtype=np.float64)


@dataclass(frozen=True)
class CupedComparison:
    """One control-treatment comparison adjusted as GrowthBook does.

    ``moments`` holds the adjusted arms (``unadjusted_mean`` kept), the absolute and relative
    :class:`~xp.stats.frequentist.Effect` with GrowthBook's variances and the Welch df on the
    adjusted variances; ``frequentist_result`` or ``sequential_result`` draws the intervals.
    ``reason`` is ``no_covariate`` or ``zero_covariate_variance`` when the comparison came back
    unadjusted (``theta = 0``, ordinary lift moments). ``variance_reduction`` is
    ``1 - Var(adjusted difference) / Var(raw difference)``, 0 when either is undefined.
    """

    theta: float
    moments: LiftMoments
    reason: str | None = None
    variance_reduction: float = 0.0


def cuped_compare(
    metrics: Sequence[MeanStats | ProportionStats],
    covariates: Sequence[CovariateStats | None],
    treatment: int,
    control: int = 0,
    theta: float | None = None,
) -> CupedComparison:
    """CUPED lift moments of ``treatment`` against ``control``, ``theta`` pooled over the pair.

    GrowthBook estimates ``theta`` on the control-treatment pair it compares
    (gbstats ``models/statistics.py::compute_theta`` on ``a``/``b``), not on all variants.
    Degenerate inputs come back with reason codes (never exceptions): ``no_covariate``,
    ``zero_covariate_variance``, and in ``moments`` ``insufficient_data`` (the rule of
    ``sufficiency.py`` on the adjusted arms: few units or conversions, an adjusted variance of
    0, a raw control mean of 0).
    """
    if len(metrics) != len(covariates):
        raise ValueError(f"{len(metrics)} metrics but {len(covariates)} covariates")
    pair = cuped_adjust(
        [metrics[control], metrics[treatment]], [covariates[control], covariates[treatment]], theta
    )
    c_raw, t_raw = pair.raw_arms
    if pair.reason is not None:
        return CupedComparison(0.0, lift_moments(c_raw, t_raw), pair.reason)
    th = pair.theta
    c_adj, t_adj = pair.arms
    cov_c = covariates[control]
    assert cov_c is not None  # cuped_adjust returned no reason
    mc, mt = c_raw.mean, t_raw.mean
    diff = t_adj.mean - c_adj.mean
    # absolute: Var(mT* - mC*) = vC*/nC + vT*/nT (gbstats utils.frequentist_variance on the
    # RegressionAdjustedStatistic variances)
    abs_var = _difference_variance(c_adj, t_adj)
    rel_var = float(
        relative_variance_cuped(
            mc,
            c_raw.variance,
            cov_c.covariance(metrics[control]),
            cov_c.variance(metrics[control].n),
            c_raw.n,
            mt,
            t_adj.variance,
            t_adj.n,
            th,
        )
    )
    df = float(welch_df(c_adj.variance, c_adj.n, t_adj.variance, t_adj.n))
    # gbstats utils.frequentist_diff divides by abs(unadjusted control mean)
    rel = diff / abs(mc) if mc != 0 else math.nan
    moments = checked_moments(c_adj, t_adj, Effect(diff, abs_var), Effect(rel, rel_var), df)
    return CupedComparison(th, moments, variance_reduction=pair.variance_reduction(1))
