from __future__ import annotations

import pytest

from xp.stats.decision import (
    GUARDRAIL_BREACHED,
    INSUFFICIENT_DATA,
    KEEP_RUNNING,
    NO_SHIP,
    SHIP,
    SRM_ALARM,
    MetricComparison,
    Role,
    decide,
)
from xp.stats.frequentist import Estimate, LiftResult
from xp.stats.srm import srm_test

UNITS = {"control": 5000, "green": 5000}


def _result(lift: float, p: float | None, reason: str | None = None) -> LiftResult:
    low, high = (lift - 0.05, lift + 0.05) if p is not None else (None, None)
    estimate = Estimate(lift, 0.02 if p is not None else None, low, high, p)
    return LiftResult(estimate, estimate, 1.0, 1.0 + lift, "frequentist", reason)


def _cmp(
    lift: float,
    p: float | None,
    role: Role = "primary",
    metric: str = "purchase_rate",
    variant: str = "green",
    direction: str = "increase",
    reason: str | None = None,
) -> MetricComparison:
    return MetricComparison(metric, variant, role, direction, _result(lift, p, reason))  # type: ignore[arg-type]


def test_srm_alarm_wins_over_everything() -> None:
    srm = srm_test([5300, 4700], [1, 1])
    decision = decide([_cmp(0.1, 0.001)], UNITS, srm=srm)
    assert decision.decision == SRM_ALARM
    assert "Sample ratio mismatch" in decision.reasons[0]


def test_guardrail_breach_stops_a_winner() -> None:
    comparisons = [
        _cmp(0.1, 0.001),
        _cmp(0.2, 0.01, role="guardrail", metric="refund_rate", direction="decrease"),
    ]
    decision = decide(comparisons, UNITS)
    assert decision.decision == GUARDRAIL_BREACHED
    assert decision.reasons[0].startswith("refund_rate: green is +20.0%")
    assert "significantly worse" in decision.reasons[0]


def test_guardrail_moving_the_good_way_is_not_a_breach() -> None:
    comparisons = [
        _cmp(0.1, 0.001),
        _cmp(-0.2, 0.01, role="guardrail", metric="refund_rate", direction="decrease"),
    ]
    decision = decide(comparisons, UNITS)
    assert decision.decision == SHIP
    assert "refund_rate: no guardrail breached." in decision.reasons
    assert not any("significantly worse" in r for r in decision.reasons)


@pytest.mark.parametrize(
    ("units", "comparisons"),
    [
        ({"control": 50, "green": 5000}, [_cmp(0.1, 0.001)]),
        (UNITS, [_cmp(0.1, None, reason="insufficient_data")]),
        (UNITS, [_cmp(0.1, 0.001, role="secondary")]),
    ],
)
def test_insufficient_data(units: dict[str, int], comparisons: list[MetricComparison]) -> None:
    decision = decide(comparisons, units, min_sample=100)
    assert decision.decision == INSUFFICIENT_DATA
    assert decision.reasons


def test_ship_names_the_best_winner() -> None:
    comparisons = [
        _cmp(0.05, 0.01, variant="green"),
        _cmp(0.08, 0.001, variant="blue"),
        _cmp(0.10, 0.2, variant="red"),
    ]
    units = {"control": 5000, "green": 5000, "blue": 5000, "red": 5000}
    decision = decide(comparisons, units)
    assert decision.decision == SHIP
    assert decision.winner == "blue"
    assert decision.reasons[0].startswith("Ship blue")


def test_a_winner_must_not_lose_another_primary() -> None:
    comparisons = [_cmp(0.05, 0.01), _cmp(-0.05, 0.01, metric="revenue")]
    decision = decide(comparisons, UNITS)
    assert decision.decision == NO_SHIP  # its only variant is significantly worse somewhere


def test_decrease_direction_reads_a_drop_as_better() -> None:
    decision = decide([_cmp(-0.1, 0.001, metric="latency", direction="decrease")], UNITS)
    assert decision.decision == SHIP


def test_not_significant_keeps_running_with_a_plain_sentence() -> None:
    decision = decide([_cmp(0.043, 0.3)], UNITS)
    assert decision.decision == KEEP_RUNNING
    assert decision.reasons == (
        "purchase_rate: green is +4.3% (95% CI -0.7% to +9.3%), not significant yet.",
    )


def test_planned_sample_reached_without_winner_is_no_ship() -> None:
    decision = decide([_cmp(0.01, 0.4)], UNITS, planned_sample=4000)
    assert decision.decision == NO_SHIP
    assert "planned 4,000 units" in decision.reasons[0]


def test_corrected_p_value_overrides_the_raw_one() -> None:
    comparison = MetricComparison(
        "purchase_rate", "green", "primary", "increase", _result(0.05, 0.03), p_value=0.09
    )
    assert decide([comparison], UNITS).decision == KEEP_RUNNING


def test_to_dict() -> None:
    d = decide([_cmp(0.05, 0.01)], UNITS).to_dict()
    assert d["decision"] == SHIP and d["winner"] == "green" and isinstance(d["reasons"], list)


def test_an_insufficient_comparison_never_ships_nor_breaches() -> None:
    # Even if a p-value below alpha reached it (a caller's corrected p, an old running
    # minimum), a comparison marked insufficient_data is not significant either way.
    breach = MetricComparison(
        "refund_rate",
        "green",
        "guardrail",
        "decrease",
        _result(0.5, 0.001, reason=INSUFFICIENT_DATA),
        p_value=0.001,
    )
    win = MetricComparison(
        "purchase_rate",
        "green",
        "primary",
        "increase",
        _result(0.3, 0.001, reason=INSUFFICIENT_DATA),
        p_value=0.001,
    )
    assert not breach.worse(0.05) and not win.better(0.05)
    decision = decide([win, breach], UNITS)
    assert decision.decision == INSUFFICIENT_DATA
    assert "purchase_rate: green cannot be tested yet (insufficient data)." in decision.reasons
    alone = decide([_cmp(0.1, 0.2), breach], UNITS)
    assert alone.decision == KEEP_RUNNING
    assert (
        "refund_rate: guardrail cannot be assessed yet for green (insufficient data); "
        "not cleared." in alone.reasons
    )
    assert not any("no guardrail breached" in r for r in alone.reasons)


def test_a_winner_with_an_unassessed_guardrail_keeps_running() -> None:
    blind = _cmp(0.0, None, role="guardrail", metric="refund_rate", reason=INSUFFICIENT_DATA)
    decision = decide([_cmp(0.1, 0.001), blind], UNITS)
    assert decision.decision == KEEP_RUNNING and decision.winner is None
    assert decision.reasons[0] == (
        "Keep running: green looks better, but guardrail refund_rate cannot be assessed yet."
    )
