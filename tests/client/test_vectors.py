"""The engine passes every pinned case in ``tests/vectors/assignment_vectors.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xp_client.conditions import compile_condition
from xp_client.definition import Experiment
from xp_client.engine import assign_variant
from xp_client.hashing import bucket, bucket_ranges
from xp_client.unit_ids import canonical_unit_id

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "assignment_vectors.json").read_text()
)


def test_there_are_at_least_200_cases() -> None:
    assert sum(len(VECTORS[k]) for k in ("hash", "ranges", "conditions", "assignments")) >= 200
    reasons = {c["expected"]["reason"] for c in VECTORS["schedules"] + VECTORS["assignments"]}
    assert {"not_started", "ended", "assigned", "override", "missing_unit"} <= reasons
    assert len(VECTORS["unit_ids"]) >= 20


@pytest.mark.parametrize("case", VECTORS["hash"], ids=lambda c: f"{c['salt']}:{c['unit_id']}")
def test_hash_to_bucket(case: dict[str, Any]) -> None:
    assert bucket(case["salt"], case["unit_id"]) == case["bucket"]


@pytest.mark.parametrize("case", VECTORS["ranges"])
def test_bucket_to_variant(case: dict[str, Any]) -> None:
    ranges = bucket_ranges(case["weights"], case["coverage"])
    found = [i for i, (lo, hi) in enumerate(ranges) if lo <= case["bucket"] < hi]
    assert (found[0] if found else None) == case["variant_index"]


@pytest.mark.parametrize("case", VECTORS["conditions"], ids=lambda c: json.dumps(c["condition"]))
def test_condition(case: dict[str, Any]) -> None:
    assert compile_condition(case["condition"])(case["attributes"]) is case["expected"]


@pytest.mark.parametrize("case", VECTORS["assignments"])
def test_whole_assignment(case: dict[str, Any]) -> None:
    result = assign_variant(Experiment.from_dict(case["experiment"]), case["attributes"])
    expected = case["expected"]
    assert (result.variant, result.in_experiment, result.reason) == (
        expected["variant"],
        expected["in_experiment"],
        expected["reason"],
    )


@pytest.mark.parametrize("case", VECTORS["schedules"], ids=lambda c: json.dumps(c)[:80])
def test_schedule_at_a_given_now(case: dict[str, Any]) -> None:
    result = assign_variant(
        Experiment.from_dict(case["experiment"]), case["attributes"], now=case["now"]
    )
    expected = case["expected"]
    assert (result.variant, result.in_experiment, result.reason) == (
        expected["variant"],
        expected["in_experiment"],
        expected["reason"],
    )


@pytest.mark.parametrize("case", VECTORS["unit_ids"], ids=lambda c: repr(c["value"])[:40])
def test_canonical_unit_id(case: dict[str, Any]) -> None:
    assert canonical_unit_id(case["value"]) == case["canonical"]
