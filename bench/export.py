"""``units.csv`` next to the least any exporter must do: the raw driver read of the same rows
and the ``csv`` module writing them.

Baseline, per backend: the driver reads exactly what the store reads (Redis: ``HGETALL`` of
every unit bucket, pipelined 256 to a round trip; SQLite: the ``units`` and ``unit_totals``
rows, paged by unit id as the store pages them) and ``csv.writer`` writes one row per unit with
as many cells as the export has, straight from the stored fields (no name decoding, no number
formatting). The measured path is ``stored_units_csv``, the generator
``GET /v1/experiments/<key>/units.csv`` and ``xp export`` stream (on Redis each record turned
straight into cells), consumed chunk by chunk; next to it, the same rows through
``iter_unit_values`` and ``units_csv`` (positional values first, the path before 2026-12-02
evening), for before/after in one run. Rounds are interleaved; the figures are medians with
the spread (min-max) of the ratio, on wall time
and on this process's CPU time.

    .venv/bin/python -m bench.export [--units 40000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tests.support.experiments import make_definition
from tests.support.redis_server import running_redis
from xp.definitions.model import Definition
from xp.events.model import Conversion, Event, Exposure
from xp.reports.units_csv import stored_units_csv, unit_columns, units_csv
from xp.store import Store, open_store
from xp.store.redis import keys
from xp.store.redis.store import BUCKETS_PER_ROUND_TRIP, RedisStore
from xp.store.sqlite.store import PAGE_ROWS, SqliteStore

NOW = time.time()
TARGET = 1.5


def make_events(units: int) -> list[Event]:
    """Exposures with two segments, then purchases, visits, clicks and searches."""
    rng = random.Random(7)
    events: list[Event] = []
    for i in range(units):
        unit = f"user-{i:07d}"
        start = NOW - 5 * 86_400 + rng.uniform(0, 86_400)
        attributes = {
            "country": rng.choice(["US", "CA", "DE"]),
            "device": rng.choice(["ios", "web"]),
        }
        variant = rng.choice(["control", "treatment"])
        events.append(Exposure.create("exp", unit, variant, start, attributes))
        for j, name in enumerate(("purchase", "visit", "click", "search")):
            if rng.random() < 0.6:
                at = start + rng.uniform(60, 3 * 86_400)
                value = round(rng.uniform(1, 100), 2)
                events.append(Conversion(name, unit, value, at, f"{unit}-{j}"))
    return events


def write_rows(rows: Iterable[list[Any]]) -> int:
    """``csv.writer`` over ``rows`` in 500-row chunks, as the export chunks; bytes written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    size = 0
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % 500 == 0:
            size += len(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    return size + len(buffer.getvalue())


def raw_redis(store: RedisStore, definition: Definition, width: int) -> Callable[[], int]:
    client = store.client
    e = definition.key

    def rows() -> Iterator[list[Any]]:
        for start in range(0, keys.UNIT_BUCKETS, BUCKETS_PER_ROUND_TRIP):
            pipe = client.pipeline(transaction=False)
            for bucket in range(start, min(start + BUCKETS_PER_ROUND_TRIP, keys.UNIT_BUCKETS)):
                pipe.hgetall(keys.units(e, bucket))
            for records in pipe.execute():
                for unit_id, record in records.items():
                    fields = record.split("|")
                    yield [unit_id, *fields, *[""] * (width - 1 - len(fields))][:width]

    return lambda: write_rows(rows())


def raw_sqlite(store: SqliteStore, definition: Definition, width: int) -> Callable[[], int]:
    conn = store._conn()
    e = definition.key

    def rows() -> Iterator[list[Any]]:
        last = ""
        while True:
            units = conn.execute(
                "SELECT unit_id, variant, ts, segments FROM units"
                " WHERE experiment = ? AND unit_id > ? ORDER BY unit_id LIMIT ?",
                (e, last, PAGE_ROWS),
            ).fetchall()
            if not units:
                return
            totals: dict[str, list[object]] = {}
            for unit_id, _metric, total, den in conn.execute(
                "SELECT unit_id, metric, total, den FROM unit_totals"
                " WHERE experiment = ? AND unit_id BETWEEN ? AND ?",
                (e, units[0][0], units[-1][0]),
            ):
                totals.setdefault(unit_id, []).extend((total, den))
            for unit_id, variant, ts, segments in units:
                row = [unit_id, variant, ts, segments, *totals.get(unit_id, ())]
                yield (row + [""] * width)[:width]
            last = units[-1][0]

    return lambda: write_rows(rows())


def exported(store: Store, definition: Definition) -> Callable[[], int]:
    return lambda: sum(len(chunk) for chunk in stored_units_csv(store, definition, definition))


def positional(store: Store, definition: Definition) -> Callable[[], int]:
    return lambda: sum(
        len(chunk) for chunk in units_csv(definition, store.iter_unit_values(definition))
    )


def measure(name: str, sides: dict[str, Callable[[], int]], rounds: int) -> None:
    """Median ratios to ``base`` of interleaved rounds, on wall time and on this process's CPU
    time (the machine is shared: CPU time is what a busy neighbour cannot inflate; Redis' own
    work is in every side's wall time and in none's CPU time)."""
    for fn in sides.values():
        fn()  # warm: scripts, caches, pages
    wall: dict[str, list[float]] = {which: [] for which in sides}
    cpu: dict[str, list[float]] = {which: [] for which in sides}
    for _ in range(rounds):
        for which, fn in sides.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[which].append(time.perf_counter() - started)
            cpu[which].append(time.process_time() - started_cpu)
    print(f"{name:7s} raw driver + csv {statistics.median(wall['base']) * 1000:7.1f} ms")
    for which in sides:
        if which == "base":
            continue
        ratios = [o / b for o, b in zip(wall[which], wall["base"], strict=True)]
        cpu_ratios = [o / b for o, b in zip(cpu[which], cpu["base"], strict=True)]
        print(
            f"  {which:16s} {statistics.median(wall[which]) * 1000:7.1f} ms | "
            f"wall ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | "
            f"cpu ratio {statistics.median(cpu_ratios):.2f}x "
            f"({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}) | target <= {TARGET}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    definition = make_definition()
    definitions = {"exp": definition}
    width = len(unit_columns(definition))
    events = make_events(args.units)
    print(f"{args.units} units, {len(events)} events, {width} columns, {args.rounds} rounds")
    with running_redis() as url, tempfile.TemporaryDirectory() as tmp:
        redis_store = open_store(url, tmp)
        sqlite_store = open_store(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", tmp)
        assert isinstance(redis_store, RedisStore) and isinstance(sqlite_store, SqliteStore)
        for store in (redis_store, sqlite_store):
            for i in range(0, len(events), 1000):
                store.ingest(events[i : i + 1000], definitions, NOW)
        for name, store, raw in (
            ("redis", redis_store, raw_redis(redis_store, definition, width)),
            ("sqlite", sqlite_store, raw_sqlite(sqlite_store, definition, width)),
        ):
            sides = {
                "base": raw,
                "stored_units_csv": exported(store, definition),
                "positional": positional(store, definition),
            }
            measure(name, sides, args.rounds)
        redis_store.close()
        sqlite_store.close()


if __name__ == "__main__":
    main()
