"""The assignment fingerprint: what is in it, what is not, and where two definitions differ."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.support.experiments import EXPERIMENT, make_definition
from xp.definitions.fingerprint import (
    HASH_SCHEME,
    assignment_basis,
    canonical_json,
    changed_fields,
    fingerprint,
)
from xp_client.hashing import bucket

LAYER = {"name": "checkout", "range": [0, 5000]}


def fp(**changes: Any) -> str:
    return fingerprint(make_definition(**changes).experiment)


def test_the_fingerprint_is_sha256_of_the_canonical_basis_written_out() -> None:
    definition = make_definition(salt="s", unit="device_id")
    basis = {
        "hash": HASH_SCHEME,
        "layer": None,
        "salt": "s",
        "unit": "device_id",
        "variants": [["control", 0.5], ["treatment", 0.5]],
    }
    text = json.dumps(basis, sort_keys=True, separators=(",", ":"))
    assert assignment_basis(definition.experiment) == basis
    assert canonical_json(basis) == text
    assert (
        fingerprint(definition.experiment) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    )


def test_the_hash_scheme_still_places_units_where_version_1_did() -> None:
    # If this fails, the engine's hashing changed: bump HASH_SCHEME["version"] so stored
    # fingerprints stop matching and running experiments are refused instead of re-bucketed.
    assert HASH_SCHEME["version"] == 1
    assert bucket("checkout-button", "u-1") == 7227  # mmh3_x86_32("checkout-button:u-1") % 10000
    assert bucket("exp", "42") == 189


@pytest.mark.parametrize(
    "changes",
    [
        {"coverage": 0.1},
        {"targeting": {"country": "US"}},
        {"overrides": {"qa": "treatment"}},
        {"status": "stopped"},
        {"name": "renamed", "hypothesis": "another", "owner": "x"},
        {"metrics": []},
        {
            "variants": [
                {"key": "control", "weight": 0.5, "payload": {"a": 1}},
                {"key": "treatment", "weight": 0.5},
            ]
        },
    ],
    ids=["coverage", "targeting", "overrides", "status", "texts", "metrics", "payload"],
)
def test_what_only_decides_who_enters_is_left_out(changes: dict[str, Any]) -> None:
    assert fp(**changes) == fp()


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"salt": "other"}, "salt"),
        ({"unit": "device_id"}, "unit"),
        (
            {"variants": [{"key": "control", "weight": 0.4}, {"key": "treatment", "weight": 0.6}]},
            "variants.0.weight",
        ),
        (
            {"variants": [{"key": "treatment", "weight": 0.5}, {"key": "control", "weight": 0.5}]},
            "variants",
        ),
        ({"variants": [*EXPERIMENT["variants"][:1], {"key": "b", "weight": 0.5}]}, "variants"),
        ({"layer": LAYER}, "layer"),
        ({"phase": 2}, "salt"),  # the default salt follows the phase
    ],
    ids=["salt", "unit", "weights", "order", "variant-key", "layer", "phase"],
)
def test_each_part_of_the_basis_changes_the_fingerprint_and_is_named(
    changes: dict[str, Any], path: str
) -> None:
    before, after = make_definition(), make_definition(**changes)
    assert fingerprint(before.experiment) != fingerprint(after.experiment)
    assert path in [p for p, _ in changed_fields(before.experiment, after.experiment)]


@pytest.mark.parametrize(
    ("layer", "path"),
    [
        ({**LAYER, "range": [0, 4000]}, "layer.range"),
        ({**LAYER, "salt": "other"}, "layer.salt"),
        ({**LAYER, "name": "other"}, "layer.name"),
    ],
)
def test_layer_changes_are_named_by_their_field(layer: dict[str, Any], path: str) -> None:
    before, after = make_definition(layer=LAYER), make_definition(layer=layer)
    assert fingerprint(before.experiment) != fingerprint(after.experiment)
    changes = changed_fields(before.experiment, after.experiment)
    assert path in dict(changes)


def test_an_unchanged_definition_has_no_changed_fields_and_huge_or_tiny_weights_stay_exact() -> (
    None
):
    weights = [{"key": "control", "weight": 1e-12}, {"key": "treatment", "weight": 1 - 1e-12}]
    a, b = make_definition(variants=weights), make_definition(variants=weights)
    assert changed_fields(a.experiment, b.experiment) == []
    assert fingerprint(a.experiment) == fingerprint(b.experiment) != fp()
