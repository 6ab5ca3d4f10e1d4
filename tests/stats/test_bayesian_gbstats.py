"""The Bayesian method against gbstats itself (PyPI ``gbstats``, a test-only dependency).

Each case runs GrowthBook's ``EffectBayesianABTest.compute_result()`` live and compares its
posterior mean, SD, credible interval, chance to win and risk per arm with xp's, to 1e-6:
through ``xp.stats.bayesian`` (the moments of ``lift_moments``) and through ``analyze()`` and a
real ``POST /v1/analyze``. Relative and absolute lifts, flat and proper priors, inverse
metrics, tiny n. Where gbstats answers a sentinel for degenerate data (chance to win 0.5, risk
``[0, 0]``, interval ``[0, 0]`` with an ``error_message``), xp answers ``insufficient_data``
with null readings and no verdict (docs/results.md, "Bayesian method").

gbstats 0.8.0 (the last release on PyPI) divides the relative lift by the signed control
mean; GrowthBook fixed that in #6658 (commit 6199daa, August 2026: "keep the sign of relative
lift when the baseline mean is negative") and xp divides by ``|mC|`` too. The oracle runs with
that commit's ``frequentist_diff``, which only a negative control mean tells apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from flask import Flask
from gbstats.bayesian import tests as gb_bayesian
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.bayesian.tests import GaussianPrior as GbPrior
from gbstats.models.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)

from tests.stats.test_bayesian import moments
from xp.stats.analyze import analyze
from xp.stats.bayesian import GaussianPrior, bayesian_result, effect_posterior, readings
from xp.stats.cuped import cuped_compare
from xp.stats.frequentist import lift_moments
from xp.stats.sufficient import CovariateStats, MeanStats, ProportionStats

TOLERANCE = 1e-6


def frequentist_diff_6199daa(
    mean_a: float, mean_b: float, relative: bool, mean_a_unadjusted: float | None = None
) -> float:
    """gbstats' ``utils.frequentist_diff`` as of GrowthBook commit 6199daa (#6658)."""
    if not mean_a_unadjusted:
        mean_a_unadjusted = mean_a
    if relative:
        return (mean_b - mean_a) / abs(mean_a_unadjusted)
    return mean_b - mean_a


@pytest.fixture(autouse=True)
def _gbstats_with_the_sign_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gb_bayesian, "frequentist_diff", frequentist_diff_6199daa)


Arm = dict[str, float]

# name -> (control, treatment): a proportion arm has no sum_squares
ARMS: dict[str, tuple[Arm, Arm]] = {
    "GrowthBook's sample means": (
        {"n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ),
    "close sample means": (
        {"n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"n": 3461, "sum": 1588.8, "sum_squares": 59063.4},
    ),
    "conversion rates": ({"n": 5012, "sum": 612}, {"n": 4988, "sum": 635}),
    "a large rate drop": ({"n": 20000, "sum": 3000}, {"n": 20000, "sum": 2400}),
    "tiny n (10 and 11 units)": (
        {"n": 10, "sum": 12.0, "sum_squares": 20.5},
        {"n": 11, "sum": 19.0, "sum_squares": 41.0},
    ),
    "tiny rates (5 of 10 and 6 of 11)": ({"n": 10, "sum": 5}, {"n": 11, "sum": 6}),
    "a negative control mean": (
        {"n": 500, "sum": -250.0, "sum_squares": 900.0},
        {"n": 500, "sum": -200.0, "sum_squares": 800.0},
    ),
}
PRIORS = {
    "flat": {"mean": 0.0, "variance": 1.0, "proper": False},
    "proper N(0, 0.3^2)": {"mean": 0.0, "variance": 0.09, "proper": True},
    "proper N(0.05, 0.01)": {"mean": 0.05, "variance": 0.01, "proper": True},
}


def gb_stat(arm: Arm) -> SampleMeanStatistic | ProportionStatistic:
    if "sum_squares" in arm:
        return SampleMeanStatistic(n=arm["n"], sum=arm["sum"], sum_squares=arm["sum_squares"])
    return ProportionStatistic(n=arm["n"], sum=arm["sum"])


def xp_stat(arm: Arm) -> MeanStats | ProportionStats:
    if "sum_squares" in arm:
        return MeanStats(int(arm["n"]), arm["sum"], arm["sum_squares"])
    return ProportionStats(int(arm["n"]), arm["sum"])


def gbstats(arms: tuple[Arm, Arm], prior: dict[str, Any], inverse: bool, relative: bool) -> Any:
    config = EffectBayesianConfig(
        prior_effect=GbPrior(**prior),
        inverse=inverse,
        difference_type="relative" if relative else "absolute",
    )
    return EffectBayesianABTest(gb_stat(arms[0]), gb_stat(arms[1]), config).compute_result()


def assert_matches(
    estimate: Mapping[str, Any], reading: Mapping[str, float] | None, gb: Any
) -> None:
    """xp's posterior (an estimate's JSON and its readings) is gbstats' result to 1e-6."""
    assert gb.error_message is None
    assert reading is not None
    got = {
        "mean": estimate["estimate"],
        "sd": estimate["se"],
        "ci_low": estimate["ci_low"],
        "ci_high": estimate["ci_high"],
        "chance_to_win": reading["chance_to_win"],
        # gbstats' risk is [control, treatment]: the expected loss of keeping each
        "risk_control": reading["risk_control"],
        "risk_treatment": reading["risk_treatment"],
    }
    want = {
        "mean": gb.expected,
        "sd": gb.uplift.stddev,
        "ci_low": gb.ci[0],
        "ci_high": gb.ci[1],
        "chance_to_win": gb.chance_to_win,
        "risk_control": gb.risk[0],
        "risk_treatment": gb.risk[1],
    }
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=TOLERANCE, rel=TOLERANCE), key


CASES = [
    pytest.param(arms, prior, inverse, id=f"{a}, {p}{', inverse' if inverse else ''}")
    for a, arms in ARMS.items()
    for p, prior in PRIORS.items()
    for inverse in (False, True)
]


@pytest.mark.parametrize(("arms", "prior", "inverse"), CASES)
def test_the_engine_matches_gbstats_on_both_scales(
    arms: tuple[Arm, Arm], prior: dict[str, Any], inverse: bool
) -> None:
    result = bayesian_result(
        lift_moments(xp_stat(arms[0]), xp_stat(arms[1])), 0.05, GaussianPrior(**prior)
    )
    assert result.reason is None
    direction = "decrease" if inverse else "increase"
    for scale, relative in (("relative", True), ("absolute", False)):
        estimate = getattr(result, scale)
        reading = readings(estimate, direction)
        assert_matches(estimate.to_dict(), reading, gbstats(arms, prior, inverse, relative))


def request(arms: tuple[Arm, Arm], prior: dict[str, Any], inverse: bool) -> dict[str, Any]:
    kind = "mean" if "sum_squares" in arms[0] else "proportion"
    variants = [
        {"key": key, **arm} for key, arm in zip(("control", "treatment"), arms, strict=True)
    ]
    return {
        "metric": {"kind": kind},
        "method": "bayesian",
        "prior": prior,
        "direction": "decrease" if inverse else "increase",
        "variants": variants,
    }


@pytest.mark.parametrize(("arms", "prior", "inverse"), CASES)
def test_analyze_matches_gbstats(
    arms: tuple[Arm, Arm], prior: dict[str, Any], inverse: bool
) -> None:
    (row,) = analyze(request(arms, prior, inverse))["results"]
    assert_matches(row["relative"], row["bayesian"], gbstats(arms, prior, inverse, relative=True))


def test_over_http_every_case_matches_gbstats(make_app: Callable[..., Flask]) -> None:
    api = make_app(api_keys={"a": "admin"}).test_client()
    for param in CASES:
        arms, prior, inverse = param.values
        response = api.post(
            "/v1/analyze", json=request(arms, prior, inverse), headers={"Authorization": "Bearer a"}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        (row,) = response.get_json()["results"]
        assert_matches(row["relative"], row["bayesian"], gbstats(arms, prior, inverse, True))


def test_tiny_n_below_the_sufficiency_rule_matches_gbstats_in_the_engine_only() -> None:
    # 3 and 2 units: gbstats computes a posterior; xp's effect posterior agrees, but the
    # results and /v1/analyze call it insufficient_data (fewer than 10 units an arm).
    arms = ({"n": 3, "sum": 6.0, "sum_squares": 14.0}, {"n": 2, "sum": 7.0, "sum_squares": 25.0})
    prior = PRIORS["proper N(0.05, 0.01)"]
    assert lift_moments(xp_stat(arms[0]), xp_stat(arms[1])).reason == "insufficient_data"
    # the delta-method moments gbstats reads: means 2 and 3.5, sample variances 1 and 0.5
    lift, se = moments(3, 2.0, 1.0, 2, 3.5, 0.5)
    post = effect_posterior(lift, se, GaussianPrior(**prior))
    assert post is not None
    gb = gbstats(arms, prior, inverse=False, relative=True)
    reading = {
        "chance_to_win": post.chance_to_win,
        "risk_control": post.risk_control,
        "risk_treatment": post.risk_treatment,
    }
    estimate = {
        "estimate": post.mean,
        "se": post.sd,
        "ci_low": post.ci_low,
        "ci_high": post.ci_high,
    }
    assert_matches(estimate, reading, gb)
    (row,) = analyze(request(arms, prior, inverse=False))["results"]
    assert row["reason"] == "insufficient_data" and row["bayesian"] is None
    assert row["significant"] is False and row["rule"].startswith("insufficient data")


DEGENERATE = {
    "zero variance in both arms": (
        {"n": 50, "sum": 50.0, "sum_squares": 50.0},
        {"n": 50, "sum": 100.0, "sum_squares": 200.0},
    ),
    "zero variance in the control": (
        {"n": 50, "sum": 50.0, "sum_squares": 50.0},
        {"n": 50, "sum": 60.0, "sum_squares": 90.0},
    ),
    "one unit an arm": (
        {"n": 1, "sum": 2.0, "sum_squares": 4.0},
        {"n": 1, "sum": 3.0, "sum_squares": 9.0},
    ),
    "a zero control mean": (
        {"n": 40, "sum": 0.0, "sum_squares": 10.0},
        {"n": 40, "sum": 4.0, "sum_squares": 12.0},
    ),
    "no conversions in the control": ({"n": 400, "sum": 0}, {"n": 400, "sum": 12}),
    "every unit converts": ({"n": 400, "sum": 400}, {"n": 400, "sum": 390}),
}


@pytest.mark.parametrize("arms", list(DEGENERATE.values()), ids=list(DEGENERATE))
@pytest.mark.parametrize("prior", [PRIORS["flat"], PRIORS["proper N(0, 0.3^2)"]])
def test_where_gbstats_answers_a_sentinel_xp_says_insufficient_data(
    arms: tuple[Arm, Arm], prior: dict[str, Any], make_app: Callable[..., Flask]
) -> None:
    gb = gbstats(arms, prior, inverse=False, relative=True)
    assert gb.error_message is not None  # gbstats' sentinel
    assert (gb.chance_to_win, gb.risk, gb.ci) == (0.5, [0, 0], [0, 0])
    api = make_app(api_keys={"a": "admin"}).test_client()
    response = api.post(
        "/v1/analyze", json=request(arms, prior, False), headers={"Authorization": "Bearer a"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    (row,) = json.loads(text)["results"]
    assert row["reason"] == "insufficient_data"
    assert row["bayesian"] is None and row["significant"] is False
    for scale in ("relative", "absolute"):
        assert row[scale]["ci_low"] is None and row[scale]["p_value"] is None
    assert row["rule"] == "insufficient data: no posterior to judge"


# (n, sum, sum_squares, sum_x, sum_x2, sum_xy) per arm, control first: a 10% raw lift with a
# covariate correlated ~0.67, and the same shifted so the control's adjusted mean is far from
# its raw one (pre-period means 3.5 and 10.0)
CUPED_ARMS = {
    "10% lift": (
        (500, 2000.0, 12491.0, 1750.0, 10117.0, 9994.0),
        (480, 2112.0, 14082.8, 1728.0, 10292.3, 10716.7),
    ),
    "unbalanced pre-period": (
        (500, 2000.0, 12491.0, 1750.0, 10117.0, 9994.0),
        (480, 2112.0, 14082.8, 4800.0, 49000.0, 22000.0),
    ),
}


def gb_cuped(arms: tuple[tuple[float, ...], ...]) -> list[Any]:
    stats = [
        RegressionAdjustedStatistic(
            n=int(a[0]),
            post_statistic=SampleMeanStatistic(n=int(a[0]), sum=a[1], sum_squares=a[2]),
            pre_statistic=SampleMeanStatistic(n=int(a[0]), sum=a[3], sum_squares=a[4]),
            post_pre_sum_of_products=a[5],
            theta=0.0,
        )
        for a in arms
    ]
    theta = compute_theta(stats[0], stats[1])
    for stat in stats:
        stat.theta = theta
    return stats


@pytest.mark.parametrize("arms", list(CUPED_ARMS.values()), ids=list(CUPED_ARMS))
@pytest.mark.parametrize("prior", [PRIORS["proper N(0, 0.3^2)"], PRIORS["proper N(0.05, 0.01)"]])
def test_a_proper_prior_under_cuped_matches_gbstats_on_the_absolute_scale(
    arms: tuple[tuple[float, ...], ...], prior: dict[str, Any]
) -> None:
    # The relative prior reaches the absolute scale times |raw control mean| (gbstats'
    # unadjusted_mean), not the CUPED-adjusted mean. Only the absolute scale: gbstats 0.8.0's
    # Bayesian test still gives a CUPED relative lift the unadjusted delta-method variance,
    # which GrowthBook replaced (frequentist_variance_relative_cuped, test_cuped.py).
    metrics = [MeanStats(int(a[0]), a[1], a[2]) for a in arms]
    covariates: list[CovariateStats | None] = [CovariateStats(a[3], a[4], a[5]) for a in arms]
    comparison = cuped_compare(metrics, covariates, treatment=1)
    assert comparison.reason is None
    control = comparison.moments.control
    assert control.mean != pytest.approx(control.reference_mean, rel=5e-3)
    result = bayesian_result(comparison.moments, 0.05, GaussianPrior(**prior))
    a, b = gb_cuped(arms)
    config = EffectBayesianConfig(prior_effect=GbPrior(**prior), difference_type="absolute")
    gb = EffectBayesianABTest(a, b, config).compute_result()
    assert_matches(result.absolute.to_dict(), readings(result.absolute, "increase"), gb)
