"""The assignment engine: the one place that decides which variant a unit gets.

Checks run in this order: status, schedule, allowlist override, layer range, targeting,
coverage and variant ranges. The SDK and the service both call :func:`assign_variant`.

A running experiment with a ``start`` or ``end`` reads the clock (``time.time``, or the ``now``
passed in): before ``start`` it answers like a draft with the reason ``not_started``
(overrides still apply, for QA before launch); from ``end`` on it answers like a stopped
experiment with the reason ``ended`` (the control for everyone). An experiment without a
schedule never reads the clock.

Each :class:`~xp_client.definition.Experiment` is compiled once into a closure
(:func:`build_assigner`) with every answer it can give built in advance, so an assignment is
a dict lookup, one predicate, one hash and one bisect, and allocates nothing.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import mmh3

from xp_client import schedule
from xp_client.definition import Experiment
from xp_client.hashing import BUCKETS, bucket_ranges
from xp_client.unit_ids import MAX_USER_ID, canonical_unit_id

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
NOT_STARTED = schedule.NOT_STARTED
ENDED = schedule.ENDED

# ``assigner(attributes)`` or ``assigner(attributes, now)``, now in seconds since the epoch.
Assigner = Callable[..., "Assignment"]


class Assignment(NamedTuple):
    """The engine's answer. Instances are shared between calls: treat ``payload`` as read-only."""

    experiment: str
    variant: str
    payload: Any
    in_experiment: bool
    reason: str

    @property
    def key(self) -> str:
        """The variant's key (the SDK's ``v.key``)."""
        return self.variant

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "payload": self.payload,
            "in_experiment": self.in_experiment,
            "reason": self.reason,
        }


def assign_variant(
    experiment: Experiment, attributes: Mapping[str, Any], now: float | None = None
) -> Assignment:
    """Variant of the unit described by ``attributes`` (which hold ``experiment.unit``).

    ``now`` (seconds since the epoch) is the time the schedule is judged at; None reads the
    clock, and only for an experiment that has a schedule.
    """
    assigner = experiment.compiled
    if assigner is None:  # first use; later calls skip the function call (the hot path)
        assigner = assigner_for(experiment)
    result: Assignment = assigner(attributes) if now is None else assigner(attributes, now)
    return result


def assigner_for(experiment: Experiment) -> Assigner:
    """The compiled form of ``experiment``, built on first use and kept on it."""
    assigner = experiment.compiled
    if assigner is None:
        assigner = build_assigner(experiment)
        object.__setattr__(experiment, "compiled", assigner)
    return assigner


def build_assigner(experiment: Experiment) -> Assigner:
    """Compile ``experiment`` into a function of the unit's attributes."""
    key = experiment.key
    variants = experiment.variants
    control = variants[0]

    def fixed(variant_key: str, in_experiment: bool, reason: str) -> Assignment:
        variant = experiment.variant(variant_key) or control
        return Assignment(key, variant.key, variant.payload, in_experiment, reason)

    if experiment.status == "shipped":
        shipped = fixed(experiment.winner or control.key, False, SHIPPED)
        return lambda attributes, now=None: shipped
    if experiment.status == "stopped":
        stopped = fixed(control.key, False, STOPPED)
        return lambda attributes, now=None: stopped

    missing = fixed(control.key, False, MISSING_UNIT)
    overrides = {
        unit: fixed(variant, False, OVERRIDE)
        for unit, variant in experiment.overrides.items()
        if experiment.variant(variant) is not None
    }
    unit_attribute = experiment.unit

    def closed(reason: str) -> Assigner:
        """A draft's answers: the control with ``reason``, overrides still apply."""
        answer = fixed(control.key, False, reason)

        def assign_closed(attributes: Mapping[str, Any], now: float | None = None) -> Assignment:
            unit = canonical_unit_id(attributes.get(unit_attribute))
            if unit is None:
                return missing
            return overrides.get(unit, answer)

        return assign_closed

    if experiment.status == "draft":
        return closed(DRAFT)

    layer = experiment.layer
    layer_prefix = f"{layer.salt}:" if layer else ""
    layer_start, layer_end = (layer.start, layer.end) if layer else (0, BUCKETS)
    not_in_layer = fixed(control.key, False, NOT_IN_LAYER_RANGE)
    condition = experiment.condition
    not_targeted = fixed(control.key, False, NOT_TARGETED)
    outside = fixed(control.key, False, OUTSIDE_COVERAGE)
    prefix = f"{experiment.salt}:"
    # hashing.bucket inlined: the call alone costs ~20% of an assignment (bench.assign 3.6x ->
    # 4.3x the bare core). tests/client/test_vectors.py holds the two equal.
    hash32 = mmh3.hash
    ranges = bucket_ranges([v.weight for v in variants], experiment.coverage)
    starts = [start for start, _ in ranges]
    ends = [end for _, end in ranges]
    assigned = [Assignment(key, v.key, v.payload, True, ASSIGNED) for v in variants]
    max_unit = MAX_USER_ID

    def assign(attributes: Mapping[str, Any], now: float | None = None) -> Assignment:
        unit = attributes.get(unit_attribute)
        if unit.__class__ is not str:
            unit = canonical_unit_id(unit)
            if unit is None:
                return missing
        elif not 0 < len(unit) <= max_unit:  # canonical_unit_id inlined for strings
            return missing
        if overrides:
            forced = overrides.get(unit)
            if forced is not None:
                return forced
        if layer is not None:
            if not layer_start <= hash32(layer_prefix + unit, 0, False) % BUCKETS < layer_end:
                return not_in_layer
        if condition is not None:
            try:
                targeted = condition(attributes)
            except Exception:  # compiled predicates do not raise; this keeps the promise anyway
                targeted = False
            if not targeted:
                return not_targeted
        unit_bucket = hash32(prefix + unit, 0, False) % BUCKETS
        index = bisect_right(starts, unit_bucket) - 1
        if index >= 0 and unit_bucket < ends[index]:
            return assigned[index]
        return outside

    if experiment.start is None and experiment.end is None:
        return assign
    return _scheduled(assign, closed(NOT_STARTED), fixed(control.key, False, ENDED), experiment)


def _scheduled(
    assign: Assigner, before: Assigner, ended: Assignment, experiment: Experiment
) -> Assigner:
    """``assign`` inside ``[start, end)``; ``before`` earlier, ``ended`` from ``end`` on.

    ``schedule.window_reason`` inlined, as two float comparisons (the service judges events by
    the function); tests/client/test_schedule.py holds the two equal.
    """
    start = -math.inf if experiment.start is None else experiment.start
    end = math.inf if experiment.end is None else experiment.end
    clock = time.time

    def assign_scheduled(attributes: Mapping[str, Any], now: float | None = None) -> Assignment:
        if now is None:
            now = clock()
        if now < start:
            result: Assignment = before(attributes)
            return result
        if now >= end:
            return ended
        result = assign(attributes)
        return result

    return assign_scheduled
