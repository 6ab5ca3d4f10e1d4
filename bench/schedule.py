"""What a schedule costs an assignment: the same experiment with and without ``start``/``end``.

Three timings per round, interleaved, medians of the rounds: the engine on the experiment
without a schedule (the baseline), the engine on it with an open window (one clock read and
two comparisons more), and ``Client.get_variant`` on the scheduled one (exposures already
deduplicated), whose ratio to the scheduled engine is the SDK's own overhead.

    .venv/bin/python -m bench.schedule [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from typing import Any

from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant
from xp_client.transport import FakeTransport, Response

PLAIN: dict[str, Any] = {
    "key": "plain",
    "status": "running",
    "variants": [
        {"key": "a", "weight": 0.5},
        {"key": "b", "weight": 0.3},
        {"key": "c", "weight": 0.2},
    ],
    "targeting": {"country": {"$in": ["US", "CA"]}},
}
SCHEDULED = {**PLAIN, "key": "scheduled", "start": "2000-01-01", "end": "2999-12-31"}
UNITS = [f"user-{i}" for i in range(10_000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = max(3, parser.parse_args().rounds)
    plain, scheduled = Experiment.from_dict(PLAIN), Experiment.from_dict(SCHEDULED)
    inputs = [{"country": "US", "user_id": u} for u in UNITS]
    transport = FakeTransport(default=lambda r: Response(304 if r.path == "/v1/config" else 202))
    xp = Client(
        config={"experiments": [SCHEDULED]},
        transport=transport,
        init_timeout=0,
        flush_interval=3600,
        capacity=1_000_000,
    )

    def engine_plain() -> None:
        for attrs in inputs:
            assign_variant(plain, attrs)

    def engine_scheduled() -> None:
        for attrs in inputs:
            assign_variant(scheduled, attrs)

    def sdk_scheduled() -> None:
        for attrs in inputs:
            xp.get_variant("scheduled", attributes=attrs)

    sdk_scheduled()  # queues each unit's exposure once; the timed passes are the steady state
    assert all(assign_variant(scheduled, a).in_experiment for a in inputs[:100])
    timings: dict[str, list[float]] = {"plain": [], "scheduled": [], "sdk": []}
    for _ in range(rounds):
        for name, run in (("plain", engine_plain), ("scheduled", engine_scheduled),
                          ("sdk", sdk_scheduled)):  # fmt: skip
            timings[name].append(timeit.timeit(run, number=3) / (3 * len(inputs)) * 1e6)
    xp.close(timeout=1)
    p, s, k = (statistics.median(timings[n]) for n in ("plain", "scheduled", "sdk"))
    print(f"engine, no schedule : {p:.3f} us/assignment (median of {rounds} interleaved rounds)")
    print(f"engine, scheduled   : {s:.3f} us/assignment ({s / p:.2f}x the unscheduled engine)")
    print(f"get_variant, sched. : {k:.3f} us/call ({k / s:.2f}x the scheduled engine)")


if __name__ == "__main__":
    main()
