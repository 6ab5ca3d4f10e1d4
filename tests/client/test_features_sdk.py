"""Feature evaluation in the SDK: rollouts only add units, the kill switch serves the
default and logs nothing, an experiment rule logs one exposure per unit, nothing raises."""

from __future__ import annotations

from typing import Any

import numpy as np

from xp_client import Client
from xp_client.transport import FakeTransport, TransportError

EXPERIMENT = {
    "key": "checkout-button",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
}


def document(*features: dict[str, Any]) -> dict[str, Any]:
    return {"experiments": [EXPERIMENT], "features": list(features)}


def flag(rules: list[dict[str, Any]], enabled: bool = True, **extra: Any) -> dict[str, Any]:
    return {"key": "new-checkout", "type": "boolean", "default": False, "enabled": enabled,
            "rules": rules, **extra}  # fmt: skip


def exposures(transport: FakeTransport) -> list[dict[str, Any]]:
    return [
        e
        for r in transport.requests
        if r.path == "/v1/events" and r.body
        for e in r.body["events"]
        if e["type"] == "exposure"
    ]


UNITS = [f"u-{i}" for i in range(20_000)]


def test_raising_a_rollout_from_10_to_50_percent_adds_units_and_moves_none() -> None:
    def on_at(share: float) -> set[str]:
        sdk = Client.offline(document(flag([{"rollout": share, "value": True}])))
        return {u for u in UNITS if sdk.is_on("new-checkout", u)}

    low, high = on_at(0.1), on_at(0.5)
    assert low <= high  # nobody who had it loses it
    # Binomial shares: sd = sqrt(p(1-p)/n) is 0.0021 at 10% and 0.0035 at 50%; 5 sd of slack.
    assert abs(len(low) / len(UNITS) - 0.1) < 0.011
    assert abs(len(high) / len(UNITS) - 0.5) < 0.018
    rolled = Client.offline(document(flag([{"rollout": 0.5, "value": True}])))
    assert rolled.evaluate("new-checkout", UNITS[0]).source in ("rollout", "default")


def test_the_kill_switch_serves_the_default_and_logs_nothing() -> None:
    transport = FakeTransport()
    rules = [{"experiment": "checkout-button", "values": {"control": False, "green": True}}]
    sdk = Client.offline(document(flag(rules, enabled=False, default=True)), transport=transport)
    try:
        results = [sdk.evaluate("new-checkout", u) for u in UNITS[:500]]
        assert {(r.value, r.source, r.rule_index) for r in results} == {(True, "disabled", None)}
        assert sdk.flush(timeout=5)
        assert exposures(transport) == []
    finally:
        sdk.close()


def test_an_experiment_rule_logs_exactly_one_exposure_per_unit() -> None:
    transport = FakeTransport()
    rules = [
        {"condition": {"email": {"$regex": "@example\\.com$"}}, "value": True},
        {"experiment": "checkout-button", "values": {"control": False, "green": True}},
    ]
    sdk = Client.offline(document(flag(rules)), transport=transport)
    try:
        units = UNITS[:300]
        for _ in range(3):  # evaluated three times each, logged once each
            for u in units:
                result = sdk.evaluate("new-checkout", u, {"email": "x@y.z"})
                assert result.source == "experiment"
                assert result.value is (result.variant == "green")
                assert result.variant == sdk.get_variant("checkout-button", u).variant
        forced = sdk.evaluate("new-checkout", "staff", {"email": "a@example.com"})
        assert (forced.value, forced.source, forced.rule_index) == (True, "force", 0)
        assert sdk.flush(timeout=5)
        logged = exposures(transport)
        assert sorted(e["user_id"] for e in logged) == sorted(units)
        assert {e["experiment"] for e in logged} == {"checkout-button"}
        variants = {e["user_id"]: e["variant"] for e in logged}
        assert all(variants[u] == sdk.get_variant("checkout-button", u).variant for u in units)
        share = np.mean([variants[u] == "green" for u in units])
        assert 0.35 < share < 0.65  # 50/50 over 300 units: sd 0.029
    finally:
        sdk.close()


def test_a_unit_outside_the_experiment_falls_through_to_the_next_rule() -> None:
    partial = {**EXPERIMENT, "coverage": 0.3}
    doc = {
        "experiments": [partial],
        "features": [
            flag(
                [
                    {"experiment": "checkout-button", "values": {"control": False, "green": True}},
                    {"value": True},
                ]
            )  # fmt: skip
        ],
    }
    sdk = Client.offline(doc)
    sources = [sdk.evaluate("new-checkout", u).source for u in UNITS[:2000]]
    inside = sources.count("experiment") / len(sources)
    assert 0.25 < inside < 0.35  # coverage 0.3 over 2000 units: sd 0.010
    assert set(sources) == {"experiment", "force"}


def test_unknown_missing_and_broken_never_raise() -> None:
    sdk = Client.offline(document(flag([{"rollout": 1.0, "value": True}])))
    assert sdk.get_value("nope", "u-1", default="fallback") == "fallback"
    assert sdk.evaluate("nope", "u-1").source == "unknown_feature"
    assert sdk.is_on("new-checkout", None) is False  # no unit: the rollout cannot place it
    assert sdk.evaluate("new-checkout", None).source == "default"
    assert sdk.is_on("new-checkout", "u-1", {"user_id": ["not", "an", "id"]}) is True
    weird = sdk.evaluate("new-checkout", "u" * 10_000)  # beyond the unit id limit
    assert weird.value is False and weird.source == "default"
    assert sdk.is_on("new-checkout", "u-1", attributes=object()) is False  # type: ignore[arg-type]


def test_a_bad_feature_entry_is_skipped_and_the_others_served() -> None:
    good = {**flag([{"value": True}]), "key": "good"}
    wrong_type = flag([{"value": "yes"}])
    cyclic_shape = {"key": "broken", "rules": "not a list"}
    sdk = Client.offline(document(good, wrong_type, cyclic_shape))
    assert sdk.is_on("good", "u-1") is True
    assert sdk.evaluate("new-checkout", "u-1").source == "unknown_feature"
    assert sdk.evaluate("broken", "u-1").source == "unknown_feature"


def test_a_prerequisite_cycle_in_a_served_config_is_cut_not_recursed() -> None:
    a = {**flag([{"value": True}]), "key": "a", "prerequisites": [{"feature": "b", "value": True}]}
    b = {**flag([{"value": True}]), "key": "b", "prerequisites": [{"feature": "a", "value": True}]}
    sdk = Client.offline(document(a, b))
    assert sdk.evaluate("a", "u-1").source == "prerequisite"


def test_remote_mode_asks_evaluate_and_falls_back_on_failure() -> None:
    from xp_client.transport import Response

    answer = (
        b'{"features": {"new-checkout": {"value": true, "source": "rollout", "rule_index": 1}}}'
    )
    no_unit = (
        b'{"features": {"new-checkout": {"value": false, "source": "default", "rule_index": null}}}'
    )
    replies = [Response(200, {}, answer), TransportError("down"), 500, Response(200, {}, no_unit)]
    transport = FakeTransport(replies)
    sdk = Client(mode="remote", transport=transport, flush_interval=60)
    try:
        got = sdk.evaluate("new-checkout", "u-1", {"country": "US"})
        assert (got.value, got.source, got.rule_index) == (True, "rollout", 1)
        request = transport.requests[0]
        assert (request.path, request.body) == (
            "/v1/evaluate",
            {"user_id": "u-1", "attributes": {"country": "US"}, "features": ["new-checkout"]},
        )
        assert sdk.get_value("new-checkout", "u-1", default="x") == "x"  # transport error
        assert sdk.evaluate("new-checkout", "u-1").source == "remote_error"  # 500
        # No unit: the service is asked without one and answers as local evaluation does.
        assert sdk.evaluate("new-checkout", None).source == "default"
        assert transport.requests[-1].body == {"attributes": {}, "features": ["new-checkout"]}
        assert sdk.evaluate("new-checkout", True).source == "missing_unit"  # not a unit id
        assert len(transport.requests) == 4
    finally:
        sdk.close()
