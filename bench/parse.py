"""Parsing 500-event batches: ``load_batch`` next to building the events with no checks.

The baseline is the least any parser must do: construct each :class:`Exposure` or
:class:`Conversion` from its raw dict, with no validation at all. ``load_batch`` validates
every field (types, lengths, ranges, the clock) and returns the same events. Also printed:
each event through its marshmallow schema's full ``load`` (what ``load_batch`` falls back to
for an unusual event). Medians of interleaved repeats over the events of ``bench/ingest.py``.

    .venv/bin/python -m bench.parse [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from marshmallow.experimental.context import Context

from bench.ingest import BATCH, NOW, as_raw, make_events
from bench.load import ROOT, spread
from xp.definitions.loader import load_directory
from xp.events.model import Conversion, Event, Exposure
from xp.events.parse import SCHEMAS, load_batch

UNITS = 2_000


def unchecked(raw: dict[str, Any]) -> Event:
    """The floor: the event built from its dict, nothing checked."""
    if raw["type"] == "exposure":
        return Exposure(
            experiment=raw["experiment"],
            user_id=raw["user_id"],
            variant=raw["variant"],
            ts=raw["ts"],
            attributes=raw.get("attributes") or {},
            covariates=raw.get("covariates") or {},
            event_id=raw.get("event_id") or "",
        )
    return Conversion(raw["event"], raw["user_id"], raw["value"], raw["ts"], raw["event_id"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    definitions = dict(load_directory(ROOT / "experiments").definitions)
    events = make_events(definitions, UNITS)
    raws = [as_raw(e) for e in events]
    batches = [raws[i : i + BATCH] for i in range(0, len(raws), BATCH)]

    def baseline() -> None:
        for batch in batches:
            [unchecked(raw) for raw in batch]

    def batch_loader() -> None:
        for batch in batches:
            load_batch({"events": batch}, NOW)

    def full_schema() -> None:
        with Context(NOW):
            for batch in batches:
                [SCHEMAS[raw["type"]].load(raw) for raw in batch]

    loaded = [e for batch in batches for e in load_batch({"events": batch}, NOW)]
    assert loaded == [unchecked(raw) for raw in raws], "load_batch changed the events"
    paths = {"unchecked construction": baseline, "load_batch": batch_loader}
    paths["marshmallow load per event"] = full_schema
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, run in paths.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    per_batch = {name: [s / len(batches) * 1e3 for s in xs] for name, xs in seconds.items()}
    base = per_batch["unchecked construction"]
    print(f"{len(raws)} events in batches of {BATCH}, median of {args.repeats} interleaved repeats")
    print(f"{'path':28s} {'ms per batch':>12s}  {'us/event':>8s}  ratio vs unchecked (min-max)")
    for name, ms in per_batch.items():
        ratios = [m / b for m, b in zip(ms, base, strict=True)]
        median = statistics.median(ms)
        print(f"{name:28s} {median:12.2f}  {median * 1e3 / BATCH:8.1f}  {spread(ratios)}")
    print("target: load_batch within ~1.5x of the old hand parser's 4.1-4.4 ms per 500 events")


if __name__ == "__main__":
    main()
