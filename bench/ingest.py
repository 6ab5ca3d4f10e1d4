"""Events per second through the store, next to a raw redis-py pipeline doing the same calls.

The baseline is the least any client must do: one pipelined ``EVALSHA`` per (event,
experiment) with the same Lua scripts, every key and argument built before the clock starts.
The store adds planning (which experiments, windows, segments), key and argument building and
reading the results. Both run on the same events against a freshly flushed server, interleaved
over several repeats; the figures are medians. SQLite is measured on the same events too. The
ceiling is a pipeline of one trivial ``EVALSHA`` (one ``HINCRBY``) per event: what Redis and
the client can do at best. ``--compare-hiredis`` runs the whole benchmark in child processes
with and without hiredis, alternating, and prints its effect.

    .venv/bin/python -m bench.ingest [--repeats 7] [--units 8000] [--compare-hiredis]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis.utils import HIREDIS_AVAILABLE

from tests.support.redis_server import running_redis
from xp.attribution.ops import EventIndex, ExposureOp, plan_events
from xp.definitions.loader import load_directory
from xp.events.model import Conversion, Event, Exposure
from xp.ingest import ingest_batch
from xp.store import Store, open_store
from xp.store.redis.codec import conversion_call, exposure_call
from xp.store.redis.store import RedisStore

ROOT = Path(__file__).resolve().parent.parent

UNITS = 8_000
BATCH = 500
REPEATS = 7
NOW = time.time()
CONVERSIONS = [
    "purchase",
    "purchase",
    "refund",
    "session_start",
    "session_start",
    "project_created",
    "search",
    "search",
    "search_click",
    "zero_results",
]


def make_events(
    definitions: dict[str, Any], units: int = UNITS, prefix: str = "user-"
) -> list[Event]:
    """Exposures to the running example experiments, then about 2 conversions per exposure."""
    rng = random.Random(1)
    running = [d for d in definitions.values() if d.status == "running"]
    events: list[Event] = []
    for i in range(units):
        unit = f"{prefix}{i:06d}"
        start = NOW - 10 * 86_400 + rng.uniform(0, 86_400)
        attributes = {
            "country": rng.choice(["US", "CA"]),
            "device": rng.choice(["ios", "android", "web"]),
            "plan": rng.choice(["free", "pro"]),
            "platform": rng.choice(["ios", "web"]),
        }
        for definition in rng.sample(running, 2):
            variant = rng.choice(definition.variant_keys)
            events.append(
                Exposure.create(definition.key, unit, variant, start, attributes, event_id=unit)
            )
        for j in range(4):
            at = start + rng.uniform(0, 9 * 86_400)
            value = round(rng.uniform(1, 200), 2)
            events.append(Conversion(rng.choice(CONVERSIONS), unit, value, at, f"{unit}-{j}"))
    return events


def as_raw(event: Event) -> dict[str, Any]:
    if isinstance(event, Exposure):
        return {
            "type": "exposure",
            "experiment": event.experiment,
            "user_id": event.user_id,
            "variant": event.variant,
            "ts": event.ts,
            "attributes": dict(event.attributes),
            "event_id": event.event_id,
        }
    return {
        "type": "conversion",
        "event": event.event,
        "user_id": event.user_id,
        "value": event.value,
        "ts": event.ts,
        "event_id": event.event_id,
    }


def timed(prepare: Callable[[], None], run: Callable[[], None]) -> float:
    prepare()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


TRIVIAL = "return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument(
        "--compare-hiredis",
        action="store_true",
        help="run this benchmark in child processes with and without hiredis, interleaved",
    )
    args = parser.parse_args()
    if args.compare_hiredis:
        compare_hiredis(args.repeats, args.units)
        return
    measure(args.repeats, args.units)


def measure(repeats: int, units: int) -> dict[str, float]:
    """Print this process's figures; return the events/s of each path."""
    definitions = dict(load_directory(ROOT / "experiments").definitions)
    events = make_events(definitions, units)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    raw_batches = [[as_raw(e) for e in batch] for batch in batches]
    planned = plan_events(events, EventIndex(definitions), NOW)
    ops = [op for p in planned for op in p.ops]
    calls = [exposure_call(op) if isinstance(op, ExposureOp) else conversion_call(op) for op in ops]
    per_batch = [
        [c for p in plan_events(batch, EventIndex(definitions), NOW) for c in p.ops]
        for batch in batches
    ]
    call_batches = [
        [exposure_call(op) if isinstance(op, ExposureOp) else conversion_call(op) for op in b]
        for b in per_batch
    ]
    assert sum(len(b) for b in call_batches) == len(calls)
    # The ceiling: one trivial script call (one HINCRBY) per event, keys built in advance.
    trivial_batches = [[("{bench}:trivial", e.user_id) for e in batch] for batch in batches]

    with running_redis() as url, tempfile.TemporaryDirectory() as tmp:
        store = open_store(url, tmp)
        assert isinstance(store, RedisStore)
        client = store.client
        store.ping()
        shas = {name: client.script_load(store._sources[name]) for name in store._sources}
        trivial_sha = client.script_load(TRIVIAL)

        def flush() -> None:
            client.flushdb()
            store._registered.clear()

        def trivial_pipeline() -> None:
            for batch in trivial_batches:
                pipe = client.pipeline(transaction=False)
                for key, field in batch:
                    pipe.evalsha(trivial_sha, 1, key, field)
                pipe.execute()

        def raw_pipeline() -> None:
            for batch in call_batches:
                pipe = client.pipeline(transaction=False)
                for name, keys, args in batch:
                    pipe.evalsha(shas[name], len(keys), *keys, *args)
                pipe.execute()

        def through_store() -> None:
            for batch in batches:
                store.ingest(batch, definitions, NOW)

        def through_ingest_batch() -> None:
            for batch in raw_batches:
                ingest_batch(store, definitions, {"events": batch}, NOW)

        trivial_s, raw_s, store_s, api_s, sqlite_s = [], [], [], [], []
        for r in range(repeats):
            trivial_s.append(timed(flush, trivial_pipeline))
            raw_s.append(timed(flush, raw_pipeline))
            store_s.append(timed(flush, through_store))
            api_s.append(timed(flush, through_ingest_batch))
            sqlite_store = open_store(f"sqlite:///{tmp}/bench-{r}.sqlite3", tmp)

            def through_sqlite(target: Store = sqlite_store) -> None:
                for batch in batches:
                    target.ingest(batch, definitions, NOW)

            sqlite_s.append(timed(lambda: None, through_sqlite))
            sqlite_store.close()
        memory = client.info("memory")["used_memory_human"]
        store.close()

    n = len(events)
    exposures = sum(isinstance(e, Exposure) for e in events)
    parser = "hiredis" if HIREDIS_AVAILABLE else "pure-Python redis-py parser (no hiredis)"
    print(
        f"{n} events per repeat ({exposures} exposures, {n - exposures} conversions -> "
        f"{len(calls)} script calls), batches of {BATCH}, median of {repeats} repeats; {parser}"
    )
    rates: dict[str, float] = {}
    for label, seconds in (
        ("trivial EVALSHA pipeline, one HINCRBY/event", trivial_s),
        ("raw redis-py pipeline, EVALSHA per call", raw_s),
        ("store.ingest (Redis)", store_s),
        ("ingest_batch, raw dicts (Redis)", api_s),
        ("store.ingest (SQLite, WAL)", sqlite_s),
    ):
        rates[label] = n / statistics.median(seconds)
    trivial, raw = (
        rates["trivial EVALSHA pipeline, one HINCRBY/event"],
        rates["raw redis-py pipeline, EVALSHA per call"],
    )
    print(f"{'':44s} {'events/s':>10s}   vs raw   vs trivial")
    for label, rate in rates.items():
        print(f"{label:44s} {rate:10,.0f}   {rate / raw:6.2f}   {rate / trivial:8.2f}")
    print(
        "targets: store.ingest (Redis) >= 0.70 of the raw pipeline and >= 0.60 of the trivial "
        f"EVALSHA pipeline; Redis used {memory} at end"
    )
    return rates


# Run in a child: makes `import hiredis` fail, so redis-py falls back to its Python parser.
WITHOUT_HIREDIS = (
    "import sys, runpy; sys.modules['hiredis'] = None; "
    "sys.argv = ['bench.ingest', *sys.argv[1:]]; "
    "runpy.run_module('bench.ingest', run_name='__main__')"
)


def compare_hiredis(repeats: int, units: int, runs: int = 3) -> None:
    """Whole runs of this benchmark with and without hiredis, alternating; medians of ``runs``."""
    args = ["--repeats", str(repeats), "--units", str(units)]
    found: dict[str, dict[str, list[float]]] = {"hiredis": {}, "no hiredis": {}}
    for _ in range(runs):
        for name, command in (
            ("hiredis", [sys.executable, "-m", "bench.ingest", *args]),
            ("no hiredis", [sys.executable, "-c", WITHOUT_HIREDIS, *args]),
        ):
            out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
            for line in out.stdout.splitlines():
                match = re.match(r"(.+?)\s{2,}([\d,]+)\s+[\d.]+\s+[\d.]+$", line)
                if match:
                    rate = float(match.group(2).replace(",", ""))
                    found[name].setdefault(match.group(1).strip(), []).append(rate)
    print(f"hiredis vs redis-py's Python parser, {runs} alternating runs, events/s medians")
    for label, with_rates in found["hiredis"].items():
        without = found["no hiredis"][label]
        ratios = [a / b for a, b in zip(with_rates, without, strict=True)]
        print(
            f"{label:44s} {statistics.median(without):10,.0f} -> "
            f"{statistics.median(with_rates):10,.0f}   x{statistics.median(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
