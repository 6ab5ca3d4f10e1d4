from __future__ import annotations

import numpy as np
import pytest

from tests.stats.reference import SEQ_CONTROL, SEQ_TREATMENT
from xp.stats.cuped import (
    NO_COVARIATE,
    ZERO_COVARIATE_VARIANCE,
    cuped_adjust,
    cuped_compare,
    pooled_theta,
)
from xp.stats.frequentist import (
    INSUFFICIENT_DATA,
    frequentist_lift,
    relative_variance,
)
from xp.stats.sequential import sequential_lift, sequential_result
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


def test_growthbook_reference_through_cuped_compare() -> None:
    # The same gbstats case through the path results and analyze report: theta pooled over
    # the pair (here the only two arms, theta ~ -0.0114, so the relative-variance terms that
    # differ from cuped_adjust's are ~1e-7 and the published numbers hold).
    covariates: list[CovariateStats | None] = [
        CovariateStats(16.87, 527.9767, 1),
        CovariateStats(22.7, 1348.29, 1),
    ]
    result = cuped_compare([SEQ_CONTROL, SEQ_TREATMENT], covariates, treatment=1)
    rel = sequential_result(result.moments).relative
    assert round(rel.estimate or 0, 5) == 0.50338
    assert round(rel.se or 0, 5) == 0.33341
    assert (round(rel.ci_low or 0, 5), round(rel.ci_high or 0, 5)) == (-0.50969, 1.51646)
    # with theta fixed at 0.5 the control-side term of frequentist_variance_relative_cuped
    # matters: se 0.31692, where the unadjusted delta formula gave the older 0.3093
    covariates = [CovariateStats(16.87, 527.9767, 12525), CovariateStats(22.7, 1348.29, 3333)]
    fixed = cuped_compare([SEQ_CONTROL, SEQ_TREATMENT], covariates, treatment=1, theta=0.5)
    assert round(sequential_result(fixed.moments).relative.se or 0, 5) == 0.31692


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


# Reference cases with a real lift: (n, sum y, sum y^2, sum x, sum x^2, sum xy) per arm.
# Expected values come from the written-out GrowthBook formulas (growthbook/growthbook
# packages/stats/gbstats, commit 8f1db44):
#   theta  = cov(x, y) / var(x) over the control + treatment units (models/statistics.py
#            ::compute_theta)
#   abs    = (mT - theta xT) - (mC - theta xC),  Var = vC*/nC + vT*/nT,
#            v* = vy + theta^2 vx - 2 theta cov   (RegressionAdjustedStatistic.variance)
#   rel    = abs / mC (raw control mean),
#   Var    = vT*/(nT mC^2) + (vC mT^2/mC^2 - 2 theta covC mT/mC + theta^2 vxC)/(nC mC^2)
#            (models/tests.py::frequentist_variance_relative_cuped)
# gbstats itself (that commit's source, run with a stand-in for pydantic's dataclass
# decorator) gave the same numbers to 1e-9: compute_theta, frequentist_diff and
# frequentist_variance_all_cases on RegressionAdjustedStatistic pairs.
REFERENCE_CASES = {
    # 15% raw lift, rho ~ 0.67
    "lift15": (
        (2000, 20000.0, 231984.0, 19600.0, 220066.0, 215990.0),
        (2100, 24150.0, 315507.0, 20790.0, 237306.0, 262174.0),
        # theta, absolute, its variance, relative, its variance
        (0.7268284201906643, 1.4273171579809336, 0.009160133637137182),
        (0.14273171579809335, 0.00010649891006851185),
    ),
    # 10% raw lift, unequal n
    "lift10": (
        (500, 2000.0, 12491.0, 1750.0, 10117.0, 9994.0),
        (480, 2112.0, 14082.8, 1728.0, 10292.3, 10716.7),
        (0.7584099445514847, 0.324159005544852, 0.019479774748812483),
        (0.081039751386213, 0.001339974430118058),
    ),
    # 20% raw lift, rho ~ 0.95: the old formula is visibly off here
    "lift20": (
        (1000, 20000.0, 424975.0, 19000.0, 384976.0, 403276.7),
        (1000, 24000.0, 605970.0, 19100.0, 389285.5, 484174.2),
        (1.0163940854168176, 3.8983605914583173, 0.005293362250277489),
        (0.19491802957291587, 1.7051423435481875e-05),
    ),
}


def _case(name: str) -> tuple[list[MeanStats], list[CovariateStats | None]]:
    a, b, _, _ = REFERENCE_CASES[name]
    metrics = [MeanStats(v[0], v[1], v[2]) for v in (a, b)]
    covariates: list[CovariateStats | None] = [CovariateStats(v[3], v[4], v[5]) for v in (a, b)]
    return metrics, covariates


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_growthbook_cuped_lift_with_real_effect(name: str) -> None:
    metrics, covariates = _case(name)
    (theta, absolute, abs_var), (relative, rel_var) = REFERENCE_CASES[name][2:]
    result = cuped_compare(metrics, covariates, treatment=1)
    m = result.moments
    assert result.reason is None and m.reason is None
    assert result.theta == pytest.approx(theta, rel=1e-9)
    assert m.absolute.estimate == pytest.approx(absolute, rel=1e-9)
    assert m.absolute.variance == pytest.approx(abs_var, rel=1e-9)
    assert m.relative.estimate == pytest.approx(relative, rel=1e-9)
    assert m.relative.variance == pytest.approx(rel_var, rel=1e-9)
    # relative lift is over the raw control mean
    assert m.control.reference_mean == pytest.approx(metrics[0].sum / metrics[0].n)


def test_old_relative_formula_differs_on_real_lift() -> None:
    # OLD: unadjusted delta method with adjusted variances,
    #   vT*/(nT mC^2) + vC* mT^2/(nC mC^4); it leaves out the control-side gradient of the
    #   covariate term that frequentist_variance_relative_cuped keeps.
    metrics, covariates = _case("lift20")
    m = cuped_compare(metrics, covariates, treatment=1).moments
    c, t = m.control, m.treatment
    old = float(
        relative_variance(c.reference_mean, c.variance, c.n, t.reference_mean, t.variance, t.n)
    )
    new = m.relative.variance
    assert abs(np.sqrt(old / new) - 1) > 0.01  # se differs by ~3.4%
    assert old == pytest.approx(1.590574794060326e-05, rel=1e-9)
    assert new == pytest.approx(1.7051423435481875e-05, rel=1e-9)


def test_compare_pools_theta_over_the_pair_only() -> None:
    metrics, covariates, _ = _arms(np.random.default_rng(7), rho=0.6, lift=0.4)
    more, more_cov, _ = _arms(np.random.default_rng(8), rho=0.9, lift=0.1)
    three, three_cov = [*metrics, more[1]], [*covariates, more_cov[1]]
    result = cuped_compare(three, three_cov, treatment=2)
    pair = [0, 2]
    expected = pooled_theta(
        [three[i].n for i in pair],
        [three[i].sum for i in pair],
        [three_cov[i].sum_x for i in pair],
        [three_cov[i].sum_x2 for i in pair],
        [three_cov[i].sum_xy for i in pair],
    )
    assert result.theta == pytest.approx(float(expected), rel=1e-12)
    assert result.theta != pytest.approx(cuped_adjust(three, three_cov).theta, rel=1e-6)


def test_compare_degenerate_inputs_return_reasons() -> None:
    metrics, covariates = _case("lift15")
    missing = cuped_compare(metrics, [covariates[0], None], treatment=1)
    assert missing.reason == NO_COVARIATE and missing.theta == 0.0

    flat = [CovariateStats(100.0, 100.0, 10.0), CovariateStats(100.0, 100.0, 12.0)]
    props = [ProportionStats(100, 10), ProportionStats(100, 12)]
    assert cuped_compare(props, flat, treatment=1).reason == ZERO_COVARIATE_VARIANCE

    tiny = cuped_compare(
        [MeanStats(1, 2.0, 4.0), MeanStats(1, 3.0, 9.0)],
        [CovariateStats(1.0, 1.0, 2.0), CovariateStats(2.0, 4.0, 6.0)],
        treatment=1,
    )
    assert tiny.reason is None
    assert tiny.moments.reason == INSUFFICIENT_DATA

    # y = x exactly in both arms: the adjusted metric has no variance left
    exact = cuped_compare(
        [MeanStats(3, 6.0, 14.0), MeanStats(3, 9.0, 29.0)],
        [CovariateStats(6.0, 14.0, 14.0), CovariateStats(9.0, 29.0, 29.0)],
        treatment=1,
    )
    assert exact.moments.reason == INSUFFICIENT_DATA

    # y = x exactly, but with enough units: the adjusted variance is 0 in both arms
    x = np.arange(20.0)
    sums = (float(x.sum()), float((x**2).sum()))
    flat_after = cuped_compare(
        [MeanStats(20, *sums), MeanStats(20, sums[0] + 20, sums[1] + 2 * sums[0] + 20)],
        [CovariateStats(*sums, sums[1]), CovariateStats(*sums, sums[1] + sums[0])],
        treatment=1,
    )
    assert flat_after.reason is None
    assert flat_after.moments.reason == INSUFFICIENT_DATA
    assert np.isnan(flat_after.moments.absolute.variance)

    # a control mean of 0 (values -1 and +1): no relative lift, so no verdict at all
    zero_mean = cuped_compare(
        [MeanStats(20, 0.0, 20.0), MeanStats(20, 6.0, 24.0)],
        [CovariateStats(3.0, 25.0, 4.0), CovariateStats(6.0, 30.0, 7.0)],
        treatment=1,
    )
    assert zero_mean.reason is None
    assert zero_mean.moments.reason == INSUFFICIENT_DATA
    assert np.isnan(zero_mean.moments.relative.variance)

    empty = cuped_compare(
        [MeanStats(0, 0.0, 0.0), MeanStats(0, 0.0, 0.0)],
        [CovariateStats(0.0, 0.0, 0.0), CovariateStats(0.0, 0.0, 0.0)],
        treatment=1,
    )
    assert empty.reason == ZERO_COVARIATE_VARIANCE
