from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from tests.stats.reference import CONTROL, TREATMENT
from xp.stats.frequentist import (
    INSUFFICIENT_DATA,
    frequentist_lift,
    lift_moments,
    welch_df,
)
from xp.stats.sufficient import ArmMoments, MeanStats, ProportionStats, RatioStats


def test_growthbook_reference_relative() -> None:
    # gbstats tests/frequentist/test_tests.py::test_two_sided_ttest
    rel = frequentist_lift(CONTROL, TREATMENT).relative
    assert round(rel.estimate or 0, 5) == 0.70732
    assert round(rel.se or 0, 5) == 0.37879
    assert (round(rel.ci_low or 0, 5), round(rel.ci_high or 0, 5)) == (-0.03526, 1.44989)
    assert round(rel.p_value or 0, 5) == 0.06191


def test_growthbook_reference_absolute() -> None:
    # gbstats tests/frequentist/test_tests.py::test_two_sided_ttest_absolute
    result = frequentist_lift(CONTROL, TREATMENT)
    absolute = result.absolute
    assert round(absolute.estimate or 0, 5) == 0.29
    assert round(absolute.se or 0, 5) == 0.12478
    assert (round(absolute.ci_low or 0, 5), round(absolute.ci_high or 0, 5)) == (0.04538, 0.53462)
    assert round(absolute.p_value or 0, 5) == 0.02016
    assert result.reason is None
    assert result.p_value == result.relative.p_value


def test_growthbook_reference_proportion() -> None:
    # gbstats tests/frequentist/test_tests.py::test_two_sided_ttest_binom
    rel = frequentist_lift(ProportionStats(28, 14), ProportionStats(30, 16)).relative
    assert round(rel.estimate or 0, 5) == 0.06667
    assert round(rel.se or 0, 5) == 0.2717
    assert (round(rel.ci_low or 0, 5), round(rel.ci_high or 0, 5)) == (-0.47767, 0.61101)
    assert round(rel.p_value or 0, 5) == 0.80707


def test_relative_df_on_relative_scale_would_miss_the_reference() -> None:
    """Why the relative test uses the absolute-scale Welch df: the other choice is off."""
    m = lift_moments(CONTROL, TREATMENT)
    c, t = m.control, m.treatment
    a = t.variance / (t.n * c.mean**2)
    b = c.variance * t.mean**2 / (c.n * c.mean**4)
    rel_df = (a + b) ** 2 / (a**2 / (t.n - 1) + b**2 / (c.n - 1))
    width = sps.t.ppf(0.975, rel_df) * math.sqrt(m.relative.variance)
    assert round(m.relative.estimate - width, 5) != -0.03526
    assert m.df == pytest.approx(5841.742, abs=1e-3)


def _random_arm(rng: np.random.Generator) -> tuple[MeanStats, float, float, int]:
    n = int(rng.integers(10, 5000))
    mean = float(rng.normal(0, 10))
    sd = float(rng.uniform(0.1, 20))
    total = mean * n
    return MeanStats(n, total, sd**2 * (n - 1) + total**2 / n), mean, sd, n


def test_welch_agrees_with_scipy_on_random_inputs() -> None:
    rng = np.random.default_rng(20240601)
    for _ in range(100):
        c, mc, sc, nc = _random_arm(rng)
        t, mt, st, nt = _random_arm(rng)
        expected = sps.ttest_ind_from_stats(mt, st, nt, mc, sc, nc, equal_var=False)
        result = frequentist_lift(c, t)
        se = result.absolute.se or 0.0
        assert (result.absolute.estimate or 0.0) / se == pytest.approx(
            expected.statistic, rel=1e-9, abs=1e-9
        )
        assert result.absolute.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


def test_welch_interval_agrees_with_statsmodels() -> None:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(1.0, 2.0, 400), rng.normal(1.3, 3.0, 350)
    cm = CompareMeans(DescrStatsW(x1), DescrStatsW(x2))
    low, high = cm.tconfint_diff(alpha=0.1, usevar="unequal")
    result = frequentist_lift(
        MeanStats(x2.size, x2.sum(), (x2**2).sum()),
        MeanStats(x1.size, x1.sum(), (x1**2).sum()),
        alpha=0.1,
    )
    assert result.absolute.ci_low == pytest.approx(low, rel=1e-9)
    assert result.absolute.ci_high == pytest.approx(high, rel=1e-9)


def test_welch_df_is_vectorised() -> None:
    df = welch_df(np.array([1.0, 4.0]), np.array([10, 20]), np.array([1.0, 1.0]), 10)
    assert df.shape == (2,)
    assert df[0] == pytest.approx(18.0)


def test_ratio_metric_goes_through_delta_method() -> None:
    c = RatioStats(1000, 500.0, 800.0, 2000.0, 5000.0, 1500.0)
    t = RatioStats(1000, 560.0, 900.0, 2000.0, 5000.0, 1600.0)
    result = frequentist_lift(c, t)
    assert result.absolute.estimate == pytest.approx(0.28 - 0.25)
    expected_se = math.sqrt(c.variance / 1000 + t.variance / 1000)
    assert result.absolute.se == pytest.approx(expected_se)


def test_adjusted_moments_use_the_unadjusted_denominator() -> None:
    c = ArmMoments(1000, mean=9.0, variance=4.0, unadjusted_mean=10.0)
    t = ArmMoments(1000, mean=10.0, variance=4.0, unadjusted_mean=11.0)
    assert frequentist_lift(c, t).relative.estimate == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (MeanStats(1, 1.0, 1.0), MeanStats(100, 50.0, 60.0)),
        (MeanStats(0, 0.0, 0.0), MeanStats(0, 0.0, 0.0)),
        (MeanStats(100, 0.0, 0.0), MeanStats(100, 30.0, 40.0)),
        (ProportionStats(100, 0), ProportionStats(100, 5)),
        (ProportionStats(100, 100), ProportionStats(100, 100)),
        (MeanStats(10, 20.0, 40.0), MeanStats(10, 30.0, 90.0)),
        (RatioStats(10, 1.0, 1.0, 0.0, 0.0, 0.0), MeanStats(10, 1.0, 2.0)),
    ],
)
def test_degenerate_input_gives_reason_not_exception(
    control: MeanStats | ProportionStats | RatioStats,
    treatment: MeanStats | ProportionStats,
) -> None:
    result = frequentist_lift(control, treatment)
    assert result.reason == INSUFFICIENT_DATA
    for scale in (result.absolute, result.relative):
        assert scale.p_value is None and scale.se is None
        assert scale.ci_low is None and scale.ci_high is None
    assert result.p_value is None


def test_zero_variance_still_reports_the_observed_difference() -> None:
    result = frequentist_lift(MeanStats(10, 20.0, 40.0), MeanStats(10, 30.0, 90.0))
    assert result.reason == INSUFFICIENT_DATA
    assert result.absolute.estimate == pytest.approx(1.0)
    assert result.relative.estimate == pytest.approx(0.5)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 2.0])
def test_bad_alpha_is_a_caller_error(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        frequentist_lift(CONTROL, TREATMENT, alpha=alpha)


def test_to_dict_has_the_documented_keys() -> None:
    d = frequentist_lift(CONTROL, TREATMENT).to_dict()
    assert set(d) == {"absolute", "relative", "reason", "tested_scale"}
    assert set(d["relative"]) == {"estimate", "se", "ci_low", "ci_high", "p_value"}
