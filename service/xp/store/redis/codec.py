"""Ops as script calls (keys and args), and stored hashes read back as statistics and units.

The formats are the scripts': ``lua/lib.lua`` describes the statistics fields and the unit
record, each ``lua/*.lua`` file its ``KEYS`` and ``ARGV``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

from xp.attribution.hold import SWEEP_PER_WRITE, HoldPolicy
from xp.attribution.ops import ConversionOp, ExposureOp, MetricRule, Op, default_exposure_key
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


def op_call(op: Op, now: float | None = None, hold: HoldPolicy = DEFAULT_HOLD) -> Call:
    if isinstance(op, ExposureOp):
        return exposure_call(op, now)
    return conversion_call(op, now, hold)


def _write_keys(e: str, unit_id: str, digest: bytes) -> list[str]:
    """The keys of an exposure or conversion call, in the scripts' KEYS order."""
    return [
        keys.unit(e, unit_id),
        keys.stats(e),
        keys.names(e),
        keys.diagnostics(e),
        keys.seen(e, digest),
        keys.overall(e),
        keys.looks(e),
        keys.held(e),
        keys.hold_queue(e),
    ]


def exposure_call(op: ExposureOp, now: float | None = None) -> Call:
    """``now``: the store time of the write (default: the clock)."""
    digest = keys.event_digest(op.event_key)
    call_keys = _write_keys(op.experiment, op.unit_id, digest)
    args: list[Any] = [op.unit_id, op.variant, repr(op.ts), keys.seen_field(digest)]
    args.append(len(op.segments))
    for name, value in op.segments:
        args += (name, value)
    args.append(len(op.covariates))
    for metric, x in op.covariates:
        args += (metric, repr(x))
    args += (repr(time.time() if now is None else now), SWEEP_PER_WRITE)
    args += held_specs(op.held_rules)
    return "exposure", call_keys, args


def conversion_call(
    op: ConversionOp, now: float | None = None, hold: HoldPolicy = DEFAULT_HOLD
) -> Call:
    """``now``: the store time of the write (default: the clock); ``hold``: how long and how
    many conversions of a unit not exposed yet wait."""
    digest = keys.event_digest(op.event_key)
    call_keys = _write_keys(op.experiment, op.unit_id, digest)
    at = time.time() if now is None else now
    args: list[Any] = [
        op.unit_id,
        repr(op.ts),
        repr(op.value),
        keys.seen_field(digest),
        metric_spec(op.rules),
    ]
    args += (repr(at), repr(hold.expires(at)), hold.per_unit, op.event, SWEEP_PER_WRITE)
    return "conversion", call_keys, args


@functools.lru_cache(maxsize=256)
def held_specs(held_rules: tuple[tuple[str, tuple[MetricRule, ...]], ...]) -> tuple[Any, ...]:
    """The experiment's events and their metrics, as exposure.lua's last arguments."""
    out: list[Any] = [len(held_rules)]
    for event, rules in held_rules:
        out += (event, metric_spec(rules))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def metric_spec(rules: tuple[MetricRule, ...]) -> str:
    """The metrics of one (experiment, event) as conversion.lua's ARGV[5]."""
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
