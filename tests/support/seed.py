"""A small experiment with hand-made units, ingested through the store API.

Every unit's totals are known here, so tests compare exports and reports with a brute-force
recomputation rather than with the code under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from xp.definitions.loader import load_directory
from xp.definitions.model import Definition
from xp.events.model import Conversion, Exposure
from xp.store import Store

KEY = "seeded"
DAYS = 5
EXPERIMENT = {
    "key": KEY,
    "name": "Seeded <checkout> test",
    "hypothesis": "The treatment lifts purchases",
    "owner": "reports-tests",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [
        {"name": "purchased", "event": "purchase", "kind": "binomial", "role": "primary"},
        {"name": "revenue", "event": "purchase", "kind": "sum", "role": "secondary"},
        {
            "name": "refunds",
            "event": "refund",
            "kind": "count",
            "role": "guardrail",
            "direction": "decrease",
        },
    ],
    "segments": ["country"],
    "start": "2026-11-01",
}


@dataclass
class Unit:
    unit_id: str
    variant: str
    exposed_at: float
    country: str
    purchases: list[float] = field(default_factory=list)  # values
    refunds: int = 0

    @property
    def totals(self) -> dict[str, float]:
        return {
            "purchased": 1.0 if self.purchases else 0.0,
            "revenue": sum(self.purchases),
            "refunds": float(self.refunds),
        }


def write_experiment(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{KEY}.yaml").write_text(yaml.safe_dump(EXPERIMENT, sort_keys=False))
    return folder


def definitions(folder: Path) -> dict[str, Definition]:
    result = load_directory(folder)
    assert not result.problems, result.problems
    return result.definitions


def make_units(now: float, count: int = 600) -> list[Unit]:
    """Exposed over the last DAYS whole UTC days; the treatment converts more often."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    first_day = today - dt.timedelta(days=DAYS)
    units = []
    for i in range(count):
        variant = "control" if i % 2 == 0 else "treatment"
        day = i % DAYS
        exposed = first_day + dt.timedelta(days=day, hours=1 + (i % 20), minutes=i % 60)
        unit = Unit(f"u{i:04d}", variant, exposed.timestamp(), "US" if (i // 2) % 3 else "CA")
        if i % (8 if variant == "control" else 6) in (0, 1):
            unit.purchases.append(10.0 + i % 7)
            if i % 5 == 0:
                unit.purchases.append(2.5)
        if i % 23 == 0:
            unit.refunds = 1 + i % 2
        units.append(unit)
    return units


def ingest(store: Store, defs: Mapping[str, Definition], units: list[Unit], now: float) -> None:
    exposures = [
        Exposure.create(KEY, u.unit_id, u.variant, u.exposed_at, {"country": u.country})
        for u in units
    ]
    conversions = []
    for u in units:
        for j, value in enumerate(u.purchases):
            ts = u.exposed_at + 600 + j
            conversions.append(Conversion("purchase", u.unit_id, value, ts, f"{u.unit_id}-p{j}"))
        for j in range(u.refunds):
            ts = u.exposed_at + 1200 + j
            conversions.append(Conversion("refund", u.unit_id, 1.0, ts, f"{u.unit_id}-r{j}"))
    # Each UTC day's events are written on that day (the store's clock), so the store takes
    # one daily snapshot (look) per day, as it would have live.
    by_day: dict[int, list[Exposure | Conversion]] = {}
    for event in [*exposures, *conversions]:
        by_day.setdefault(int(event.ts // 86_400), []).append(event)
    for _day, events in sorted(by_day.items()):
        outcomes = store.ingest(events, defs, min(now, max(e.ts for e in events)))
        assert all(o.status == "accepted" for o in outcomes), {o.status for o in outcomes}


def seed(folder: Path, store: Store, now: float, count: int = 600) -> list[Unit]:
    """Write the experiment into ``folder`` and ingest its units; return them."""
    defs = definitions(write_experiment(folder))
    units = make_units(now, count)
    ingest(store, defs, units, now)
    return units
