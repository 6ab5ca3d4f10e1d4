"""The fingerprint of what decides a unit's bucket, and where two definitions differ in it.

The store records an experiment's fingerprint at its first exposure (first writer wins); a
definition whose fingerprint differs is refused (:mod:`xp.definitions.guard`), because
loading it would move units that already have data to other variants.

What decides the bucket: the unit attribute, the salt (after its phase default), the variant
keys in order and their weights (the ranges are cumulative), the layer (name, salt, range)
and the hashing scheme itself. Coverage, targeting, overrides and status only decide *who*
enters, never where an entered unit lands, so they stay out: a coverage ramp is allowed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from xp_client.definition import Experiment
from xp_client.hashing import BUCKETS

# The engine's hashing (xp_client.hashing, inlined in xp_client.engine): bump ``version``
# whenever that changes how a unit id becomes a bucket, so stored fingerprints stop matching.
# tests/definitions/test_fingerprint.py pins one bucket so a change there fails loudly.
HASH_SCHEME: dict[str, Any] = {
    "function": "murmur3_x86_32",
    "seed": 0,
    "input": "<salt>:<unit id>",
    "buckets": BUCKETS,
    "ranges": "cumulative weights times coverage",
    "version": 1,
}


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the store holds of one experiment (per phase): its fingerprint and last definition."""

    experiment: str  # the store's experiment id: ``key`` for phase 1, ``key@N`` for phase N
    fingerprint: str
    definition: str  # canonical JSON of the definition's config, the last one that took data


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, ASCII, no NaN (both backends store it)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def assignment_basis(experiment: Experiment) -> dict[str, Any]:
    """Everything that decides which bucket and variant an entered unit gets."""
    layer = experiment.layer
    return {
        "unit": experiment.unit,
        "salt": experiment.salt,
        "variants": [[v.key, v.weight] for v in experiment.variants],
        "layer": None
        if layer is None
        else {"name": layer.name, "salt": layer.salt, "range": [layer.start, layer.end]},
        "hash": HASH_SCHEME,
    }


def fingerprint(experiment: Experiment) -> str:
    """``sha256:<hex>`` of the canonical JSON of :func:`assignment_basis`."""
    text = canonical_json(assignment_basis(experiment))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def changed_fields(before: Experiment, after: Experiment) -> list[tuple[str, str]]:
    """``(field path, what changed)`` for each part of the basis that differs."""
    changes: list[tuple[str, str]] = []
    if before.unit != after.unit:
        changes.append(("unit", f"unit {before.unit!r} -> {after.unit!r}"))
    if before.salt != after.salt:
        changes.append(("salt", f"salt {before.salt!r} -> {after.salt!r}"))
    keys_before = [v.key for v in before.variants]
    keys_after = [v.key for v in after.variants]
    if keys_before != keys_after:
        changes.append(("variants", f"variant keys {keys_before} -> {keys_after}"))
    else:
        for i, (a, b) in enumerate(zip(before.variants, after.variants, strict=True)):
            if a.weight != b.weight:
                changes.append(
                    (f"variants.{i}.weight", f"weight of {a.key!r} {a.weight:g} -> {b.weight:g}")
                )
    la, lb = before.layer, after.layer
    if (la is None) != (lb is None):
        changes.append(("layer", "layer " + ("added" if la is None else "removed")))
    elif la is not None and lb is not None:
        if la.name != lb.name:
            changes.append(("layer.name", f"layer {la.name!r} -> {lb.name!r}"))
        if la.salt != lb.salt:
            changes.append(("layer.salt", f"layer salt {la.salt!r} -> {lb.salt!r}"))
        if (la.start, la.end) != (lb.start, lb.end):
            changes.append(
                ("layer.range", f"layer range {[la.start, la.end]} -> {[lb.start, lb.end]}")
            )
    return changes
