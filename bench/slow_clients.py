"""Slow clients: a normal client's latency with 50 connections trickling their requests,
behind nginx (deploy/nginx/proxy.conf) and straight at gunicorn, against the same client with
no slow connections behind nginx (the baseline, measured in the same run).

Rounds are interleaved (baseline, loaded behind nginx, loaded direct) and each figure is the
median over the rounds of that round's worst request. Needs nginx (Debian package ``nginx``).

    .venv/bin/python -m bench.slow_clients [--rounds 3] [--slow 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.support.nginx import nginx_binary, running_nginx
from tests.support.service_process import running_service
from tests.support.slow_clients import normal_latencies, slow_clients

ROOT = Path(__file__).resolve().parent.parent
DIRECT_TIMEOUT = 3.0  # a stalled request is counted as this long


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow", type=int, default=50)
    args = parser.parse_args()
    if nginx_binary() is None:
        raise SystemExit("nginx is not installed (Debian package nginx)")
    baseline, proxied, direct = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        with running_service(ROOT / "experiments", data) as url:
            upstream = int(url.rsplit(":", 1)[1])
            with running_nginx(upstream) as proxy:
                normal_latencies(proxy, timeout=5)  # warm up both
                for _ in range(args.rounds):
                    baseline.append(max(normal_latencies(proxy, timeout=5)))
                    with slow_clients(proxy, args.slow):
                        proxied.append(max(normal_latencies(proxy, timeout=5)))
                    with slow_clients(url, args.slow):
                        took = normal_latencies(url, DIRECT_TIMEOUT, stop_over=DIRECT_TIMEOUT / 2)
                        direct.append(max(took))
    base = statistics.median(baseline)
    loaded = statistics.median(proxied)
    stalled = statistics.median(direct)
    note = f" (>= {DIRECT_TIMEOUT:g} s: no answer)" if stalled >= DIRECT_TIMEOUT else ""
    print(f"worst normal request, median of {args.rounds} rounds, {args.slow} slow clients")
    print(f"  behind nginx, no slow clients (baseline): {base * 1000:8.1f} ms")
    print(f"  behind nginx, slow clients:   {loaded * 1000:8.1f} ms  x{loaded / base:.2f}")
    print(f"  gunicorn direct, slow clients: {stalled * 1000:8.1f} ms  x{stalled / base:.0f}{note}")


if __name__ == "__main__":
    main()
