"""The Bayesian decision rule: its verdicts, their words, and the experiment decision.

Posteriors are built from delta-method moments (``effect_posterior`` under a flat prior is
``N(d, s^2)``), so each case's chance to win and risk are known in closed form:
``P(lift > 0) = Phi(d / s)`` and ``risk = s phi(d/s) - d Phi(-d/s)``.
"""

from __future__ import annotations

import pytest
from scipy import stats as sps

from xp.stats.bayesian import BayesianRule, BayesianSettings, GaussianPrior, bayesian_result
from xp.stats.decision import (
    GUARDRAIL_BREACHED,
    INSUFFICIENT_DATA,
    KEEP_RUNNING,
    SHIP,
    Direction,
    MetricComparison,
    Role,
    decide,
)
from xp.stats.frequentist import lift_moments
from xp.stats.sufficient import ProportionStats

UNITS = {"control": 20_000, "green": 20_000}


def comparison(
    control: int,
    green: int,
    n: int = 20_000,
    role: Role = "primary",
    direction: Direction = "increase",
    rule: BayesianRule | None = None,
    metric: str = "purchase_rate",
) -> MetricComparison:
    moments = lift_moments(ProportionStats(n, control), ProportionStats(n, green))
    result = bayesian_result(moments)
    return MetricComparison(metric, "green", role, direction, result, rule=rule)


def closed_form(c: MetricComparison) -> tuple[float, float]:
    d, s = c.result.relative.estimate, c.result.relative.se
    assert d is not None and s is not None
    z = d / s
    return float(sps.norm.cdf(z)), float(s * sps.norm.pdf(z) - d * sps.norm.cdf(-z))


def test_ship_needs_the_chance_to_win_and_the_risk() -> None:
    c = comparison(2000, 2110)  # +5.5% on a 10% rate
    win, risk = closed_form(c)
    assert win >= 0.95 and risk <= 0.0025
    assert c.better(0.05) and not c.worse(0.05)
    verdict = c.verdict
    assert verdict is not None and verdict.outcome == "better"
    assert verdict.text == f"chance to win {win:.1%} >= 95%, risk {risk:.2%} <= 0.25%"
    decision = decide([c], UNITS)
    assert decision.decision == SHIP and decision.winner == "green"
    assert f"purchase_rate (chance to win {win:.1%} >= 95%" in decision.reasons[0]
    assert "credible interval" in decision.reasons[1]


def test_a_risk_above_the_threshold_keeps_it_running() -> None:
    c = comparison(2000, 2110, rule=BayesianRule(0.95, risk_threshold=0.0001))
    win, risk = closed_form(c)
    assert win >= 0.95 and risk > 0.0001
    assert not c.better(0.05) and not c.significant(0.05)
    decision = decide([c], UNITS)
    assert decision.decision == KEEP_RUNNING
    assert f"but risk {risk:.2%} > 0.01%" in decision.reasons[0]


def test_a_stricter_chance_to_win_keeps_it_running() -> None:
    c = comparison(2000, 2110, rule=BayesianRule(chance_to_win=0.999))
    win, _ = closed_form(c)
    assert 0.95 <= win < 0.999
    assert decide([c], UNITS).decision == KEEP_RUNNING
    assert "neither >= 99.9% nor <= 0.1%" in (c.verdict.text if c.verdict else "")


def test_an_inverse_metric_ships_on_a_drop() -> None:
    c = comparison(2000, 1880, direction="decrease")  # fewer is better
    win, _ = closed_form(c)  # P(lift > 0): small
    verdict = c.verdict
    assert verdict is not None and verdict.outcome == "better"
    assert verdict.text.startswith(f"chance to win {1 - win:.1%} >= 95%")
    assert decide([c], UNITS).decision == SHIP


def test_a_guardrail_breaches_on_its_chance_to_lose() -> None:
    primary = comparison(2000, 2110)
    guard = comparison(500, 600, role="guardrail", direction="decrease", metric="refunds")
    lose = closed_form(guard)[0]  # P(refunds up)
    assert lose >= 0.95
    decision = decide([primary, guard], UNITS)
    assert decision.decision == GUARDRAIL_BREACHED
    assert decision.reasons == (
        f"refunds: green is {guard.result.relative.estimate:+.1%} (95% credible interval "
        f"{guard.result.relative.ci_low:+.1%} to {guard.result.relative.ci_high:+.1%}), "
        f"guardrail significantly worse (chance to lose {lose:.1%} >= 95%).",
    )


def test_insufficient_data_gives_no_verdict() -> None:
    c = comparison(3, 40, n=200)  # 3 conversions in the control: below the rule's 5
    assert c.result.reason == "insufficient_data"
    verdict = c.verdict
    assert verdict is not None and verdict.outcome is None
    assert not c.better(0.05) and not c.worse(0.05)
    decision = decide([c], {"control": 200, "green": 200})
    assert decision.decision == INSUFFICIENT_DATA


def test_words_never_round_onto_the_threshold() -> None:
    rule = BayesianRule()
    text = rule.judge({"chance_to_win": 0.94996, "risk_treatment": 0.0}).text
    assert text.startswith("chance to win 94.996%") and "neither" in text
    edge = rule.judge({"chance_to_win": 0.95, "risk_treatment": 0.0025})
    assert edge.outcome == "better"  # both bounds are inclusive
    assert edge.text == "chance to win 95.0% >= 95%, risk 0.25% <= 0.25%"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chance_to_win": 0.4}, "chance_to_win"),
        ({"chance_to_win": 1.0}, "chance_to_win"),
        ({"risk_threshold": -0.1}, "risk_threshold"),
        ({"risk_threshold": float("nan")}, "risk_threshold"),
    ],
)
def test_bad_thresholds_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BayesianRule(**kwargs)


def test_settings_read_the_block_the_older_name_and_overrides() -> None:
    block = {"prior": {"mean": 0.0, "variance": 0.04, "proper": True}, "chance_to_win": 0.9}
    settings = BayesianSettings.from_config({"bayesian": block}, {"risk_threshold": 0.01})
    assert settings == BayesianSettings(GaussianPrior(0.0, 0.04, True), BayesianRule(0.9, 0.01))
    older = BayesianSettings.from_config({"bayesian_prior": {"variance": 0.5, "proper": True}})
    assert older == BayesianSettings(GaussianPrior(0.0, 0.5, True), BayesianRule())
    assert BayesianSettings.from_config({}).to_dict() == {
        "prior": {"mean": 0.0, "variance": 1.0, "proper": False},
        "chance_to_win": 0.95,
        "risk_threshold": 0.0025,
    }
