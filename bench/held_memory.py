"""Redis memory of held conversions and of daily snapshots (looks), against their baselines.

1. Held: 20k conversions of units not exposed yet (one each) are held; the baseline is the
   same conversions of exposed units, attributed at once (their event digest and the unit's
   total). Bytes per conversion from ``used_memory``; the ratio is held / attributed.
2. Looks: an experiment with 2 variants and 5 metrics written on 60 successive days; bytes per
   day of ``xp:{E}:looks`` (``MEMORY USAGE``) against the all hash it copies once a day.

3. SQLite: bytes of file per held conversion, against an attributed one, in fresh files.

Each figure is the median of 3 rounds on a flushed server.

    .venv/bin/python bench/held_memory.py
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from tests.support.redis_server import running_redis
from xp.definitions.loader import parse_definition
from xp.definitions.model import Definition
from xp.events.model import Conversion, Event, Exposure
from xp.store import Store, open_store
from xp.store.redis import keys
from xp.store.redis.store import RedisStore

UNITS = 20_000
DAYS = 60
ROUNDS = 3
BATCH = 1000
NOW = time.time()


def definition(metrics: int) -> Definition:
    made, problems = parse_definition(
        {
            "key": "memory-test",
            "name": "Memory",
            "status": "running",
            "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
            "metrics": [
                {"name": f"m{i}", "event": "purchase", "kind": ("binomial", "count", "sum")[i % 3]}
                for i in range(metrics)
            ],
        },
        "bench",
    )
    assert made is not None, problems
    return made


def used(store: RedisStore) -> int:
    return int(store.client.info("memory")["used_memory"])


def ingest(store: Store, d: Definition, events: list[Event], now: float = NOW) -> None:
    for i in range(0, len(events), BATCH):
        store.ingest(events[i : i + BATCH], {d.key: d}, now)


def conversion_bytes(store: RedisStore, exposed: bool) -> float:
    store.client.flushdb()
    d = definition(1)
    units = [f"user-{i:07d}" for i in range(UNITS)]
    if exposed:
        ingest(store, d, [Exposure.create(d.key, u, "control", NOW - 3600) for u in units])
    before = used(store)
    ingest(store, d, [Conversion("purchase", u, 1.0, NOW - 60, f"p-{u}") for u in units])
    return (used(store) - before) / UNITS


def look_bytes(store: RedisStore) -> tuple[float, float]:
    store.client.flushdb()
    d = definition(5)
    day0 = NOW - DAYS * 86_400
    for day in range(DAYS + 1):
        at = day0 + day * 86_400
        events: list[Event] = [
            Exposure.create(d.key, f"u{day}", ("control", "treatment")[day % 2], at)
        ]
        events.append(Conversion("purchase", f"u{day}", 2.5, at + 1, f"p{day}"))
        ingest(store, d, events, at + 1)
    looks = int(store.client.memory_usage(keys.looks(d.key)) or 0)
    whole = int(store.client.memory_usage(keys.overall(d.key)) or 0)
    return looks / DAYS, float(whole)


def sqlite_bytes(folder: str, exposed: bool, round_: int) -> float:
    d = definition(1)
    path = Path(folder) / f"{exposed}-{round_}.sqlite3"
    store = open_store(f"sqlite:///{path}", folder)
    units = [f"user-{i:07d}" for i in range(UNITS)]
    if exposed:
        ingest(store, d, [Exposure.create(d.key, u, "control", NOW - 3600) for u in units])
    store.close()
    before = _file_bytes(path)
    store = open_store(f"sqlite:///{path}", folder)
    ingest(store, d, [Conversion("purchase", u, 1.0, NOW - 60, f"p-{u}") for u in units])
    store.close()
    return (_file_bytes(path) - before) / UNITS


def _file_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def main() -> None:
    held, attributed, per_day, overall = [], [], [], []
    with running_redis() as url, tempfile.TemporaryDirectory() as tmp:
        store = open_store(url, tmp)
        assert isinstance(store, RedisStore)
        for _ in range(ROUNDS):  # interleaved
            held.append(conversion_bytes(store, exposed=False))
            attributed.append(conversion_bytes(store, exposed=True))
            day, whole = look_bytes(store)
            per_day.append(day)
            overall.append(whole)
        store.close()
        lite = [(sqlite_bytes(tmp, False, i), sqlite_bytes(tmp, True, i)) for i in range(ROUNDS)]
    sh = statistics.median(x for x, _ in lite)
    sa = statistics.median(y for _, y in lite)
    h, a = statistics.median(held), statistics.median(attributed)
    p, w = statistics.median(per_day), statistics.median(overall)
    print(
        f"held conversion: {h:.0f} bytes; attributed conversion: {a:.0f} bytes; ratio {h / a:.2f}"
    )
    print(f"daily snapshot (2 variants, 5 metrics): {p:.0f} bytes per day; the all hash it copies:")
    print(f"  {w:.0f} bytes; ratio {p / w:.2f}")
    print(f"SQLite: held conversion {sh:.0f} bytes, attributed {sa:.0f}; ratio {sh / sa:.2f}")


if __name__ == "__main__":
    main()
