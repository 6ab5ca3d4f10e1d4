"""Events per second through the store, next to a raw redis-py pipeline doing the same calls.

The baseline is the least any client must do: one pipelined ``EVALSHA`` of ``ingest.lua`` per
(batch, experiment), the store's own calls, every key and argument built before the clock
starts.
The store adds planning (which experiments, windows, segments), key and argument building and
reading the results. Both run on the same events against a freshly flushed server, interleaved
over several repeats; the figures are medians. SQLite is measured on the same events too. The
ceiling is a pipeline of one trivial ``EVALSHA`` (one ``HINCRBY``) per event: what Redis and
the client can do at best. ``--compare-hiredis`` also runs the Redis paths, in the same
repeats, on connections that pack and parse in pure Python (redis-py without hiredis), and
prints hiredis's speed-up on each. Beside each wall-time ratio, the same ratio on CPU time: this
process's plus the Redis server's (`INFO cpu`), which a loaded machine moves much less.

    .venv/bin/python -m bench.ingest [--repeats 7] [--units 8000] [--compare-hiredis]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis._parsers import _RESP2Parser
from redis.connection import PythonRespSerializer
from redis.utils import HIREDIS_AVAILABLE

from bench.load import spread
from tests.support.redis_server import running_redis
from xp.attribution.ops import EventIndex, plan_events
from xp.definitions.loader import load_directory
from xp.events.model import Conversion, Event, Exposure
from xp.ingest import ingest_batch
from xp.store import Store, open_store
from xp.store.redis.codec import ingest_calls
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


class CpuClock:
    """CPU seconds of a run: this process's (``time.process_time``) plus the Redis server's
    (``used_cpu_sys + used_cpu_user`` of ``INFO cpu``): what a busy neighbour on the machine
    inflates far less than wall time."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.seconds: dict[str, list[float]] = {}

    def _server(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def timed(self, label: str, prepare: Callable[[], None], run: Callable[[], None]) -> float:
        prepare()
        server, own = self._server(), time.process_time()
        start = time.perf_counter()
        run()
        wall = time.perf_counter() - start
        spent = time.process_time() - own + self._server() - server
        self.seconds.setdefault(label, []).append(spent)
        return wall


TRIVIAL = "return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)"
TRIVIAL_LABEL = "trivial EVALSHA pipeline, one HINCRBY/event"
RAW_LABEL = "raw redis-py pipeline, same EVALSHA calls"
STORE_LABEL = "store.ingest (Redis)"
API_LABEL = "ingest_batch, raw dicts (Redis)"
SQLITE_LABEL = "store.ingest (SQLite, WAL)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument(
        "--compare-hiredis",
        action="store_true",
        help="also run the Redis paths on pure-Python connections, interleaved",
    )
    args = parser.parse_args()
    measure(args.repeats, args.units, args.compare_hiredis)


def measure(repeats: int, units: int, compare_hiredis: bool = False) -> dict[str, float]:
    """Print this process's figures; return the events/s of each path."""
    definitions = dict(load_directory(ROOT / "experiments").definitions)
    events = make_events(definitions, units)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    raw_batches = [[as_raw(e) for e in batch] for batch in batches]
    per_batch = [
        [op for p in plan_events(batch, EventIndex(definitions), NOW) for op in p.ops]
        for batch in batches
    ]
    call_batches = [[call for call, _ in ingest_calls(ops, NOW)] for ops in per_batch]
    ops_count = sum(len(ops) for ops in per_batch)
    calls_count = sum(len(b) for b in call_batches)
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
        python_s: dict[str, list[float]] = {}
        default = client.connection_pool.connection_class
        cpu = CpuClock(client)
        for r in range(repeats):
            trivial_s.append(cpu.timed(TRIVIAL_LABEL, flush, trivial_pipeline))
            raw_s.append(cpu.timed(RAW_LABEL, flush, raw_pipeline))
            store_s.append(cpu.timed(STORE_LABEL, flush, through_store))
            api_s.append(cpu.timed(API_LABEL, flush, through_ingest_batch))
            if compare_hiredis and HIREDIS_AVAILABLE:
                use_connections(client, PythonConnection)
                for label, path in (
                    (TRIVIAL_LABEL, trivial_pipeline),
                    (RAW_LABEL, raw_pipeline),
                    (STORE_LABEL, through_store),
                ):
                    python_s.setdefault(label, []).append(timed(flush, path))
                use_connections(client, default)
            sqlite_store = open_store(f"sqlite:///{tmp}/bench-{r}.sqlite3", tmp)

            def through_sqlite(target: Store = sqlite_store) -> None:
                for batch in batches:
                    target.ingest(batch, definitions, NOW)

            sqlite_s.append(cpu.timed(SQLITE_LABEL, lambda: None, through_sqlite))
            sqlite_store.close()
        memory = client.info("memory")["used_memory_human"]
        store.close()

    n = len(events)
    exposures = sum(isinstance(e, Exposure) for e in events)
    parser = "hiredis" if HIREDIS_AVAILABLE else "pure-Python redis-py parser (no hiredis)"
    print(
        f"{n} events per repeat ({exposures} exposures, {n - exposures} conversions -> "
        f"{ops_count} (event, experiment) ops in {calls_count} script calls), batches of "
        f"{BATCH}, median of {repeats} repeats; {parser}"
    )
    runs = {
        TRIVIAL_LABEL: trivial_s,
        RAW_LABEL: raw_s,
        STORE_LABEL: store_s,
        API_LABEL: api_s,
        SQLITE_LABEL: sqlite_s,
    }
    rates = {label: n / statistics.median(seconds) for label, seconds in runs.items()}
    trivial, raw = rates[TRIVIAL_LABEL], rates[RAW_LABEL]
    # Per repeat, against the trivial pipeline of the same repeat: wall and CPU (client + Redis).
    print(
        f"{'':44s} {'events/s':>10s}   vs raw   vs trivial (min-max)   "
        "CPU us/event  vs trivial on CPU (min-max)"
    )
    for label, rate in rates.items():
        walls = [t / s for t, s in zip(trivial_s, runs[label], strict=True)]
        cpus = [t / s for t, s in zip(cpu.seconds[TRIVIAL_LABEL], cpu.seconds[label], strict=True)]
        print(
            f"{label:44s} {rate:10,.0f}   {rate / raw:6.2f}   {rate / trivial:8.2f} "
            f"({min(walls):.2f}-{max(walls):.2f})   "
            f"{statistics.median(cpu.seconds[label]) / n * 1e6:8.1f}   "
            f"{spread(cpus)}"
        )
    print(
        "targets: store.ingest (Redis) >= 0.60 of the trivial EVALSHA pipeline; "
        f"Redis used {memory} at end"
    )
    for label, python_seconds in python_s.items():  # pure-Python connections, same repeats
        speedups = [p / h for p, h in zip(python_seconds, runs[label], strict=True)]
        print(
            f"{label:44s} without hiredis {n / statistics.median(python_seconds):10,.0f} "
            f"events/s; hiredis x{spread(speedups)}"
        )
    return rates


class PythonConnection(redis.Connection):
    """A connection that packs and parses in pure Python, as redis-py does without hiredis."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "parser_class": _RESP2Parser})
        self._command_packer = PythonRespSerializer(self._buffer_cutoff, self.encoder.encode)


def use_connections(client: redis.Redis, kind: type[redis.Connection]) -> None:
    """Make ``client`` open its next connections as ``kind`` (closing the current ones)."""
    client.connection_pool.disconnect()
    client.connection_pool.connection_class = kind


if __name__ == "__main__":
    main()
