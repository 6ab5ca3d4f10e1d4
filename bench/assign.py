"""Microseconds per assignment: the engine next to the bare hash-and-bisect core.

The core is what any assignment must do at least: an f-string, ``mmh3.hash``, ``% 10000`` and a
``bisect`` over cumulative weights. The engine adds status, overrides, a one-clause targeting
condition and the result object. Both run on the same units, in the same process, interleaved
over several repeats; the figures are medians.

    .venv/bin/python bench/assign.py
"""

from __future__ import annotations

import statistics
import timeit
from bisect import bisect_right

import mmh3

from xp_client.definition import Experiment
from xp_client.engine import assign_variant

UNITS = [f"user-{i}" for i in range(10_000)]
REPEATS = 7

EXPERIMENT = Experiment.from_dict(
    {
        "key": "bench",
        "status": "running",
        "variants": [
            {"key": "a", "weight": 0.5},
            {"key": "b", "weight": 0.3},
            {"key": "c", "weight": 0.2},
        ],
        "targeting": {"country": {"$in": ["US", "CA"]}},
    }
)
ATTRIBUTES = [{"user_id": u, "country": "US"} for u in UNITS]
CUMULATIVE = [5000, 8000, 10_000]


def bare_core() -> None:
    for unit in UNITS:
        bisect_right(CUMULATIVE, mmh3.hash(f"bench:{unit}", 0, False) % 10_000)


def engine() -> None:
    for attrs in ATTRIBUTES:
        assign_variant(EXPERIMENT, attrs)


def per_call_us(fn: object) -> float:
    seconds = timeit.timeit(fn, number=5)  # type: ignore[arg-type]
    return seconds / (5 * len(UNITS)) * 1e6


def main() -> None:
    core, full = [], []
    for _ in range(REPEATS):
        core.append(per_call_us(bare_core))
        full.append(per_call_us(engine))
    core_us, engine_us = statistics.median(core), statistics.median(full)
    print(f"bare core : {core_us:.3f} us/assignment (median of {REPEATS})")
    print(f"engine    : {engine_us:.3f} us/assignment (3 variants, one-clause targeting)")
    print(f"ratio     : {engine_us / core_us:.2f}x the bare core (target <= 4x)")


if __name__ == "__main__":
    main()
