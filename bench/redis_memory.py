"""Redis memory per exposed unit: the store's bucketed layout next to one hash key per unit.

100k units are exposed to an experiment with one metric (``used_memory`` from ``INFO memory``
before and after); then 30% of them convert once. The baseline stores the same two facts per
unit (variant, first exposure) the obvious way, one small hash key per unit, in the same run.
Each figure is the median of several repeats on a flushed server.

    .venv/bin/python bench/redis_memory.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tests.support.redis_server import running_redis
from xp.definitions.loader import parse_definition
from xp.definitions.model import Definition
from xp.events.model import Conversion, Event, Exposure
from xp.store import open_store
from xp.store.redis import keys
from xp.store.redis.store import RedisStore

ROOT = Path(__file__).resolve().parent.parent

UNITS = 100_000
CONVERTING = 0.3
REPEATS = 5
BATCH = 1000
NOW = time.time()
TARGET = 150


def memory_definition() -> Definition:
    definition, problems = parse_definition(
        {
            "key": "memory-test",
            "name": "Memory",
            "status": "running",
            "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
            "metrics": [{"name": "converted", "event": "purchase", "kind": "binomial"}],
        },
        "bench",
    )
    assert definition is not None, problems
    return definition


definition = memory_definition()
DEFINITIONS = {definition.key: definition}
UNIT_IDS = [f"user-{i:07d}" for i in range(UNITS)]
EXPOSED_AT = [round(NOW - 86_400 + i * 0.5, 3) for i in range(UNITS)]


def used(store: RedisStore) -> int:
    return int(store.client.info("memory")["used_memory"])


def ingest(store: RedisStore, events: list[Event]) -> None:
    for i in range(0, len(events), BATCH):
        store.ingest(events[i : i + BATCH], DEFINITIONS, NOW)


def main() -> None:
    exposures: list[Event] = [
        Exposure.create(definition.key, unit, ("control", "treatment")[i % 2], EXPOSED_AT[i])
        for i, unit in enumerate(UNIT_IDS)
    ]
    step = round(1 / CONVERTING)
    conversions: list[Event] = [
        Conversion("purchase", unit, 1.0, EXPOSED_AT[i] + 60, f"purchase-{i}")
        for i, unit in enumerate(UNIT_IDS)
        if i % step == 0
    ]
    per_unit, per_conversion, naive_per_unit = [], [], []
    with running_redis() as url, tempfile.TemporaryDirectory() as tmp:
        store = open_store(url, tmp)
        assert isinstance(store, RedisStore)
        client = store.client
        for _ in range(REPEATS):
            client.flushdb()
            store._registered.clear()
            before = used(store)
            ingest(store, exposures)
            exposed = used(store)
            ingest(store, conversions)
            per_unit.append((exposed - before) / UNITS)
            per_conversion.append((used(store) - exposed) / len(conversions))

        # What the exposed units' memory is made of (after the last repeat).
        bucket_keys = [keys.units(definition.key, b) for b in range(keys.UNIT_BUCKETS)]
        pipe = client.pipeline(transaction=False)
        for key in bucket_keys:
            pipe.memory_usage(key, samples=0)
        bucket_bytes = sum(int(n or 0) for n in pipe.execute())
        content = sum(
            len(u) + len(r) for k in bucket_keys[:64] for u, r in client.hgetall(k).items()
        )
        sampled_units = sum(int(client.hlen(k)) for k in bucket_keys[:64])
        encodings = {client.object("encoding", k) for k in bucket_keys[:64]}
        record = next(iter(client.hgetall(bucket_keys[0]).items()))
        other_bytes = sum(
            int(client.memory_usage(k, samples=0) or 0)
            for k in (keys.stats(definition.key), keys.names(definition.key))
        )

        for _ in range(REPEATS):
            client.flushdb()
            before = used(store)
            for i in range(0, UNITS, BATCH):
                pipe = client.pipeline(transaction=False)
                for j in range(i, i + BATCH):
                    pipe.hset(
                        f"naive:{{{definition.key}}}:unit:{UNIT_IDS[j]}",
                        mapping={"variant": ("control", "treatment")[j % 2], "ts": EXPOSED_AT[j]},
                    )
                pipe.execute()
            naive_per_unit.append((used(store) - before) / UNITS)
        store.close()

    unit_bytes = statistics.median(per_unit)
    naive = statistics.median(naive_per_unit)
    print(f"{UNITS} units, one binomial metric, median of {REPEATS} repeats (INFO used_memory)")
    print(f"{'one hash key per unit (baseline)':40s} {naive:7.1f} bytes/unit   1.00")
    print(
        f"{'store: units in ' + str(keys.UNIT_BUCKETS) + ' bucket hashes':40s} "
        f"{unit_bytes:7.1f} bytes/unit   {unit_bytes / naive:.2f}   "
        f"(target <= {TARGET}: {'met' if unit_bytes <= TARGET else 'MISSED'})"
    )
    print(
        f"{'+ one conversion (' + str(len(conversions)) + ' units)':40s} "
        f"{statistics.median(per_conversion):7.1f} bytes/conversion (event id digest + total)"
    )
    payload = content / sampled_units
    print(
        f"what a unit costs: {bucket_bytes / UNITS:.1f} bytes in bucket hashes "
        f"({', '.join(sorted(encodings))}), of which {payload:.1f} are its id and record "
        f"(e.g. {record[0]!r} -> {record[1]!r}) and {bucket_bytes / UNITS - payload:.1f} "
        f"listpack entry headers and per-key overhead ({bucket_bytes / keys.UNIT_BUCKETS:.0f} "
        f"bytes per bucket key); stats and names hashes {other_bytes} bytes in all"
    )


if __name__ == "__main__":
    main()
