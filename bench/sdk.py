"""SDK cost: local ``get_variant`` next to the bare engine call, and remote-mode latency.

Local: the same 10,000 units through ``Client.get_variant`` (offline client, exposures
deduplicated after the first pass) and through ``assign_variant`` on the same attributes;
medians of interleaved repeats. Remote: p50/p99 of ``get_variant`` in remote mode against a
real ``xp serve`` on a free port (SQLite store in a temp dir, exposures logged).

    .venv/bin/python bench/sdk.py [--remote-calls 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.redis_server import free_port
from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant
from xp_client.transport import FakeTransport, Response

ROOT = Path(__file__).resolve().parent.parent

CONFIG = {
    "experiments": [
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
    ]
}
UNITS = [f"user-{i}" for i in range(10_000)]
ATTRS = {"country": "US"}
REPEATS = 7
ROUNDS = 21


def local() -> None:
    # Exposures go nowhere (202), config polls get 304; the queue and dedupe still run.
    transport = FakeTransport(default=lambda r: Response(304 if r.path == "/v1/config" else 202))
    xp = Client(
        config=CONFIG, transport=transport, init_timeout=0, flush_interval=3600, capacity=1_000_000
    )
    experiment = Experiment.from_dict(CONFIG["experiments"][0])
    inputs = [{**ATTRS, "user_id": u} for u in UNITS]

    def engine() -> None:
        for attrs in inputs:
            assign_variant(experiment, attrs)

    def sdk() -> None:
        for unit, attrs in zip(UNITS, inputs, strict=True):
            xp.get_variant("bench", user_id=unit, attributes=attrs)

    sdk()  # first pass queues one exposure per unit; the timed passes are the steady state
    calls = len(UNITS)
    wall: dict[str, list[float]] = {"engine": [], "sdk": []}
    cpu: dict[str, list[float]] = {"engine": [], "sdk": []}
    for r in range(ROUNDS):
        # Paired rounds, in alternating order: a neighbour slowing the machine for a while
        # moves both passes of a round, so each round's ratio is steadier than either time.
        for name in ("engine", "sdk") if r % 2 == 0 else ("sdk", "engine"):
            run = engine if name == "engine" else sdk
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append((time.perf_counter() - start_wall) / calls * 1e6)
            cpu[name].append((time.process_time() - start_cpu) / calls * 1e6)
    e, s = statistics.median(wall["engine"]), statistics.median(wall["sdk"])
    wall_ratios = [b / a for a, b in zip(wall["engine"], wall["sdk"], strict=True)]
    cpu_ratios = [b / a for a, b in zip(cpu["engine"], cpu["sdk"], strict=True)]
    print(f"engine       : {e:.3f} us/call (median of {ROUNDS} passes of {calls})")
    print(f"get_variant  : {s:.3f} us/call (local, exposure deduplicated)")
    print(
        f"ratio        : {statistics.median(wall_ratios):.2f}x the engine, paired median of "
        f"{ROUNDS} rounds (IQR {_iqr(wall_ratios)}); on CPU time "
        f"{statistics.median(cpu_ratios):.2f}x (IQR {_iqr(cpu_ratios)}); target <= 1.5x, < 2 us"
    )
    xp.close(timeout=1)
    first_exposure(inputs)


def _iqr(values: list[float]) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.2f}-{q3:.2f}"


def first_exposure(inputs: list[dict[str, str]]) -> None:
    """A unit's first call also queues its exposure (an event dict, a uuid, the queue lock)."""
    transport = FakeTransport(default=lambda r: Response(304 if r.path == "/v1/config" else 202))
    firsts = []
    for _ in range(REPEATS):
        xp = Client(
            config=CONFIG,
            transport=transport,
            init_timeout=0,
            flush_interval=3600,
            capacity=1_000_000,
        )
        start = time.perf_counter()
        for attrs in inputs:
            xp.get_variant("bench", attributes=attrs)
        firsts.append((time.perf_counter() - start) / len(inputs) * 1e6)
        xp.close(timeout=1)
    print(f"first call   : {statistics.median(firsts):.3f} us/call (queues the unit's exposure)")


def remote(calls: int) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XP_DATA_DIR": tmp, "XP_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xp.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--experiments",
                str(ROOT / "experiments"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            xp = Client(url, mode="remote", flush_interval=3600)
            attrs = {"country": "US", "app_version": "2.1.0"}
            latencies = []
            for i in range(calls):
                start = time.perf_counter()
                v = xp.get_variant("checkout-button", user_id=f"r{i}", attributes=attrs)
                latencies.append((time.perf_counter() - start) * 1e3)
                assert v.reason != "remote_error", v
            xp.close(timeout=1)
            latencies.sort()
            p50 = latencies[len(latencies) // 2]
            p99 = latencies[int(len(latencies) * 0.99)]
            print(
                f"remote       : p50 {p50:.2f} ms, p99 {p99:.2f} ms over {calls} calls "
                "(gunicorn, 2 workers, SQLite, exposures logged)"
            )
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--remote-calls", type=int, default=2000)
    args = parser.parse_args()
    local()
    if args.remote_calls:
        remote(args.remote_calls)


if __name__ == "__main__":
    main()
