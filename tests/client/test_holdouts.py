"""Holdouts in the SDK: a 5% holdout over 100k units keeps every held-out unit out of every
opted-in experiment and feature, moves nobody else, leaves opted-out experiments alone and
logs each reached unit's holdout exposure exactly once."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from xp_client import Client
from xp_client.config_source import FEATURES, HOLDOUTS, compile_config
from xp_client.definition import DefinitionError
from xp_client.engine import Assignment, assigner_for
from xp_client.features import Feature, evaluate_feature
from xp_client.holdouts import AssignFn, Holdout, guard, holdouts_of_experiment
from xp_client.transport import FakeTransport

UNITS = [f"u-{i}" for i in range(100_000)]
IN = ("exp-a", "exp-b")  # opted in
OUT = "exp-free"


def experiment(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "variants": [{"key": "control", "weight": 0.5}, {"key": "t", "weight": 0.5}],
    }


FEATURE = {"key": "flag", "type": "boolean", "default": False, "rules": [{"value": True}]}
HOLDOUT = {
    "key": "h5",
    "share": 0.05,
    "salt": "h5-salt",
    "applies_to": {"experiments": list(IN), "features": ["flag"]},
}


def document(*holdouts: dict[str, Any]) -> dict[str, Any]:
    return {
        "experiments": [experiment(k) for k in (*IN, OUT)],
        "features": [FEATURE],
        "holdouts": list(holdouts),
    }


def engine(config: dict[str, Any]) -> tuple[AssignFn, dict[str, Feature]]:
    """The engine's ``assign`` over ``config`` as the SDK wires it, without event logging."""
    experiments, extras = compile_config(config, logging.getLogger("t"))
    holdouts = extras[HOLDOUTS]
    assigners: dict[str, Callable[..., Assignment]] = {
        k: assigner_for(h.experiment) for k, h in holdouts.items()
    }

    def assign(key: str, _: None, attributes: Mapping[str, Any]) -> Assignment | None:
        return assigners[key](attributes)

    for key, exp in experiments.items():
        behind = holdouts_of_experiment(holdouts, key)
        assigners[key] = guard(assigner_for(exp), exp, behind, assign)
    return assign, extras[FEATURES]


def test_a_5_percent_holdout_over_100k_units() -> None:
    assign, features = engine(document(HOLDOUT))
    plain, _ = engine(document())
    groups: Counter[str] = Counter()
    for unit in UNITS:
        attributes = {"user_id": unit}
        group = assign("h5", None, attributes)
        assert group is not None
        answers = [assign(k, None, attributes) for k in (*IN, OUT)]
        before = [plain(k, None, attributes) for k in (*IN, OUT)]
        feature = evaluate_feature(features["flag"], attributes, features, assign)
        if group.in_experiment:
            groups[group.variant] += 1
        if group.in_experiment and group.variant == "holdout":
            assert [a and (a.variant, a.in_experiment, a.reason) for a in answers[:-1]] == [
                ("control", False, "holdout")
            ] * len(IN)
            assert (feature.value, feature.source, feature.experiment) == (False, "holdout", "h5")
        else:  # nobody else moves
            assert answers[:-1] == before[:-1]
            assert feature.source == "force"
        assert answers[-1] == before[-1]  # opted out: untouched, held out or not
    # Binomial share of 100k: sd = sqrt(.05 * .95 / 1e5) = 0.00069; 5 sd of slack.
    assert abs(groups["holdout"] / len(UNITS) - 0.05) < 0.0035
    assert abs(groups["comparison"] / len(UNITS) - 0.05) < 0.0035


def test_the_sdk_logs_each_reached_unit_of_the_holdout_once() -> None:
    transport = FakeTransport()
    sdk = Client(config=document(HOLDOUT), transport=transport, init_timeout=0, batch_size=5000,
                 capacity=100_000, flush_interval=60)  # fmt: skip
    expected = set()
    try:
        for unit in UNITS[:20_000]:
            for _ in range(2):  # a unit comes back
                answers = [sdk.get_variant(k, unit) for k in IN] + [sdk.evaluate("flag", unit)]
            group = sdk.get_variant("h5", unit)
            if group.in_experiment:
                expected.add((unit, group.variant))
                assert (group.variant == "holdout") == (answers[0].reason == "holdout")
        assert sdk.flush(timeout=30)
    finally:
        sdk.close()
    exposures = [
        (e["user_id"], e["variant"])
        for r in transport.requests
        if r.path == "/v1/events" and r.body
        for e in r.body["events"]
        if e["experiment"] == "h5"
    ]
    # Once each, though every unit reached three opted-in answers twice.
    assert len(exposures) == len(set(exposures))
    assert set(exposures) == expected and 1500 < len(expected) < 2500


def test_raising_the_share_only_adds_units() -> None:
    def held(share: float) -> set[str]:
        sdk = Client.offline(document({**HOLDOUT, "share": share}))
        return {u for u in UNITS[:20_000] if sdk.get_variant("exp-a", u).reason == "holdout"}

    low, high = held(0.02), held(0.1)
    assert low < high


def test_applies_to_all_and_a_stopped_holdout() -> None:
    everything = Client.offline(document({"key": "all", "share": 0.5, "applies_to": "all"}))
    reasons = Counter(everything.get_variant(OUT, u).reason for u in UNITS[:4000])
    assert 1800 < reasons["holdout"] < 2200  # half of 4000 held out, sd 32
    stopped = Client.offline(document({**HOLDOUT, "status": "stopped"}))
    assert all(stopped.get_variant("exp-a", u).reason == "assigned" for u in UNITS[:4000])
    assert not any(stopped.get_variant("h5", u).in_experiment for u in UNITS[:4000])


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"share": 0}, "share"),
        ({"share": 0.6}, "share"),
        ({"share": "5%"}, "share"),
        ({"status": "paused"}, "status"),
        ({"applies_to": ["exp-a"]}, "bad holdout config"),
    ],
)
def test_a_bad_served_holdout_is_refused(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(DefinitionError, match=needle):
        Holdout.from_dict({**HOLDOUT, **change})


def test_a_bad_holdout_in_the_config_is_skipped_not_fatal() -> None:
    sdk = Client.offline(document({**HOLDOUT, "share": 2}))
    assert sdk.get_variant("exp-a", "u-1").reason == "assigned"
    assert sdk.is_on("flag", "u-1")
