"""The cost of sticky assignment, each figure a ratio to a baseline measured in the same run.

Local: ``Client.get_variant`` on 10,000 units (offline client, exposures deduplicated) with a
``MemorySticky`` store next to the same client without one; medians of interleaved repeats.
The store's steady state (every unit remembered: one LRU read per call) is what is timed.

Remote: ``POST /v1/assign`` (one experiment, exposures not logged) against ``xp serve``
(gunicorn, 2 workers x 4 threads) with ``XP_STICKY=1`` next to the same server without it,
on SQLite and on a Redis the bench starts; interleaved rounds. Two loads: each request a new
unit (the worst case: one store read and one write per sticky request) and the same unit
every time (a returning unit: one read).

    .venv/bin/python -m bench.sticky [--rounds 3] [--seconds 3] [--local-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import timeit
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from bench.load import ROOT, Load, generator_name, run_load, spread
from tests.support.redis_server import running_redis
from tests.support.service_process import running_service
from xp_client import Client
from xp_client.sticky import MemorySticky

CONFIG = {
    "experiments": [
        {
            "key": "bench",
            "status": "running",
            "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
            "targeting": {"country": {"$in": ["US", "CA"]}},
        }
    ]
}
UNITS = [f"user-{i}" for i in range(10_000)]
REPEATS = 7
BODY = (
    '{"user_id":"u-{n}","attributes":{"country":"US","app_version":"2.1.0"},'
    '"experiments":["checkout-button"],"log_exposure":false}'
)
BODIES = {"new unit": BODY, "returning unit": BODY.replace("u-{n}", "returning")}


def local() -> None:
    plain = Client.offline(CONFIG)
    sticky = Client.offline(CONFIG, sticky=MemorySticky(maxsize=len(UNITS)))
    inputs = [(u, {"country": "US", "user_id": u}) for u in UNITS]

    def run(client: Client) -> None:
        for unit, attrs in inputs:
            client.get_variant("bench", unit, attrs)

    run(plain)
    run(sticky)  # first pass writes every record; the timed passes read them
    plain_us, sticky_us = [], []
    for _ in range(REPEATS):
        plain_us.append(timeit.timeit(lambda: run(plain), number=3) / (3 * len(UNITS)) * 1e6)
        sticky_us.append(timeit.timeit(lambda: run(sticky), number=3) / (3 * len(UNITS)) * 1e6)
    p, s = statistics.median(plain_us), statistics.median(sticky_us)
    ratios = [b / a for a, b in zip(plain_us, sticky_us, strict=True)]
    print(f"local get_variant, no sticky store : {p:.3f} us/call (median of {REPEATS})")
    print(f"local get_variant, MemorySticky    : {s:.3f} us/call")
    print(f"ratio                              : {s / p:.2f}x  (per round {spread(ratios)})")


def remote(rounds: int, seconds: float) -> None:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis_url = stack.enter_context(running_redis())
        env = {"XP_LOG_LEVEL": "WARNING"}
        urls = {}
        for backend, store_url in (("SQLite", None), ("Redis", redis_url)):
            for sticky in ("0", "1"):
                name = f"{backend}, XP_STICKY={sticky}"
                folder = tmp / name.replace(" ", "").replace(",", "-")
                url = store_url or f"sqlite:///{folder}.sqlite3"
                urls[name] = stack.enter_context(
                    running_service(
                        ROOT / "experiments",
                        folder,
                        env={**env, "XP_STORE_URL": url, "XP_STICKY": sticky},
                    )
                )
        for name, url in urls.items():
            run_load(url, "/v1/assign", BODY, 1.0, f"warm{len(name)}-")
            # The bench measures nothing unless the bucket decides (targeted, in coverage).
            assert reason(url) == "assigned", f"{name}: the unit is not in the experiment"
        runs = [(kind, name) for kind in BODIES for name in urls]
        loads: dict[tuple[str, str], list[Load]] = {run: [] for run in runs}
        for r in range(rounds):
            for i, (kind, name) in enumerate(runs):
                load = run_load(urls[name], "/v1/assign", BODIES[kind], seconds, f"r{r}t{i}-")
                loads[(kind, name)].append(load)
    print(
        f"\nPOST /v1/assign, {generator_name()}, {rounds} interleaved rounds of {seconds:g} s, "
        "exposures not logged; new unit: a store read and a write when sticky; returning "
        "unit: a read"
    )
    print(f"{'target':38s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s}  req/s vs XP_STICKY=0")
    for (kind, name), measured in loads.items():
        base = loads[(kind, name.replace("XP_STICKY=1", "XP_STICKY=0"))]
        ratios = [x.rps / b.rps for x, b in zip(measured, base, strict=True)]
        print(
            f"{kind + ', ' + name:38s} {statistics.median(x.rps for x in measured):8,.0f} "
            f"{statistics.median(x.p50_ms for x in measured):7.2f} "
            f"{statistics.median(x.p99_ms for x in measured):7.2f}  {spread(ratios)}"
        )


def reason(url: str) -> str:
    body = BODY.replace("{n}", "check").encode()
    request = urllib.request.Request(
        f"{url}/v1/assign", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.load(response)["assignments"]["checkout-button"]["reason"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--local-only", action="store_true")
    args = parser.parse_args()
    local()
    if not args.local_only:
        remote(args.rounds, args.seconds)


if __name__ == "__main__":
    main()
