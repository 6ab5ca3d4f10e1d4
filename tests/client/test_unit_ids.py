"""The canonical unit id: one mapping for hashing and logging, and why a value is refused."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant
from xp_client.hashing import bucket
from xp_client.transport import FakeTransport, Response
from xp_client.unit_ids import MAX_USER_ID, canonical_unit_id, unit_id_problem


class Plan(enum.IntEnum):
    PRO = 7


class Name(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Plan.PRO, "7"), (Name("n-1"), "n-1"), (2**64, "18446744073709551616"), (-1e-300, "-1e-300")],
)
def test_subclasses_and_extremes(value: Any, expected: str) -> None:
    assert canonical_unit_id(value) == expected
    assert unit_id_problem(value) is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "user_id is required"),
        ("", "user_id is required"),
        (True, "not a boolean"),
        (float("nan"), "finite number"),
        (float("-inf"), "finite number"),
        ("x" * (MAX_USER_ID + 1), f"longer than {MAX_USER_ID}"),
        (1e300, f"longer than {MAX_USER_ID}"),
        (b"42", "got bytes"),
        ((4, 2), "got tuple"),
    ],
)
def test_refusals_say_why(value: Any, words: str) -> None:
    assert canonical_unit_id(value) is None
    problem = unit_id_problem(value)
    assert problem is not None and words in problem
    assert not (unit_id_problem(value, "") or "").startswith("user_id")


EXPERIMENT = Experiment.from_dict(
    {
        "key": "ids",
        "unit": "device",
        "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
    }
)


def test_the_engine_hashes_the_canonical_id_of_any_unit_attribute() -> None:
    for value, text in ((42, "42"), (42.0, "42"), (-7.0, "-7"), (42.5, "42.5")):
        by_number = assign_variant(EXPERIMENT, {"device": value})
        by_text = assign_variant(EXPERIMENT, {"device": text})
        assert by_number == by_text and by_number.in_experiment
        index = 0 if bucket("ids", text) < 5000 else 1
        assert by_number.variant == "ab"[index]
    for bad in (True, False, None, "", float("nan"), "x" * 257, [42], {"id": 1}):
        assert assign_variant(EXPERIMENT, {"device": bad}).reason == "missing_unit"


def test_the_client_logs_what_it_hashed_for_exposures_and_conversions() -> None:
    fake = FakeTransport(default=lambda r: Response(304 if r.path == "/v1/config" else 202))
    config = {"experiments": [{"key": "ids", "variants": [{"key": "a", "weight": 1.0}]}]}
    xp = Client(config=config, transport=fake, init_timeout=0, flush_interval=3600)
    try:
        assert xp.get_variant("ids", user_id=42.0).in_experiment
        assert xp.get_variant("ids", user_id=42).in_experiment  # the same unit: no new exposure
        xp.track("purchase", user_id=42.0)
        xp.track("purchase", user_id=1e20)
        xp.override("ids", 7.0, "a")
        assert xp.get_variant("ids", user_id=7).reason == "override"
        assert xp.flush(timeout=5)
        assert [(e["type"], e["user_id"]) for e in fake.events] == [
            ("exposure", "42"),
            ("conversion", "42"),
            ("conversion", "100000000000000000000"),
        ]
        with pytest.raises(ValueError, match="not a boolean"):
            xp.override("ids", True, "a")
    finally:
        xp.close(timeout=1)


def test_remote_mode_sends_the_canonical_id() -> None:
    answer = {"assignments": {"ids": {"variant": "a", "payload": None, "in_experiment": True,
                                      "reason": "assigned"}}}  # fmt: skip
    fake = FakeTransport(default=lambda r: Response(200, {}, json.dumps(answer).encode()))
    xp = Client("http://xp.invalid", mode="remote", transport=fake, flush_interval=3600)
    try:
        assert xp.get_variant("ids", user_id=42.0).reason == "assigned"
        missing = xp.get_variant("ids", user_id=True)
        assert (missing.in_experiment, missing.reason) == (False, "missing_unit")
        sent = [r.body for r in fake.requests if r.path == "/v1/assign"]
        assert sent == [{"user_id": "42", "attributes": {}, "experiments": ["ids"]}]
    finally:
        xp.close(timeout=1)
