"""The one ``insufficient_data`` rule (stats/sufficiency.py) across every test that reads it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from xp.stats.cuped import cuped_compare
from xp.stats.frequentist import INSUFFICIENT_DATA, LiftResult, frequentist_lift
from xp.stats.sequential import sequential_lift, sequential_series
from xp.stats.sufficiency import (
    MIN_OUTCOMES,
    MIN_UNITS,
    insufficiency,
    precise_reference,
    precise_references,
    sufficient_arms,
)
from xp.stats.sufficient import (
    ArmMoments,
    ArmSummary,
    CovariateStats,
    MeanStats,
    ProportionStats,
    RatioStats,
)

Lift = Callable[[ArmSummary, ArmSummary], LiftResult]
METHODS: dict[str, Lift] = {"frequentist": frequentist_lift, "sequential": sequential_lift}


def _mean(values: list[float]) -> MeanStats:
    v = np.asarray(values, dtype=np.float64)
    return MeanStats(v.size, float(v.sum()), float((v**2).sum()))


DEGENERATE: dict[str, tuple[ArmSummary, ArmSummary]] = {
    # the case: before the rule, relative se 0 and p = 0
    "1/8 vs 0/8": (ProportionStats(8, 1), ProportionStats(8, 0)),
    "0/400 in treatment": (ProportionStats(400, 20), ProportionStats(400, 0)),
    "zero control mean": (ProportionStats(400, 0), ProportionStats(400, 9)),
    "all converted": (ProportionStats(400, 400), ProportionStats(400, 398)),
    "4 conversions": (ProportionStats(400, MIN_OUTCOMES - 1), ProportionStats(400, 30)),
    "4 non-conversions": (ProportionStats(400, 396), ProportionStats(400, 300)),
    "n = 1": (MeanStats(1, 3.0, 9.0), _mean([1.0, 2.0, 3.0] * 10)),
    "n = 9": (_mean([1.0, 2.0, 3.0] * 3), _mean([1.0, 2.0, 3.0] * 10)),
    "empty arms": (MeanStats(0, 0.0, 0.0), MeanStats(0, 0.0, 0.0)),
    "zero variance mean": (_mean([5.0] * 50), _mean([5.0, 6.0] * 25)),
    "zero control mean, sd > 0": (_mean([-1.0, 1.0] * 25), _mean([0.0, 2.0] * 25)),
    "ratio with no denominator": (
        RatioStats(50, 5.0, 5.0, 0.0, 0.0, 0.0),
        RatioStats(50, 5.0, 5.0, 50.0, 50.0, 5.0),
    ),
    "huge values": (MeanStats(50, 1e308, 1e308), _mean([1.0, 2.0] * 25)),
}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_comparisons_give_no_verdict_on_either_scale(case: str, method: str) -> None:
    control, treatment = DEGENERATE[case]
    result = METHODS[method](control, treatment)
    assert result.reason == INSUFFICIENT_DATA
    assert result.p_value is None
    for scale in (result.absolute, result.relative):
        # never p = 0 and never a zero-width interval: nothing at all
        assert scale.p_value is None and scale.se is None
        assert scale.ci_low is None and scale.ci_high is None


def test_the_observed_difference_is_still_reported() -> None:
    result = frequentist_lift(ProportionStats(8, 1), ProportionStats(8, 0))
    assert result.absolute.estimate == pytest.approx(-0.125)
    assert result.relative.estimate == pytest.approx(-1.0)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_just_enough_data_is_tested(method: str) -> None:
    # exactly MIN_OUTCOMES conversions and MIN_UNITS units pass
    props = METHODS[method](ProportionStats(MIN_UNITS, MIN_OUTCOMES), ProportionStats(400, 30))
    assert props.reason is None and props.p_value is not None and 0 < props.p_value <= 1
    means = METHODS[method](_mean([1.0, 2.0] * (MIN_UNITS // 2)), _mean([1.0, 3.0] * 20))
    assert means.reason is None and means.relative.se is not None and means.relative.se > 0


def test_vectorised_rule_matches_the_per_comparison_rule() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(0, 30, 500).astype(float)
    k = np.floor(rng.random(500) * (n + 1))
    mean = np.divide(k, n, out=np.full(500, np.nan), where=n > 0)
    variance = mean * (1 - mean)
    minority = np.minimum(k, n - k)
    mask = sufficient_arms(n, mean, variance, minority)
    for i in range(0, 500, 2):
        arms = [ProportionStats(n[j], k[j]).moments() for j in (i, i + 1)]
        expected = bool(mask[i] and mask[i + 1]) and arms[0].mean != 0
        assert (insufficiency(arms[0], arms[1]) is None) == expected


def test_cuped_comparison_obeys_the_same_rule() -> None:
    covariates = [CovariateStats(40.0, 90.0, 5.0), CovariateStats(35.0, 70.0, 0.0)]
    # 1/20 vs 0/20 conversions: adjusted variances exist, the proportion rule still applies
    result = cuped_compare([ProportionStats(20, 1), ProportionStats(20, 0)], covariates, 1)
    assert result.reason is None
    assert result.moments.reason == INSUFFICIENT_DATA
    assert np.isnan(result.moments.relative.variance)
    assert np.isnan(result.moments.absolute.variance)


def test_adjusted_arms_keep_their_minority_count() -> None:
    arm = ArmMoments(100, 0.2, 0.16, unadjusted_mean=0.25, minority_count=3)
    other = ProportionStats(100, 30).moments()
    assert insufficiency(arm, other) == INSUFFICIENT_DATA
    assert insufficiency(ArmMoments(100, 0.2, 0.16, 0.25, minority_count=25), other) is None


def test_sequential_series_does_not_keep_a_degenerate_first_day() -> None:
    # Day 1: 0 of 8 conversions in the treatment (the old rule gave relative p = 0 for good);
    # then a real and equal 4% rate in both arms.
    rng = np.random.default_rng(12)
    looks = [(ProportionStats(8, 1), ProportionStats(8, 0))]
    n_c, k_c, n_t, k_t = 8, 1, 8, 0
    for _ in range(14):
        n_c, n_t = n_c + 300, n_t + 300
        k_c, k_t = k_c + int(rng.binomial(300, 0.04)), k_t + int(rng.binomial(300, 0.04))
        looks.append((ProportionStats(n_c, k_c), ProportionStats(n_t, k_t)))
    series = sequential_series(looks)
    first = series[0]
    assert first.reason == INSUFFICIENT_DATA and first.p_value is None
    tested = [sequential_lift(c, t) for c, t in looks[1:]]
    raw_p = [r.absolute.p_value for r in tested]
    assert all(p is not None for p in raw_p)
    # the running minimum is over the tested looks only, and no longer 0
    assert [s.absolute.p_value for s in series[1:]] == pytest.approx(
        np.minimum.accumulate(np.asarray(raw_p, dtype=float)).tolist()
    )
    # the relative scale reports each tested look's own sequence (docs/stats.md, "Looks")
    assert [s.relative for s in series[1:]] == [r.relative for r in tested]
    last = series[-1]
    assert last.reason is None and last.p_value is not None and last.p_value > 0.05
    assert last.relative.ci_low is not None and last.relative.ci_high is not None
    assert last.relative.ci_low < 0 < last.relative.ci_high


def test_sequential_aa_with_a_launch_ramp_stays_within_alpha() -> None:
    # 4,000 A/A experiments, 14 daily looks, a ramp from 4 units per arm on day 1, base rates
    # of 2-5%: the running minimum of the relative always-valid p-value over the looks the
    # rule lets through rejects in at most alpha (+3 sd) of them. The old rule (only a zero
    # variance of the *difference* stopped a look) lets a 0-conversion arm through with a
    # relative se of 0 and p = 0, and rejects in far more.
    from xp.stats.frequentist import difference_moments
    from xp.stats.sequential import always_valid_p_value

    rng = np.random.default_rng(2026)
    sims, alpha = 4000, 0.05
    ramp = np.array([4, 8, 16, 30, 50, 70, 90, 100, 100, 100, 100, 100, 100, 100])
    n = np.broadcast_to(np.cumsum(ramp), (sims, ramp.size)).astype(float)
    rate = rng.uniform(0.02, 0.05, (sims, 1))
    k_c = np.cumsum(rng.binomial(ramp, rate), axis=1).astype(float)
    k_t = np.cumsum(rng.binomial(ramp, rate), axis=1).astype(float)
    m_c, m_t = k_c / n, k_t / n
    v_c, v_t = m_c * (1 - m_c), m_t * (1 - m_t)
    moments = difference_moments(m_c, v_c, n, m_t, v_t, n)
    tuning = 2.0 * n[0, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        p_rel = always_valid_p_value(
            moments.relative, moments.relative_variance, 2 * n, alpha, tuning
        )
        p_abs = always_valid_p_value(
            moments.absolute, moments.absolute_variance, 2 * n, alpha, tuning
        )

    ok = (
        sufficient_arms(n, m_c, v_c, np.minimum(k_c, n - k_c))
        & sufficient_arms(n, m_t, v_t, np.minimum(k_t, n - k_t))
        & (m_c != 0)
    )
    new = np.fmin.accumulate(np.where(ok, p_rel, np.nan), axis=1)[:, -1]
    old_ok = moments.absolute_variance > 0
    old_p = np.where(m_c != 0, p_rel, p_abs)  # the old fallback to the absolute scale
    old = np.fmin.accumulate(np.where(old_ok, old_p, np.nan), axis=1)[:, -1]

    bound = alpha + 3 * np.sqrt(alpha * (1 - alpha) / sims)  # 0.0603
    assert np.mean(new < alpha) <= bound  # 0.042 with this seed; the old rule: 0.417
    assert np.mean(old < alpha) > 3 * alpha  # the degenerate first looks did it
    assert np.mean(ok[:, 0]) == 0  # no day-1 look is ever tested: 4 units per arm


# -- the control-precision rule of the relative scale -------------------------------------


def test_precise_references_holds_the_half_width_under_half_the_mean() -> None:
    # 1.96 * sqrt(1 / 100) = 0.196: a mean of 0.39 is imprecise, 0.40 precise (0.196 < 0.2).
    n, var = np.array([100.0, 100.0, 100.0, 10_000.0]), np.array([1.0, 1.0, 1.0, 1.0])
    mean = np.array([0.39, 0.40, -0.40, 0.04])  # the sign does not matter; n shrinks the se
    assert precise_references(n, mean, var).tolist() == [False, True, True, True]
    # a 0/1 metric's control always passes: its conversions rule asks for enough of them
    assert precise_references(100.0, 0.02, 0.0196, minority_count=2.0)
    assert not precise_references(100.0, 0.02, 0.0196, minority_count=np.nan)
    # zero and undefined inputs are imprecise, never an error
    assert precise_references(
        np.array([0.0, 5.0, 5.0]), np.array([0.1, 0.0, np.nan]), 1.0
    ).tolist() == [
        False,
        False,
        False,
    ]


def test_the_scalar_precision_rule_is_the_vectorised_one() -> None:
    rng = np.random.default_rng(11)
    n = rng.integers(10, 2_000, 500).astype(float)
    mean = rng.normal(0.0, 0.3, 500)
    var = rng.uniform(0.01, 4.0, 500)
    vector = precise_references(n, mean, var)
    assert 0.2 < vector.mean() < 0.9  # both outcomes are exercised
    for i in range(500):
        assert precise_reference(ArmMoments(n[i], mean[i], var[i])) == vector[i]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_an_imprecise_control_mean_leaves_the_relative_scale_untested(method: str) -> None:
    # 40 units per arm, 3 of them active: the control mean (0.15) is known to about +-0.15.
    control = _mean([2.0, 3.0, 1.0] + [0.0] * 37)
    treatment = _mean([4.0, 2.0, 3.0, 5.0, 1.0] + [0.0] * 35)
    result = METHODS[method](control, treatment)
    assert result.reason is None
    assert result.absolute.p_value is not None and result.absolute.ci_low is not None
    assert result.relative.estimate == pytest.approx((15 / 40 - 6 / 40) / (6 / 40))
    assert (result.relative.ci_low, result.relative.ci_high, result.relative.p_value) == (
        None,
        None,
        None,
    )
    assert result.tested_scale == "absolute" and result.p_value == result.absolute.p_value
    # the same shape with 100 times the units: the control mean is precise, both scales tested
    precise = METHODS[method](
        _mean([2.0, 3.0, 1.0] * 100 + [0.0] * 3_700),
        _mean([4.0, 2.0, 3.0, 5.0, 1.0] * 100 + [0.0] * 3_500),
    )
    assert precise.tested_scale == "relative" and precise.relative.ci_low is not None


def test_a_binomial_with_few_conversions_keeps_its_relative_scale() -> None:
    # 6/400 conversions: past the conversions rule; its mean's half-width (0.012) exceeds half
    # the mean (0.0075), but 0/1 metrics are left to the conversions rule.
    result = frequentist_lift(ProportionStats(400, 6), ProportionStats(400, 12))
    assert result.reason is None and result.tested_scale == "relative"
