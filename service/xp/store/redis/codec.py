"""Ops as script calls (keys and args), and stored hashes read back as statistics and units.

The formats are the scripts': ``lua/lib.lua`` describes the statistics fields and the unit
record, each ``lua/*.lua`` file its ``KEYS`` and ``ARGV``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from xp.attribution.hold import SWEEP_PER_WRITE, HoldPolicy
from xp.attribution.ops import ExposureOp, MetricRule, Op, default_exposure_key
from xp.attribution.scopes import ALL, Scope, day_label
from xp.definitions.model import DAY_SECONDS
from xp.store.model import RawStats, look_scope
from xp.store.redis import keys
from xp.store.redis.scripts import Call

DEFAULT_HOLD = HoldPolicy()

STAT_CODES = {
    "s": "sum",
    "ss": "sum_squares",
    "ds": "den_sum",
    "dss": "den_sum_squares",
    "sp": "sum_product",
    "x": "sum_x",
    "xx": "sum_x2",
    "xy": "sum_xy",
    "nx": "n_x",
}


# Events per script call: a call blocks its server while it runs, so a batch of one
# experiment goes as several calls of at most this many events (each atomic on its own).
EVENTS_PER_CALL = 500


def ingest_calls(
    ops: Sequence[Op],
    now: float | None = None,
    hold: HoldPolicy = DEFAULT_HOLD,
    per_call: int = EVENTS_PER_CALL,
) -> list[tuple[Call, list[int]]]:
    """``ingest.lua`` calls for ``ops``: one per experiment (and ``per_call`` ops), each with
    the indices of its ops in ``ops``, in arrival order. Experiments share no keys, so their
    calls may run in any order; within one, the ops keep theirs."""
    by_experiment: dict[str, list[int]] = {}
    for i, op in enumerate(ops):
        by_experiment.setdefault(op.experiment, []).append(i)
    at = time.time() if now is None else now
    # A conversion's ops (one per experiment) share its event id and unit: the digest's seen
    # field and bucket, and the unit's bucket, are computed once per batch.
    seen: dict[str, tuple[bytes, int]] = {}
    buckets: dict[str, int] = {}
    calls = []
    for e, indices in by_experiment.items():
        for start in range(0, len(indices), per_call):
            chunk = indices[start : start + per_call]
            call = _ingest_call(e, [ops[i] for i in chunk], at, hold, seen, buckets)
            calls.append((call, chunk))
    return calls


def _ingest_call(
    e: str,
    ops: Sequence[Op],
    now: float,
    hold: HoldPolicy,
    seen: dict[str, tuple[bytes, int]],
    buckets: dict[str, int],
) -> Call:
    # Few, large arguments: packing ~12 arguments per event in redis-py and pushing each onto
    # the script's ARGV cost more than the script's own work; one JSON text is one argument.
    # Numbers go as JSON numbers: orjson writes the shortest text that reads back as the same
    # double and cjson reads it back exactly (``repr`` of a float costs ~2 us, orjson 0.05).
    # The bucket keys stay KEYS (a script must declare every key it touches, so that Redis
    # Cluster routes and migrates it whole), each named once per call.
    call_keys = [
        keys.stats(e),
        keys.names(e),
        keys.diagnostics(e),
        keys.overall(e),
        keys.looks(e),
        keys.held(e),
        keys.hold_queue(e),
    ]
    unit_at: dict[int, int] = {}  # bucket -> its key's index in KEYS (from 1, as Lua counts)
    seen_at: dict[int, int] = {}
    # Rule tuples are the EventIndex's own objects, shared by every op of one (experiment,
    # event): keyed by identity, as hashing the tuple of rules costs more than the rest.
    rule_sets: dict[int, tuple[int, tuple[tuple[str, tuple[MetricRule, ...]], ...]]] = {}
    specs: dict[int, tuple[int, tuple[MetricRule, ...]]] = {}
    fields: list[bytes] = []
    events: list[tuple[Any, ...]] = []
    add_field, add_event = fields.append, events.append
    for op in ops:
        unit_id = op.unit_id
        found_seen = seen.get(op.event_key)
        if found_seen is None:
            digest = keys.event_digest(op.event_key)
            found_seen = seen[op.event_key] = (keys.seen_field(digest), keys.seen_bucket(digest))
        field, seen_bucket = found_seen
        add_field(field)
        bucket = buckets.get(unit_id, -1)
        if bucket < 0:
            bucket = buckets[unit_id] = keys.unit_bucket(unit_id)
        u = unit_at.get(bucket)
        if u is None:
            call_keys.append(keys.units(e, bucket))
            u = unit_at[bucket] = len(call_keys)
        s = seen_at.get(seen_bucket)
        if s is None:
            call_keys.append(keys.seen_in(e, seen_bucket))
            s = seen_at[seen_bucket] = len(call_keys)
        if isinstance(op, ExposureOp):
            found = rule_sets.get(id(op.held_rules))
            if found is None:
                found = rule_sets[id(op.held_rules)] = (len(rule_sets) + 1, op.held_rules)
            add_event(("e", unit_id, u, s, op.variant, op.ts, found[0], op.segments, op.covariates))
        else:
            spec = specs.get(id(op.rules))
            if spec is None:
                spec = specs[id(op.rules)] = (len(specs) + 1, op.rules)
            add_event(("c", unit_id, u, s, op.ts, op.value, spec[0], op.event))
    args: list[Any] = [repr(now), SWEEP_PER_WRITE, repr(hold.expires(now)), hold.per_unit]
    args.append(orjson.dumps([held_specs(held_rules) for _, held_rules in rule_sets.values()]))
    args.append(orjson.dumps([metric_spec(rules) for _, rules in specs.values()]))
    args.append(b"".join(fields))
    args.append(orjson.dumps(events))
    return "ingest", call_keys, args


@functools.lru_cache(maxsize=256)
def held_specs(held_rules: tuple[tuple[str, tuple[MetricRule, ...]], ...]) -> tuple[str, ...]:
    """The experiment's events and their metrics, paired: one held-rule set of ingest.lua."""
    out: list[str] = []
    for event, rules in held_rules:
        out += (event, metric_spec(rules))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def metric_spec(rules: tuple[MetricRule, ...]) -> str:
    """The metrics of one (experiment, event): ingest.lua's metrics spec."""
    specs = []
    for rule in rules:
        start, end = rule.metric.window or (0.0, None)
        specs.append(
            f"{rule.name},{rule.metric.kind},{int(rule.kind.has_denominator)},"
            f"{int(rule.numerator)},{int(rule.denominator)},{start * DAY_SECONDS!r},"
            + ("" if end is None else repr(end * DAY_SECONDS))
        )
    return ";".join(specs)


def erase_call(experiment: str, unit_id: str, now: float | None = None) -> Call:
    digest = keys.event_digest(default_exposure_key(experiment, unit_id))
    call_keys = [
        keys.unit(experiment, unit_id),
        keys.stats(experiment),
        keys.seen(experiment, digest),
        keys.overall(experiment),
        keys.looks(experiment),
        keys.held(experiment),
        keys.hold_queue(experiment),
        keys.diagnostics(experiment),
    ]
    at = time.time() if now is None else now
    return "erase", call_keys, [unit_id, keys.seen_field(digest), repr(at)]


class NameDecoder:
    """Reads the ids of an experiment's names hash back as names and slices."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self._by_id = {v: k.split("\x1f", 1)[1] for k, v in names.items() if k != "#"}

    def name(self, id_: str) -> str:
        return self._by_id[id_]

    def scope(self, code: str) -> Scope:
        if code == "a":
            return ALL
        if code[0] == "d":
            return ("day", "", day_label(int(code[1:])))
        segment, value = self._by_id[code[1:]].split("\x1f", 1)
        return ("segment", segment, value)


def raw_stats(
    stats: Mapping[str, str],
    names: Mapping[str, str],
    diagnostics: Mapping[str, str],
    overall: Mapping[str, str] | None = None,
    looks: Mapping[str, str] | None = None,
) -> RawStats:
    """An experiment's stats, names, diag, all and looks hashes as :class:`RawStats`."""
    decoder = NameDecoder(names)
    looks = looks or {}
    last = looks.get("day")
    raw = RawStats(
        diagnostics={k: int(v) for k, v in diagnostics.items()},
        last_day=None if last is None else int(last),
    )
    for field, value in [*stats.items(), *(overall or {}).items()]:
        _add(raw, decoder, decoder.scope(field.split(":", 1)[0]), field, value)
    for day, packed in looks.items():
        if day == "day" or not packed:
            continue
        scope = look_scope(int(day))
        for item in packed.split(";"):
            field, value = item.split("=", 1)
            _add(raw, decoder, scope, field, value)
    return raw


def _add(raw: RawStats, decoder: NameDecoder, scope: Scope, field: str, value: str) -> None:
    parts = field.split(":")
    variant = decoder.name(parts[1])
    if len(parts) == 3:
        raw.add_count(scope, variant, int(value))
    else:
        raw.add_sum(scope, variant, decoder.name(parts[2]), STAT_CODES[parts[3]], float(value))
