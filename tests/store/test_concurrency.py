"""Many writers at once: 2 processes x 8 threads, 50k events and 10% replays, totals exact."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.brute_force import BruteForce, flatten
from tests.support.experiments import MakeStore, make_definition
from xp.events.model import Conversion, Event, Exposure
from xp.store import Store

pytestmark = pytest.mark.slow

PROCESSES = 2
THREADS = 8
UNITS = 5_000
EVENTS = 50_000
BATCH = 100
NOW = time.time()
T0 = float(int(NOW) - 3 * 86_400)
DEFINITION = make_definition(
    key="load",
    metrics=[
        {"name": "converted", "event": "purchase", "kind": "binomial", "window_days": 7},
        {"name": "purchases", "event": "purchase", "kind": "count"},
        {"name": "revenue", "event": "purchase", "kind": "sum"},
        {"name": "ctr", "kind": "ratio", "numerator": "click", "denominator": "search"},
    ],
    segments=["country"],
)
DEFINITIONS = {"load": DEFINITION}


def workload(seed: int) -> tuple[list[Event], list[Event]]:
    """Exposures, then conversions on them; each list with 10% of its events sent twice."""
    rng = random.Random(seed)
    exposures: list[Event] = [
        Exposure.create(
            "load",
            f"u{i}",
            rng.choice(["control", "treatment"]),
            T0 + i,
            {"country": rng.choice(["US", "CA", "FR"])},
            {"revenue": float(rng.randint(0, 50))} if i % 3 else {},
            event_id=f"x{i}",
        )
        for i in range(UNITS)
    ]
    conversions: list[Event] = [
        Conversion(
            rng.choice(["purchase", "purchase", "click", "search"]),
            f"u{rng.randrange(UNITS)}",
            float(rng.randint(1, 100)),
            T0 + UNITS + i,
            f"c{i}",
        )
        for i in range(EVENTS - UNITS)
    ]

    def with_replays(events: list[Event]) -> list[Event]:
        sent = events + rng.sample(events, len(events) // 10)
        rng.shuffle(sent)
        return sent

    return with_replays(exposures), with_replays(conversions)


def send(store: Store, events: Sequence[Event], results: Any) -> None:
    """One process: THREADS threads share ``store`` and send ``events`` in batches."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def run(part: Sequence[Event]) -> None:
        try:
            for i in range(0, len(part), BATCH):
                outcomes = store.ingest(part[i : i + BATCH], DEFINITIONS, NOW)
                with lock:
                    counts.update(o.status for o in outcomes)
        except BaseException as exc:  # reported to the parent below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(events[t::THREADS],)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(dict(counts) if not errors else {"error": repr(errors[0])})


def in_processes(store: Store, events: list[Event]) -> Counter[str]:
    context = multiprocessing.get_context("fork")  # children inherit the open store object
    results = context.Queue()
    processes = [
        context.Process(target=send, args=(store, events[p::PROCESSES], results))
        for p in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    total: Counter[str] = Counter()
    for answer in answers:
        assert "error" not in answer, answer["error"]
        total.update(answer)
    return total


def test_concurrent_writers_keep_every_total_exact(make_store: MakeStore) -> None:
    store = make_store()
    store.ping()  # connections open before the fork: children must not share them
    exposures, conversions = workload(seed=3)
    reference = BruteForce(DEFINITIONS)
    reference.ingest(exposures)
    reference.ingest(conversions)

    statuses = in_processes(store, exposures) + in_processes(store, conversions)

    assert statuses == {"accepted": EVENTS, "duplicate": EVENTS // 10}
    assert flatten(store.experiment_stats(DEFINITION)) == reference.stats("load")
