from __future__ import annotations

import numpy as np
import pytest

from tests.stats.reference import SEQ_CONTROL, SEQ_TREATMENT
from xp.stats.cuped import NO_COVARIATE, ZERO_COVARIATE_VARIANCE, cuped_adjust
from xp.stats.frequentist import frequentist_lift
from xp.stats.sequential import sequential_lift
from xp.stats.sufficient import CovariateStats, MeanStats, ProportionStats


def test_growthbook_reference_pooled_theta() -> None:
    # gbstats tests/frequentist/test_tests.py::test_sequential_test_runs_ra (theta=None)
    adjusted = cuped_adjust(
        [SEQ_CONTROL, SEQ_TREATMENT],
        [CovariateStats(16.87, 527.9767, 1), CovariateStats(22.7, 1348.29, 1)],
    )
    rel = sequential_lift(adjusted.arms[0], adjusted.arms[1]).relative
    assert round(rel.estimate or 0, 5) == 0.50338
    assert round(rel.se or 0, 5) == 0.33341
    assert (round(rel.ci_low or 0, 5), round(rel.ci_high or 0, 5)) == (-0.50969, 1.51646)


def test_growthbook_reference_fixed_theta() -> None:
    # older gbstats test_sequential_test_runs_ra: theta=0.5, sums of products 12525 and 3333
    adjusted = cuped_adjust(
        [SEQ_CONTROL, SEQ_TREATMENT],
        [CovariateStats(16.87, 527.9767, 12525), CovariateStats(22.7, 1348.29, 3333)],
        theta=0.5,
    )
    rel = sequential_lift(adjusted.arms[0], adjusted.arms[1]).relative
    assert round(rel.estimate or 0, 5) == 0.50236
    assert round(rel.se or 0, 5) == 0.3093
    assert (round(rel.ci_low or 0, 5), round(rel.ci_high or 0, 5)) == (-0.43745, 1.44217)


def _arms(
    rng: np.random.Generator, rho: float, lift: float = 0.0
) -> tuple[list[MeanStats], list[CovariateStats], list[tuple[np.ndarray, np.ndarray]]]:
    metrics, covariates, raw = [], [], []
    for effect in (0.0, lift):
        x = rng.normal(10, 2, size=4000)
        y = 5 + effect + rho * (x - 10) / 2 + np.sqrt(1 - rho**2) * rng.normal(size=4000)
        metrics.append(MeanStats(y.size, float(y.sum()), float((y**2).sum())))
        covariates.append(CovariateStats(float(x.sum()), float((x**2).sum()), float((x * y).sum())))
        raw.append((x, y))
    return metrics, covariates, raw


def test_theta_is_pooled_regression_slope() -> None:
    metrics, covariates, raw = _arms(np.random.default_rng(4), rho=0.8, lift=0.3)
    adjusted = cuped_adjust(metrics, covariates)
    x = np.concatenate([a[0] for a in raw])
    y = np.concatenate([a[1] for a in raw])
    assert adjusted.theta == pytest.approx(np.cov(x, y, ddof=1)[0, 1] / x.var(ddof=1), rel=1e-9)


def test_adjusted_variance_matches_unit_level_adjustment() -> None:
    metrics, covariates, raw = _arms(np.random.default_rng(5), rho=0.7, lift=0.2)
    adjusted = cuped_adjust(metrics, covariates)
    x_pool = np.concatenate([a[0] for a in raw]).mean()
    for arm, (x, y) in zip(adjusted.arms, raw, strict=True):
        y_cv = y - adjusted.theta * (x - x_pool)
        assert arm.mean == pytest.approx(y_cv.mean(), rel=1e-9)
        assert arm.variance == pytest.approx(y_cv.var(ddof=1), rel=1e-9)
        assert arm.unadjusted_mean == pytest.approx(y.mean())


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_variance_reduction_is_about_rho_squared(rho: float) -> None:
    metrics, covariates, _ = _arms(np.random.default_rng(6), rho=rho)
    adjusted = cuped_adjust(metrics, covariates)
    assert adjusted.variance_reduction(1) == pytest.approx(rho**2, abs=0.03)
    raw = frequentist_lift(metrics[0], metrics[1]).absolute
    cuped = frequentist_lift(adjusted.arms[0], adjusted.arms[1]).absolute
    assert (cuped.se or 0) < (raw.se or 0)


def test_missing_covariate_falls_back_to_unadjusted() -> None:
    metrics = [MeanStats(100, 50.0, 60.0), MeanStats(100, 55.0, 70.0)]
    result = cuped_adjust(metrics, [CovariateStats(10.0, 20.0, 8.0), None])
    assert result.reason == NO_COVARIATE
    assert result.theta == 0.0
    assert result.arms == tuple(m.moments() for m in metrics)
    assert result.variance_reduction(1) == 0.0


def test_flat_covariate_falls_back_to_unadjusted() -> None:
    metrics = [ProportionStats(100, 10), ProportionStats(100, 12)]
    flat = [CovariateStats(100.0, 100.0, 10.0), CovariateStats(100.0, 100.0, 12.0)]
    result = cuped_adjust(metrics, flat)
    assert result.reason == ZERO_COVARIATE_VARIANCE
    assert result.arms == tuple(m.moments() for m in metrics)


def test_empty_arms_do_not_raise() -> None:
    result = cuped_adjust(
        [MeanStats(0, 0.0, 0.0), MeanStats(0, 0.0, 0.0)],
        [CovariateStats(0.0, 0.0, 0.0), CovariateStats(0.0, 0.0, 0.0)],
    )
    assert result.reason == ZERO_COVARIATE_VARIANCE
    assert frequentist_lift(result.arms[0], result.arms[1]).reason == "insufficient_data"
