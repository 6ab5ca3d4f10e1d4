"""What the assignment guard adds to ingestion: ``ingest_events`` next to ``store.ingest``.

``ingest_events`` (the path of ``POST /v1/events`` and ``/v1/assign``) names a phase's
exposures by its store id and claims each experiment's fingerprint once per process; the
baseline hands the same events to ``store.ingest`` directly. Both run on fresh SQLite files
(the cheaper backend, so the overhead shows most), interleaved ABBA, medians of the rounds; then
the same with every experiment in phase 2, where each exposure is renamed.

    .venv/bin/python -m bench.guard
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from xp.definitions.loader import load_directory
from xp.definitions.model import Definition
from xp.definitions.phases import store_definitions
from xp.events.model import Event, Exposure
from xp.ingest import ingest_events
from xp.store import open_store

ROOT = Path(__file__).resolve().parent.parent
UNITS = 6_000
BATCH = 500
ROUNDS = 9
NOW = time.time()


def running(definitions: Mapping[str, Definition]) -> list[Definition]:
    return [d for d in definitions.values() if d.status == "running"]


def make_events(definitions: Mapping[str, Definition]) -> list[Event]:
    rng = random.Random(1)
    live = running(definitions)
    events: list[Event] = []
    for i in range(UNITS):
        d = rng.choice(live)
        variant = rng.choice(d.variant_keys)
        events.append(Exposure.create(d.key, f"user-{i:06d}", variant, NOW - 3600, {}))
    return events


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(definitions: Mapping[str, Definition], folder: Path) -> tuple[float, float]:
    """Median seconds of (store.ingest, ingest_events) over interleaved rounds."""
    events = make_events(definitions)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    stored = store_definitions(definitions)
    # The baseline gets events already named by store id, so both do the same store work.
    if stored is not definitions:
        phase = {d.key: d.phase for d in definitions.values()}
        renamed: list[list[Event]] = [
            [
                dataclasses.replace(e, experiment=f"{e.experiment}@{phase[e.experiment]}")
                if isinstance(e, Exposure)
                else e
                for e in batch
            ]
            for batch in batches
        ]
    else:
        renamed = batches
    base: list[float] = []
    guarded: list[float] = []
    warm = [
        Exposure.create(d.key, "warm-up", d.variant_keys[0], NOW - 3600)
        for d in running(definitions)
    ]
    for round_ in range(ROUNDS):
        order = [("base", base), ("guarded", guarded)]
        for name, times in order if round_ % 2 == 0 else order[::-1]:  # ABBA: no order bias
            store = open_store(f"sqlite:///{folder}/{name}-{round_}.sqlite3", folder)
            # Untimed: the first exposure of each experiment (the guarded path claims here,
            # once per process), so the rounds measure the steady state.
            ingest_events(store, warm, definitions, NOW)
            if name == "base":
                times.append(timed(lambda s=store: [s.ingest(b, stored, NOW) for b in renamed]))
            else:
                times.append(
                    timed(lambda s=store: [ingest_events(s, b, definitions, NOW) for b in batches])
                )
            store.close()
    ratios = sorted(b / g for b, g in zip(base, guarded, strict=True))
    print(
        f"  per-round ratios (median {statistics.median(ratios):.2f}): "
        + ", ".join(f"{r:.2f}" for r in ratios)
    )
    return statistics.median(base), statistics.median(guarded)


def main() -> None:
    definitions = dict(load_directory(ROOT / "experiments").definitions)
    phased = {k: dataclasses.replace(d, phase=2) for k, d in definitions.items()}
    with tempfile.TemporaryDirectory() as tmp:
        for label, defs in (("phase 1", definitions), ("phase 2 (renamed)", phased)):
            base, guarded = measure(defs, Path(tmp))
            print(
                f"{label}: store.ingest {UNITS / base:,.0f} exposures/s, ingest_events "
                f"{UNITS / guarded:,.0f}/s, ratio {base / guarded:.3f} (1.0 = no cost)"
            )


if __name__ == "__main__":
    main()
