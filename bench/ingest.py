"""Events per second through the store, next to a raw redis-py pipeline doing the same calls.

The baseline is the least any client must do: one pipelined ``EVALSHA`` per (event,
experiment) with the same Lua scripts, every key and argument built before the clock starts.
The store adds planning (which experiments, windows, segments), key and argument building and
reading the results. Both run on the same events against a freshly flushed server, interleaved
over several repeats; the figures are medians. SQLite is measured on the same events too.

    .venv/bin/python bench/ingest.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def make_events(definitions: dict[str, Any]) -> list[Event]:
    """Exposures to the running example experiments, then about 2 conversions per exposure."""
    rng = random.Random(1)
    running = [d for d in definitions.values() if d.status == "running"]
    events: list[Event] = []
    for i in range(UNITS):
        unit = f"user-{i:06d}"
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


def main() -> None:
    definitions = dict(load_directory(ROOT / "experiments").definitions)
    events = make_events(definitions)
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

    with running_redis() as url, tempfile.TemporaryDirectory() as tmp:
        store = open_store(url, tmp)
        assert isinstance(store, RedisStore)
        client = store.client
        store.ping()
        shas = {name: client.script_load(store._sources[name]) for name in store._sources}

        def flush() -> None:
            client.flushdb()
            store._registered.clear()

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

        raw_s, store_s, api_s, sqlite_s = [], [], [], []
        for r in range(REPEATS):
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
    raw_rate = n / statistics.median(raw_s)
    print(
        f"{n} events per repeat ({exposures} exposures, {n - exposures} conversions -> "
        f"{len(calls)} script calls), batches of {BATCH}, median of {REPEATS} repeats"
    )
    print(f"{'raw redis-py pipeline, EVALSHA per call':44s} {raw_rate:10,.0f} events/s   1.00")
    for label, seconds in (
        ("store.ingest (Redis)", store_s),
        ("ingest_batch, raw dicts (Redis)", api_s),
        ("store.ingest (SQLite, WAL)", sqlite_s),
    ):
        rate = n / statistics.median(seconds)
        print(f"{label:44s} {rate:10,.0f} events/s   {rate / raw_rate:.2f}")
    print(f"target: store.ingest (Redis) >= 0.70 of the raw pipeline; Redis used {memory} at end")


if __name__ == "__main__":
    main()
