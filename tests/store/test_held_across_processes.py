"""Conversions before exposures, sent by two processes at once: totals exact on every backend.

One process sends every conversion, the other every exposure (as a second SDK process or a
server-side event source would); whichever arrives first, every statistic must equal the brute
force that sees each exposure before its conversions.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.brute_force import BruteForce, flatten
from tests.support.experiments import MakeStore, make_definition
from xp.definitions.model import DAY_SECONDS
from xp.events.model import Conversion, Event, Exposure
from xp.store import Store

NOW = 1_790_000_000.0
T0 = NOW - 5 * DAY_SECONDS  # every event in the past of NOW
UNITS = 400
DEFINITION = make_definition(
    key="two",
    metrics=[
        {"name": "converted", "event": "purchase", "kind": "binomial", "window_days": 1},
        {"name": "revenue", "event": "purchase", "kind": "sum"},
        {"name": "retained", "event": "visit", "kind": "retention", "window_days": [1, 2]},
        {"name": "ctr", "kind": "ratio", "numerator": "click", "denominator": "search"},
    ],
    segments=["country"],
)
DEFINITIONS = {"two": DEFINITION}


def workload(seed: int) -> tuple[list[Event], list[Event]]:
    """Exposures, and conversions of those units and of units never exposed, with replays."""
    rng = random.Random(seed)
    exposed_at = {f"u{i}": T0 + rng.uniform(0, DAY_SECONDS) for i in range(UNITS)}
    exposures: list[Event] = [
        Exposure.create(
            "two",
            unit,
            rng.choice(["control", "treatment"]),
            ts,
            {"country": rng.choice(["US", "FR"])},
            {"revenue": float(rng.randint(0, 9))} if rng.random() < 0.5 else {},
        )
        for unit, ts in exposed_at.items()
    ]
    conversions: list[Event] = []
    for i in range(6 * UNITS):
        unit = f"u{rng.randrange(UNITS + 40)}"  # u400.. are never exposed: they stay held
        base = exposed_at.get(unit, T0)
        ts = base + rng.uniform(-0.2, 2.5) * DAY_SECONDS  # some before, some outside windows
        event = rng.choice(["purchase", "purchase", "visit", "search", "click"])
        conversions.append(Conversion(event, unit, float(rng.randint(1, 40)), ts, f"c{i}"))
    conversions += rng.sample(conversions, len(conversions) // 10)  # replays
    rng.shuffle(exposures)
    rng.shuffle(conversions)
    return exposures, conversions


def send(store: Store, events: Sequence[Event], results: Any) -> None:
    counts: Counter[str] = Counter()
    try:
        for i in range(0, len(events), 50):
            counts.update(o.status for o in store.ingest(events[i : i + 50], DEFINITIONS, NOW))
        results.put(dict(counts))
    except BaseException as exc:  # reported to the parent
        results.put({"error": repr(exc)})


def run_together(
    store: Store, *streams: Sequence[Event], one_after_the_other: bool
) -> Counter[str]:
    """Each stream from its own process; all at once, or each process after the last."""
    context = multiprocessing.get_context("fork")  # each child opens its own connections
    results = context.Queue()
    total: Counter[str] = Counter()
    processes = [context.Process(target=send, args=(store, s, results)) for s in streams]
    for process in processes:
        process.start()
        if one_after_the_other:
            process.join(timeout=120)
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    for answer in answers:
        assert "error" not in answer, answer["error"]
        total.update(answer)
    return total


@pytest.mark.parametrize("arrival", ["conversions first", "exposures first", "at once"])
def test_two_processes_give_exact_totals_whichever_arrives_first(
    make_store: MakeStore, arrival: str
) -> None:
    store = make_store()
    store.ping()  # connections open before the fork: the children must not share them
    exposures, conversions = workload(seed=11)
    reference = BruteForce(DEFINITIONS)
    reference.ingest(exposures)
    reference.ingest(conversions)

    if arrival == "conversions first":
        statuses = run_together(store, conversions, exposures, one_after_the_other=True)
    elif arrival == "exposures first":
        statuses = run_together(store, exposures, conversions, one_after_the_other=True)
    else:
        statuses = run_together(store, conversions, exposures, one_after_the_other=False)

    replays = len(conversions) // 11
    assert statuses == {
        "accepted": len(exposures) + len(conversions) - replays,
        "duplicate": replays,
    }
    got, expected = flatten(store.experiment_stats(DEFINITION)), reference.stats("two")
    assert got.keys() == expected.keys()
    for path, value in expected.items():
        assert got[path] == pytest.approx(value, rel=1e-9, abs=1e-9), path
    assert expected["diagnostics/held"] > 0  # the never-exposed units' conversions wait
    assert expected["all/metrics/revenue/control/sum"] > 0
