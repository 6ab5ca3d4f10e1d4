from __future__ import annotations

import math

import numpy as np
import pytest

from xp.stats.sufficient import (
    ArmMoments,
    CovariateStats,
    MeanStats,
    ProportionStats,
    RatioStats,
)


def test_mean_stats_match_numpy() -> None:
    x = np.random.default_rng(1).normal(3.0, 2.0, size=500)
    stats = MeanStats(x.size, float(x.sum()), float((x**2).sum()))
    assert stats.mean == pytest.approx(x.mean(), rel=1e-12)
    assert stats.variance == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert stats.moments() == ArmMoments(x.size, stats.mean, stats.variance)


def test_proportion_variance_is_bernoulli() -> None:
    stats = ProportionStats(n=200, sum=50)
    assert stats.mean == 0.25
    assert stats.variance == pytest.approx(0.25 * 0.75)
    assert stats.sum_squares == 50


def test_ratio_variance_matches_delta_method_on_units() -> None:
    rng = np.random.default_rng(2)
    d = rng.poisson(3.0, size=2000) + 1.0
    m = d * rng.gamma(2.0, 5.0, size=2000)
    stats = RatioStats(
        n=d.size,
        num_sum=float(m.sum()),
        num_sum_squares=float((m**2).sum()),
        den_sum=float(d.sum()),
        den_sum_squares=float((d**2).sum()),
        sum_product=float((m * d).sum()),
    )
    mu_m, mu_d = m.mean(), d.mean()
    cov = np.cov(m, d, ddof=1)
    expected = cov[0, 0] / mu_d**2 - 2 * cov[0, 1] * mu_m / mu_d**3 + mu_m**2 * cov[1, 1] / mu_d**4
    assert stats.mean == pytest.approx(m.sum() / d.sum())
    assert stats.variance == pytest.approx(expected, rel=1e-9)


def test_covariate_stats_match_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=300)
    y = 2 * x + rng.normal(size=300)
    metric = MeanStats(300, float(y.sum()), float((y**2).sum()))
    cov = CovariateStats(float(x.sum()), float((x**2).sum()), float((x * y).sum()))
    assert cov.mean(300) == pytest.approx(x.mean())
    assert cov.variance(300) == pytest.approx(x.var(ddof=1))
    assert cov.covariance(metric) == pytest.approx(np.cov(x, y, ddof=1)[0, 1])


@pytest.mark.parametrize(
    "stats",
    [
        MeanStats(0, 0.0, 0.0),
        MeanStats(1, 5.0, 25.0),
        ProportionStats(0, 0),
        RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0),
        RatioStats(10, 5.0, 5.0, 0.0, 0.0, 0.0),
    ],
)
def test_degenerate_stats_do_not_raise(stats: MeanStats | ProportionStats | RatioStats) -> None:
    moments = stats.moments()
    assert math.isnan(moments.variance) or moments.variance >= 0


def test_rounding_never_gives_negative_variance() -> None:
    # all values equal: sum_squares - sum^2/n is a rounding error around 0
    stats = MeanStats(3, 0.3, 0.03)
    assert stats.variance >= 0.0


def test_unadjusted_mean_is_the_reference() -> None:
    assert ArmMoments(10, 2.0, 1.0).reference_mean == 2.0
    assert ArmMoments(10, 2.0, 1.0, unadjusted_mean=2.5).reference_mean == 2.5
