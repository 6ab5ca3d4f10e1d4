"""From events to store operations: which experiment each event touches, and how.

An exposure becomes one :class:`ExposureOp` (or a rejection); a conversion becomes one
:class:`ConversionOp` per running experiment with a metric on its event. Each op is applied
atomically on its own (one Lua call, or inside one SQLite transaction), and is idempotent by
its event id, so a retried batch stays exact even when it was cut off half way.

The attribution arithmetic lives here too: :func:`deltas` (through the metric's kind in
:mod:`xp.attribution.metric_kinds`) and :func:`increments`; ``lua/attribute.lua`` does the
same sums for Redis, and the contract tests hold the two backends to the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xp.attribution.metric_kinds import MetricKind, kind_of
from xp.attribution.scopes import segment_value
from xp.definitions.model import Definition, Metric
from xp.events.model import Conversion, Event, Exposure, exposure_event_id
from xp.events.values import MAX_FUTURE_SECONDS, MIN_TS, ts_problem
from xp_client.schedule import window_reason

# What applying one op did; the backends return these codes.
ACCEPTED = 0  # exposure: new unit; conversion: attributed to at least one metric
DUPLICATE = 1  # event id seen before (or the unit's first exposure again)
VARIANT_MISMATCH = 2  # exposure naming another variant than the unit's first one
NOT_EXPOSED = 3
BEFORE_EXPOSURE = 4
OUTSIDE_WINDOW = 5  # outside every metric's window
HELD = 6  # conversion of a unit not exposed yet: held until its exposure (docs/storage.md)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one event: ``accepted``, ``duplicate`` or ``rejected``."""

    status: str
    reason: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class MetricRule:
    """How one metric takes a conversion event."""

    metric: Metric
    numerator: bool  # the event adds to the unit's total (every kind but a ratio's denominator)
    denominator: bool  # the event adds to the unit's denominator total (ratio metrics)

    @property
    def name(self) -> str:
        return self.metric.name

    @property
    def kind(self) -> MetricKind:
        return kind_of(self.metric)


# Ops and plans are not frozen: a frozen dataclass sets each field through object.__setattr__
# (~0.8 us for an op, 0.2 plain), and a batch of 500 events makes over a thousand of them.
# Nothing changes one once built.


@dataclass(slots=True)
class ExposureOp:
    experiment: str
    unit_id: str
    variant: str
    ts: float
    segments: tuple[tuple[str, str], ...]  # (segment, value) for every declared segment
    covariates: tuple[tuple[str, float], ...]  # (metric, pre-period value)
    event_key: str
    # The experiment's metric rules per event: how the unit's held conversions count.
    held_rules: tuple[tuple[str, tuple[MetricRule, ...]], ...] = ()


@dataclass(slots=True)
class ConversionOp:
    experiment: str
    unit_id: str
    ts: float
    value: float
    rules: tuple[MetricRule, ...]
    event_key: str
    event: str = ""  # the event's name: a held conversion finds its rules by it


Op = ExposureOp | ConversionOp


@dataclass(slots=True)
class Planned:
    """One event: its ops, or the outcome it already has (rejected)."""

    ops: tuple[Op, ...] = ()
    outcome: Outcome | None = None


class EventIndex:
    """Running experiments by event name, built once per set of definitions."""

    def __init__(self, definitions: Mapping[str, Definition]) -> None:
        self.definitions = definitions
        self.by_event: dict[str, list[tuple[str, tuple[MetricRule, ...]]]] = {}
        self.by_experiment: dict[str, tuple[tuple[str, tuple[MetricRule, ...]], ...]] = {}
        # Of each running experiment (definitions are frozen): its metric and variant names.
        self.metric_names: dict[str, frozenset[str]] = {}
        self.variant_keys: dict[str, frozenset[str]] = {}
        for key, definition in definitions.items():
            if definition.status != "running":
                continue
            self.metric_names[key] = frozenset(m.name for m in definition.metrics)
            self.variant_keys[key] = frozenset(definition.variant_keys)
            events: dict[str, list[MetricRule]] = {}
            for metric in definition.metrics:
                for event in dict.fromkeys(metric.events):
                    has_den = kind_of(metric).has_denominator
                    rule = MetricRule(
                        metric,
                        numerator=not has_den or event == metric.numerator,
                        denominator=has_den and event == metric.denominator,
                    )
                    events.setdefault(event, []).append(rule)
            for event, rules in events.items():
                self.by_event.setdefault(event, []).append((key, tuple(rules)))
            self.by_experiment[key] = tuple(
                (event, tuple(rules)) for event, rules in events.items()
            )


def plan_events(events: Sequence[Event], index: EventIndex, now: float) -> list[Planned]:
    latest = now + MAX_FUTURE_SECONDS
    return [
        (
            _plan_exposure(event, index)
            if isinstance(event, Exposure)
            else _plan_conversion(event, index)
        )
        if MIN_TS <= event.ts <= latest  # what ts_problem accepts: one comparison, no call
        else plan_event(event, index, now)
        for event in events
    ]


def plan_event(event: Event, index: EventIndex, now: float) -> Planned:
    problem = ts_problem(event.ts, now)
    if problem:
        return Planned(outcome=Outcome("rejected", problem, "ts"))
    if isinstance(event, Exposure):
        return _plan_exposure(event, index)
    return _plan_conversion(event, index)


def _plan_exposure(event: Exposure, index: EventIndex) -> Planned:
    definition = index.definitions.get(event.experiment)
    if definition is None:
        return _reject("experiment", f"unknown experiment {event.experiment!r}")
    if definition.status != "running":
        return _reject(
            "experiment",
            f"experiment {event.experiment!r} is {definition.status}; "
            "exposures count only while it is running",
        )
    experiment = definition.experiment
    outside = window_reason(experiment.start, experiment.end, event.ts)
    if outside is not None:  # judged at the event's time: a late delivery from the window counts
        return _reject(
            "ts",
            f"experiment {event.experiment!r} had {outside.replace('_', ' ')} "
            "at this time; exposures count only inside its schedule [start, end)",
        )
    if event.variant not in index.variant_keys[event.experiment]:
        return _reject(
            "variant",
            f"experiment {event.experiment!r} has no variant {event.variant!r} "
            f"(one of {list(definition.variant_keys)})",
        )
    metric_names = index.metric_names[event.experiment]
    for name in event.covariates:
        if name not in metric_names:
            return _reject(
                f"covariates.{name}", f"experiment {event.experiment!r} has no metric {name!r}"
            )
    segments = tuple(
        (name, segment_value(event.attributes.get(name))) for name in definition.segments
    )
    op = ExposureOp(  # positional: keywords cost a third of the call
        event.experiment,
        event.user_id,
        event.variant,
        event.ts,
        segments,
        tuple(event.covariates.items()),
        exposure_key(event.event_id),
        index.by_experiment.get(event.experiment, ()),
    )
    return Planned((op,))


def _plan_conversion(event: Conversion, index: EventIndex) -> Planned:
    unit_id, ts, value, name = event.user_id, event.ts, event.value, event.event
    event_key = "c:" + event.event_id
    ops = tuple(
        [
            ConversionOp(key, unit_id, ts, value, rules, event_key, name)
            for key, rules in index.by_event.get(name, ())
        ]
    )
    return Planned(ops)


def _reject(field: str, reason: str) -> Planned:
    return Planned(outcome=Outcome("rejected", reason, field))


_ACCEPTED = Outcome("accepted")  # frozen: one instance serves every accepted event


def outcomes(planned: Sequence[Planned], codes: Sequence[int]) -> list[Outcome]:
    """Each event's outcome; its codes are the next ``len(ops)`` of ``codes``."""
    answers: list[Outcome] = []
    add = answers.append
    at = 0
    for p in planned:
        n = len(p.ops)
        if n == 1 and codes[at] != DUPLICATE and codes[at] != VARIANT_MISMATCH:
            add(_ACCEPTED)  # the common case, without a slice and a call
        else:
            add(outcome(p, codes[at : at + n]))
        at += n
    return answers


def outcome(planned: Planned, codes: Sequence[int]) -> Outcome:
    """The event's outcome from the codes its ops returned (one code per op)."""
    if planned.outcome is not None:
        return planned.outcome
    if not planned.ops or any(code != DUPLICATE and code != VARIANT_MISMATCH for code in codes):
        return _ACCEPTED
    if isinstance(planned.ops[0], ExposureOp):
        if codes[0] == VARIANT_MISMATCH:
            return Outcome(
                "duplicate", "the unit was first exposed to another variant; that one stays"
            )
        return Outcome("duplicate", "the unit was already exposed (first exposure wins)")
    return Outcome("duplicate", "event_id already ingested")


def deltas(rule: MetricRule, value: float, total: float, den: float) -> tuple[float, float]:
    """What an attributed event adds to the unit's (total, denominator total)."""
    step = rule.kind.step
    return (
        step(total, value) if rule.numerator else 0.0,
        step(den, value) if rule.denominator else 0.0,
    )


def increments(
    total: float, den: float, d: float, dd: float, x: float | None, has_denominator: bool
) -> dict[str, float]:
    """How the sums move when a unit's totals go from (total, den) to (total + d, den + dd).

    ``(y + d)^2 - y^2`` is written ``2 y d + d^2``, the form that stays exact longest.
    """
    out = {"sum": d, "sum_squares": 2 * total * d + d * d}
    if has_denominator:
        out["den_sum"] = dd
        out["den_sum_squares"] = 2 * den * dd + dd * dd
        out["sum_product"] = total * dd + d * den + d * dd
    if x is not None:
        out["sum_xy"] = x * d
    return out


def exposure_key(event_id: str) -> str:
    """The idempotency key of an exposure with ``event_id``."""
    return "x:" + event_id


def default_exposure_key(experiment: str, unit_id: str) -> str:
    """The key of an exposure sent without an ``event_id``: it names the unit, so erasing
    the unit removes it too."""
    return exposure_key(exposure_event_id(experiment, unit_id))
