"""``xp simulate KEY``: synthetic traffic with a known true effect, through the real ingestion.

Each synthetic unit gets attributes that pass the experiment's targeting where it can (values
read off simple conditions: ``$eq``, ``$in``, bounds), is assigned by the real engine, and
only units it puts in the experiment are exposed. Exposures and conversions enter as raw
event batches through :func:`service.events.ingest_batch`, the path ``POST /v1/events``
takes. Exposures are spread over the last ``--days`` days and every event is written in time
order, each batch at the store time of its last event (one UTC day per batch at most), so the
store takes its daily snapshots as it would have live and the results have a daily series.

The true effect: each unit does each event its experiment's metrics listen to with
probability ``--baseline``, times ``1 + --lift`` in every treatment when a primary metric
counts that event. Counts come from ``1 + Poisson(0.5)`` repeats, sums from values of mean
``VALUE_MEAN`` (events no sum metric reads are worth 1). A ratio's numerator event follows
each of the unit's denominator events with that probability instead (a click after a search).
So a primary binomial metric has true rates baseline and baseline * (1 + lift), and a primary
ratio the same true values.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from xp.cli.report import find_definition, open_runtime, source_options
from xp.definitions.model import DAY_SECONDS, Definition, Metric
from xp.events.parse import MAX_EVENTS
from xp.ingest import ingest_batch
from xp_client.engine import assign_variant
from xp_client.schedule import window_reason

SEGMENT_VALUES = ("a", "b", "c")
VALUE_MEAN = 40.0
REPEAT_MEAN = 0.5
MAX_TRIES_PER_UNIT = 50


@dataclass(frozen=True)
class EventPlan:
    """How synthetic units do one event."""

    name: str
    lifted: bool  # a primary metric counts it: the treatments do it more often
    repeats: bool  # a count, sum or ratio metric counts it: some units do it more than once
    window: tuple[float, float]  # days after exposure in which every metric on it counts it
    valued: bool = False  # a sum metric adds its values; otherwise each event is worth 1
    follows: str | None = None  # a ratio's numerator: done after each of these events


def event_plans(definition: Definition) -> list[EventPlan]:
    by_event: dict[str, list[Metric]] = {}
    for metric in definition.metrics:
        for event in metric.events:
            by_event.setdefault(event, []).append(metric)
    denominators = {
        m.numerator: m.denominator
        for m in definition.metrics
        if m.traits.has_denominator and m.numerator != m.denominator
    }
    plans = []
    for event, metrics in by_event.items():
        windows = [m.window for m in metrics if m.window is not None]
        start = max((w[0] for w in windows), default=0.0)
        end = min((w[1] for w in windows), default=math.inf)
        if start >= end:  # windows that do not overlap: satisfy the first
            start, end = windows[0]
        plans.append(
            EventPlan(
                name=event,
                lifted=any(
                    m.role == "primary" and (not m.traits.has_denominator or m.numerator == event)
                    for m in metrics
                ),
                repeats=any(m.traits.repeats for m in metrics),
                window=(start, end),
                valued=any(m.traits.valued for m in metrics),
                follows=denominators.get(event),
            )
        )
    # Denominator events first, so their numerators can follow them.
    return sorted(plans, key=lambda plan: plan.follows is not None)


def targeting_values(condition: Any) -> dict[str, list[Any]]:
    """Attribute values that satisfy simple targeting conditions, per attribute name."""
    found: dict[str, list[Any]] = {}

    def walk(document: Any) -> None:
        if not isinstance(document, Mapping):
            return
        for name, value in document.items():
            if name in ("$and", "$or") and isinstance(value, list):
                for part in value:
                    walk(part)
            elif isinstance(name, str) and not name.startswith("$"):
                for candidate in _satisfying(value):
                    if candidate not in found.setdefault(name, []):
                        found[name].append(candidate)

    walk(condition)
    return {name: values for name, values in found.items() if values}


def _satisfying(value: Any) -> list[Any]:
    if not (isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value)):
        return [value]
    values: list[Any] = []
    for op, argument in value.items():
        if op in ("$eq", "$gte", "$lte", "$veq", "$vgte", "$vlte"):
            values.append(argument)
        elif op == "$in" and isinstance(argument, list):
            values.extend(argument)
        elif op in ("$gt", "$lt") and isinstance(argument, int | float):
            values.append(argument + (1 if op == "$gt" else -1))
        elif op == "$exists" and argument:
            values.append("yes")
    return values


@dataclass
class Simulation:
    definition: Definition
    units: int
    lift: float
    baseline: float
    days: float
    seed: int
    now: float

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.plans = event_plans(self.definition)
        self.values = targeting_values(self.definition.experiment.targeting)
        self.control = self.definition.variant_keys[0]

    def true_rate(self, plan: EventPlan, variant: str) -> float:
        lifted = plan.lifted and variant != self.control
        return min(self.baseline * (1 + self.lift) if lifted else self.baseline, 1.0)

    def exposed_units(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(unit id, variant, attributes) of units the engine puts in the experiment."""
        experiment = self.definition.experiment
        made = 0
        for attempt in range(self.units * MAX_TRIES_PER_UNIT):
            unit_id = f"sim-{self.seed}-{attempt}"
            attributes: dict[str, Any] = {experiment.unit: unit_id}
            for name, values in self.values.items():
                attributes[name] = self.rng.choice(values)
            for name in self.definition.segments:
                attributes.setdefault(name, self.rng.choice(SEGMENT_VALUES))
            assignment = assign_variant(experiment, attributes)
            if not assignment.in_experiment:
                continue
            yield unit_id, assignment.variant, attributes
            made += 1
            if made == self.units:
                return

    def events_of(self, unit_id: str, variant: str, exposed_at: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        done: dict[str, list[float]] = {}  # event -> times this unit did it
        age_days = (self.now - exposed_at) / DAY_SECONDS
        for plan in self.plans:
            rate = self.true_rate(plan, variant)
            if plan.follows is not None:
                times = [t for t in done.get(plan.follows, []) if self.rng.random() < rate]
            else:
                start, end = plan.window
                end = min(end, age_days)
                if end <= start or self.rng.random() >= rate:
                    continue  # not done, or the unit's window has not opened yet
                repeats = 1 + (_poisson(self.rng, REPEAT_MEAN) if plan.repeats else 0)
                times = [
                    min(exposed_at + self.rng.uniform(start, end) * DAY_SECONDS, self.now)
                    for _ in range(repeats)
                ]
            done[plan.name] = times
            for i, ts in enumerate(times):
                events.append(
                    {
                        "type": "conversion",
                        "event": plan.name,
                        "user_id": unit_id,
                        "value": (
                            round(self.rng.expovariate(1 / VALUE_MEAN), 2) if plan.valued else 1
                        ),
                        "ts": ts,
                        "event_id": f"{unit_id}:{plan.name}:{i}",
                    }
                )
        return events


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means used here
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _batches(events: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    """``events`` (in time order) in batches of at most ``MAX_EVENTS`` within one UTC day."""
    batch: list[dict[str, Any]] = []
    for event in events:
        if batch and (
            len(batch) == MAX_EVENTS or event["ts"] // DAY_SECONDS != batch[0]["ts"] // DAY_SECONDS
        ):
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


@click.command()
@click.argument("key")
@click.option("--units", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option(
    "--lift", type=float, default=0.05, show_default=True, help="True relative lift (0.05 = 5%)."
)
@click.option(
    "--baseline",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Control's probability of doing each event.",
)
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=14, show_default=True)
@click.option("--seed", type=int, help="Default: random; the same seed re-sends the same events.")
@source_options
def simulate(
    key: str,
    units: int,
    lift: float,
    baseline: float,
    days: float,
    seed: int | None,
    experiments_dir: str,
    store_url: str | None,
) -> None:
    """Send synthetic exposures and conversions with a known true LIFT to experiment KEY."""
    if lift <= -1 or baseline * (1 + lift) > 1:
        raise click.BadParameter(
            f"a lift of {lift!r} takes the rate {baseline!r} outside (0, 1]", param_hint="--lift"
        )
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    with open_runtime(experiments_dir, store_url, reading=False) as runtime:
        definition = find_definition(runtime, key)
        if definition.status != "running":
            raise click.ClickException(
                f"{key!r} is {definition.status}; exposures count only while it is running"
            )
        definitions = runtime.registry.current().definitions
        now = time.time()
        experiment = definition.experiment
        closed = window_reason(experiment.start, experiment.end, now)
        if closed is not None:
            raise click.ClickException(
                f"{key!r} has {'not started' if closed == 'not_started' else 'ended'} "
                "(its start/end); exposures count only inside its schedule"
            )
        # Exposures are spread over the last --days, but never before the experiment's start.
        span = min(days * DAY_SECONDS, now - (experiment.start or -math.inf))
        sim = Simulation(definition, units, lift, baseline, days, seed, now)
        exposed: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        events: list[dict[str, Any]] = []
        for unit_id, variant, attributes in sim.exposed_units():
            ts = now - sim.rng.uniform(0, span)
            events.append(
                {
                    "type": "exposure",
                    "experiment": key,
                    "user_id": unit_id,
                    "variant": variant,
                    "ts": ts,
                    "attributes": attributes,
                }
            )
            events += sim.events_of(unit_id, variant, ts)
            exposed[variant] += 1
        events.sort(key=lambda event: event["ts"])
        for batch in _batches(events):
            # written when its last event happened: the store's clock drives the daily looks
            answer = ingest_batch(runtime.store, definitions, {"events": batch}, batch[-1]["ts"])
            for name in ("accepted", "duplicates", "rejected"):
                totals[name] += answer[name]

    if not exposed:
        raise click.ClickException(
            f"no synthetic unit entered {key!r} in {units * MAX_TRIES_PER_UNIT} tries: its "
            "targeting needs attribute values this command cannot guess"
        )
    click.echo(
        f"{key}: {sum(exposed.values())} units "
        f"({', '.join(f'{v} {n}' for v, n in sorted(exposed.items()))}) over {days:g} days, "
        f"seed {seed}"
    )
    click.echo(
        f"events: {totals['accepted']} accepted, {totals['duplicates']} duplicates, "
        f"{totals['rejected']} rejected"
    )
    for plan in sim.plans:
        rates = ", ".join(f"{v} {sim.true_rate(plan, v):.2%}" for v in definition.variant_keys)
        click.echo(f"true rate of {plan.name!r}: {rates}")
    click.echo(f"see it: xp report {key}   or   /experiments/{key} on the service")
