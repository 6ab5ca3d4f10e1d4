"""Metric kinds: what one attributed event adds to a unit's running total.

This registry is the one place a kind's arithmetic lives in Python. Each kind is a step
function ``(old total, event value) -> what the event adds``; a ratio applies it to the
numerator total on its numerator event and to the denominator total on its denominator event.
Everything else (the attribution window, the sums of squares and products, erasure) is the
same for every kind. ``lua/kinds.lua`` holds the same step per kind for Redis; the store
contract tests hold both backends to one brute-force recomputation.

Adding a kind: its traits in ``xp.definitions.model.METRIC_TRAITS`` (what validation and
analysis read), one :class:`MetricKind` here, one function in ``lua/kinds.lua`` (see
docs/storage.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from xp.definitions.model import METRIC_KINDS, METRIC_TRAITS, Metric

Step = Callable[[float, float], float]  # (old total, event value) -> what the event adds


@dataclass(frozen=True, slots=True)
class MetricKind:
    """How one kind of metric takes an attributed event."""

    name: str
    step: Step

    @property
    def has_denominator(self) -> bool:
        """Keeps a second per-unit total (ratio metrics)."""
        return METRIC_TRAITS[self.name].has_denominator


def _first_only(total: float, value: float) -> float:
    return 1.0 if total == 0 else 0.0  # 1 on the first attributed event, then nothing


def _one(total: float, value: float) -> float:
    return 1.0


def _value(total: float, value: float) -> float:
    return value


KINDS: Mapping[str, MetricKind] = {
    kind.name: kind
    for kind in (
        MetricKind("binomial", _first_only),
        MetricKind("count", _one),
        MetricKind("sum", _value),
        MetricKind("retention", _first_only),  # binomial within its window [a, b) days
        MetricKind("ratio", _value),
    )
}
assert tuple(KINDS) == METRIC_KINDS, "every metric kind needs exactly one entry in KINDS"


def kind_of(metric: Metric) -> MetricKind:
    return KINDS[metric.kind]
