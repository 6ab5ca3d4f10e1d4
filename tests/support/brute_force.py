"""The store's contract written the slow, obvious way, to check both backends against.

Events are replayed in arrival order into plain dicts of units and their totals; statistics
are then recomputed from the final per-unit totals (never incrementally), so an error in the
stores' ``(old + d)^2 - old^2`` bookkeeping cannot hide behind the same error here. A
conversion of a unit not exposed yet waits (up to ``per_unit`` per unit) for the exposure and
then counts as if it had come after it; ``now`` and ``hold_seconds`` decide when it stops
waiting (expired ones count ``not_exposed`` at the exposure or at :meth:`settle`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xp.definitions.model import Definition
from xp.events.model import Conversion, Event, Exposure
from xp.store.model import ExperimentData, Slice, UnitRow

STATS = (
    "n",
    "sum",
    "sum_squares",
    "den_sum",
    "den_sum_squares",
    "sum_product",
    "sum_x",
    "sum_x2",
    "sum_xy",
    "n_x",
)


@dataclass
class Unit:
    variant: str
    ts: float
    segments: dict[str, str]
    covariates: dict[str, float]
    totals: dict[str, list[float]] = field(default_factory=dict)


class BruteForce:
    def __init__(
        self,
        definitions: Mapping[str, Definition],
        hold_seconds: float = 86_400.0,
        per_unit: int = 32,
    ) -> None:
        self.definitions = definitions
        self.units: dict[str, dict[str, Unit]] = {key: {} for key in definitions}
        self.seen: set[tuple[str, str]] = set()
        self.diagnostics: dict[str, Counter[str]] = {key: Counter() for key in definitions}
        self.statuses: list[str] = []
        self.hold_seconds = hold_seconds
        self.per_unit = per_unit
        # experiment -> unit -> [(conversion, expires)] waiting for the unit's exposure
        self.held: dict[str, dict[str, list[tuple[Conversion, float]]]] = {
            key: {} for key in definitions
        }
        self.now = 0.0

    def ingest(self, events: Iterable[Event], now: float = 0.0) -> None:
        self.now = now
        for event in events:
            if isinstance(event, Exposure):
                self.statuses.append(self._exposure(event))
            else:
                self.statuses.append(self._conversion(event))

    def erase(self, unit_id: str) -> None:
        for units in self.units.values():
            units.pop(unit_id, None)
        for held in self.held.values():
            held.pop(unit_id, None)

    def settle(self, now: float) -> None:
        """Every held conversion expired by ``now`` counts ``not_exposed``."""
        for key, held in self.held.items():
            for unit_id in list(held):
                kept = [(c, t) for c, t in held[unit_id] if t > now]
                self.diagnostics[key]["not_exposed"] += len(held[unit_id]) - len(kept)
                if kept:
                    held[unit_id] = kept
                else:
                    del held[unit_id]

    def _exposure(self, e: Exposure) -> str:
        d = self.definitions.get(e.experiment)
        if d is None or d.status != "running" or e.variant not in d.variant_keys:
            return "rejected"
        if any(m not in {x.name for x in d.metrics} for m in e.covariates):
            return "rejected"
        unit = self.units[e.experiment].get(e.user_id)
        if unit is None:
            segments = {}
            for name in d.segments:
                value = e.attributes.get(name)
                segments[name] = "(none)" if value is None or value == "" else str(value)
            self.units[e.experiment][e.user_id] = Unit(
                e.variant, e.ts, segments, dict(e.covariates)
            )
            for c, expires in self.held[e.experiment].pop(e.user_id, []):
                if expires <= self.now:
                    self.diagnostics[e.experiment]["not_exposed"] += 1
                elif d.metrics_on(c.event):
                    self._attribute(e.experiment, c)
            return "accepted"
        if unit.variant == e.variant:
            return "duplicate"
        key = (e.experiment, "x:" + e.event_id)
        if key in self.seen:
            return "duplicate"
        self.seen.add(key)
        self.diagnostics[e.experiment]["variant_mismatch"] += 1
        return "duplicate"

    def _conversion(self, c: Conversion) -> str:
        statuses = []
        for key, d in self.definitions.items():
            metrics = d.metrics_on(c.event)
            if d.status != "running" or not metrics:
                continue
            if (key, "c:" + c.event_id) in self.seen:
                statuses.append("duplicate")
                continue
            self.seen.add((key, "c:" + c.event_id))
            statuses.append("accepted")
            if c.user_id not in self.units[key]:
                waiting = self.held[key].get(c.user_id, [])
                if len(waiting) < self.per_unit and self.hold_seconds > 0:
                    self.held[key][c.user_id] = [*waiting, (c, self.now + self.hold_seconds)]
                else:
                    self.diagnostics[key]["not_exposed"] += 1
                continue
            self._attribute(key, c)
        return "duplicate" if statuses and all(s == "duplicate" for s in statuses) else "accepted"

    def _attribute(self, key: str, c: Conversion) -> None:
        unit = self.units[key][c.user_id]
        after = c.ts - unit.ts
        if after < 0:
            self.diagnostics[key]["before_exposure"] += 1
            return
        for m in self.definitions[key].metrics_on(c.event):
            if not m.in_window(after):
                self.diagnostics[key]["outside_window"] += 1
                continue
            totals = unit.totals.setdefault(m.name, [0.0, 0.0])
            if m.kind in ("binomial", "retention"):
                totals[0] = 1.0
            elif m.kind == "count":
                totals[0] += 1
            elif m.kind == "sum":
                totals[0] += c.value
            else:
                if c.event == m.numerator:
                    totals[0] += c.value
                if c.event == m.denominator:
                    totals[1] += c.value

    def stats(self, key: str) -> dict[str, Any]:
        """Every number the store should report for experiment ``key``, by path."""
        d = self.definitions[key]
        out: dict[str, Any] = {}
        units = self.units[key]
        slices: dict[str, list[Unit]] = {"all": list(units.values())}
        for unit in units.values():
            day = dt.datetime.fromtimestamp(math.floor(unit.ts / 86400) * 86400, dt.UTC)
            slices.setdefault(f"day/{day.date().isoformat()}", []).append(unit)
            for name, value in unit.segments.items():
                slices.setdefault(f"segment/{name}/{value}", []).append(unit)
        for path, members in slices.items():
            for variant in d.variant_keys:
                mine = [u for u in members if u.variant == variant]
                out[f"{path}/units/{variant}"] = len(mine)
                for m in d.metrics:
                    ys = [u.totals.get(m.name, [0.0, 0.0])[0] for u in mine]
                    ds = [u.totals.get(m.name, [0.0, 0.0])[1] for u in mine]
                    xs = [u.covariates.get(m.name, 0.0) for u in mine]
                    values = {
                        "n": len(mine),
                        "sum": sum(ys),
                        "sum_squares": sum(y * y for y in ys),
                        "den_sum": sum(ds),
                        "den_sum_squares": sum(v * v for v in ds),
                        "sum_product": sum(y * v for y, v in zip(ys, ds, strict=True)),
                        "sum_x": sum(xs),
                        "sum_x2": sum(x * x for x in xs),
                        "sum_xy": sum(x * y for x, y in zip(xs, ys, strict=True)),
                        "n_x": sum(1 for u in mine if m.name in u.covariates),
                    }
                    for stat, number in values.items():
                        out[f"{path}/metrics/{m.name}/{variant}/{stat}"] = number
        for name in ("variant_mismatch", "before_exposure", "outside_window", "not_exposed"):
            out[f"diagnostics/{name}"] = self.diagnostics[key][name]
        out["diagnostics/held"] = sum(len(waiting) for waiting in self.held[key].values())
        return out

    def unit_rows(self, key: str) -> dict[str, dict[str, Any]]:
        d = self.definitions[key]
        return {
            unit_id: {
                "variant": u.variant,
                "first_exposure": u.ts,
                "segments": u.segments,
                "metrics": {m.name: u.totals.get(m.name, [0.0, 0.0])[0] for m in d.metrics},
                "denominators": {
                    m.name: u.totals.get(m.name, [0.0, 0.0])[1]
                    for m in d.metrics
                    if m.kind == "ratio"
                },
            }
            for unit_id, u in self.units[key].items()
        }


def flatten(data: ExperimentData) -> dict[str, Any]:
    """``data`` as the ``path: number`` dict :meth:`BruteForce.stats` makes."""
    out: dict[str, Any] = {}

    def add(path: str, piece: Slice) -> None:
        for variant, n in piece.units.items():
            out[f"{path}/units/{variant}"] = n
        for metric, per_variant in piece.metrics.items():
            for variant, stats in per_variant.items():
                for stat, value in stats.as_dict().items():
                    out[f"{path}/metrics/{metric}/{variant}/{stat}"] = value

    add("all", data.overall)
    for day, piece in data.days.items():
        add(f"day/{day}", piece)
    for name, values in data.segments.items():
        for value, piece in values.items():
            add(f"segment/{name}/{value}", piece)
    for name, count in data.diagnostics.items():
        out[f"diagnostics/{name}"] = count
    return out


def row_dict(row: UnitRow) -> dict[str, Any]:
    return {k: row[k] for k in row if k != "unit_id"}
