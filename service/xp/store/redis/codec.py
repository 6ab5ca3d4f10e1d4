"""Ops as script calls (keys and args), and stored hashes read back as statistics and units.

The formats are the scripts': ``lua/lib.lua`` describes the statistics fields and the unit
record, each ``lua/*.lua`` file its ``KEYS`` and ``ARGV``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from xp.attribution.ops import ConversionOp, ExposureOp, MetricRule, Op, default_exposure_key
from xp.attribution.scopes import ALL, Scope, day_label
from xp.definitions.model import DAY_SECONDS
from xp.store.model import RawStats
from xp.store.redis import keys
from xp.store.redis.scripts import Call

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


def op_call(op: Op) -> Call:
    return exposure_call(op) if isinstance(op, ExposureOp) else conversion_call(op)


def exposure_call(op: ExposureOp) -> Call:
    e = op.experiment
    digest = keys.event_digest(op.event_key)
    call_keys = [
        keys.unit(e, op.unit_id),
        keys.stats(e),
        keys.names(e),
        keys.diagnostics(e),
        keys.seen(e, digest),
    ]
    args: list[Any] = [op.unit_id, op.variant, repr(op.ts), keys.seen_field(digest)]
    args.append(len(op.segments))
    for name, value in op.segments:
        args += (name, value)
    args.append(len(op.covariates))
    for metric, x in op.covariates:
        args += (metric, repr(x))
    return "exposure", call_keys, args


def conversion_call(op: ConversionOp) -> Call:
    e = op.experiment
    digest = keys.event_digest(op.event_key)
    call_keys = [
        keys.unit(e, op.unit_id),
        keys.stats(e),
        keys.names(e),
        keys.diagnostics(e),
        keys.seen(e, digest),
    ]
    args = [op.unit_id, repr(op.ts), repr(op.value), keys.seen_field(digest), metric_spec(op.rules)]
    return "conversion", call_keys, args


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


def erase_call(experiment: str, unit_id: str) -> Call:
    digest = keys.event_digest(default_exposure_key(experiment, unit_id))
    call_keys = [
        keys.unit(experiment, unit_id),
        keys.stats(experiment),
        keys.seen(experiment, digest),
    ]
    return "erase", call_keys, [unit_id, keys.seen_field(digest)]


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
    stats: Mapping[str, str], names: Mapping[str, str], diagnostics: Mapping[str, str]
) -> RawStats:
    """An experiment's stats, names and diag hashes as :class:`RawStats`."""
    decoder = NameDecoder(names)
    raw = RawStats(diagnostics={k: int(v) for k, v in diagnostics.items()})
    for field, value in stats.items():
        parts = field.split(":")
        scope = decoder.scope(parts[0])
        variant = decoder.name(parts[1])
        if len(parts) == 3:
            raw.add_count(scope, variant, int(value))
        else:
            raw.add_sum(scope, variant, decoder.name(parts[2]), STAT_CODES[parts[3]], float(value))
    return raw
