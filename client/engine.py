"""The assignment engine: the one place that decides which variant a unit gets.

Checks run in this order: status, allowlist override, layer range, targeting, coverage and
variant ranges. The SDK and the service both call :func:`assign_variant`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from typing import Any, NamedTuple

import mmh3

from client.definition import Experiment
from client.hashing import BUCKETS

# Why a unit got what it got.
ASSIGNED = "assigned"
OVERRIDE = "override"
DRAFT = "draft"
STOPPED = "stopped"
SHIPPED = "shipped"
MISSING_UNIT = "missing_unit"
NOT_IN_LAYER_RANGE = "not_in_layer_range"
NOT_TARGETED = "not_targeted"
OUTSIDE_COVERAGE = "outside_coverage"


class Assignment(NamedTuple):
    """The engine's answer: a NamedTuple because it is built on the hot path."""

    experiment: str
    variant: str
    payload: Any
    in_experiment: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "payload": self.payload,
            "in_experiment": self.in_experiment,
            "reason": self.reason,
        }


def assign_variant(experiment: Experiment, attributes: Mapping[str, Any]) -> Assignment:
    """Variant of the unit described by ``attributes`` (which hold ``experiment.unit``)."""
    key = experiment.key
    control = experiment.variants[0]
    status = experiment.status
    if status == "shipped":
        winner = experiment.variant(experiment.winner or "") or control
        return Assignment(key, winner.key, winner.payload, False, SHIPPED)
    if status == "stopped":
        return Assignment(key, control.key, control.payload, False, STOPPED)

    unit = attributes.get(experiment.unit)
    if unit is None or unit == "" or isinstance(unit, bool | dict | list):
        return Assignment(key, control.key, control.payload, False, MISSING_UNIT)
    unit_id = unit if isinstance(unit, str) else str(unit)

    forced = experiment.overrides.get(unit_id) if experiment.overrides else None
    if forced is not None:
        variant = experiment.variant(forced)
        if variant is not None:
            return Assignment(key, variant.key, variant.payload, False, OVERRIDE)
    if status == "draft":
        return Assignment(key, control.key, control.payload, False, DRAFT)

    layer = experiment.layer
    if layer is not None:
        layer_bucket = mmh3.hash(f"{layer.salt}:{unit_id}", 0, False) % BUCKETS
        if not layer.start <= layer_bucket < layer.end:
            return Assignment(key, control.key, control.payload, False, NOT_IN_LAYER_RANGE)

    condition = experiment.condition
    if condition is not None:
        try:
            targeted = condition(attributes)
        except Exception:  # compiled predicates do not raise; this keeps that promise anyway
            targeted = False
        if not targeted:
            return Assignment(key, control.key, control.payload, False, NOT_TARGETED)

    bucket = mmh3.hash(f"{experiment.salt}:{unit_id}", 0, False) % BUCKETS
    ranges = experiment.ranges
    index = bisect_right(ranges, (bucket, float("inf"))) - 1
    if index >= 0 and bucket < ranges[index][1]:
        variant = experiment.variants[index]
        return Assignment(key, variant.key, variant.payload, True, ASSIGNED)
    return Assignment(key, control.key, control.payload, False, OUTSIDE_COVERAGE)
