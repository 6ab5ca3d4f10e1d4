"""What the security and operations hooks cost a request, against baselines in the same run.

1. The metrics of one request (``Metrics.count_request``: the thread's plain counters, a
   count and a latency bucket) next to a bare counter increment (a dict under a lock, what a
   hand-made counter does), in microseconds per request; and, for scale, what the same two
   updates cost through ``prometheus-client`` (single-process mode), as they were made before.
2. A whole ``GET /v1/config`` through the Flask test client with the API rate limit on (in
   memory) next to the same app with it off: the limiter's share of a request.
3. The same with xp's per-request hooks (request id and metrics) removed: their share.

Medians of interleaved rounds.

    .venv/bin/python -m bench.request_hooks
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from xp.app import create_app
from xp.metrics import Metrics

ROUNDS = 7
CALLS = 20_000
REQUESTS = 2_000
EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
SDK = {"Authorization": "Bearer bench-sdk"}


def bare_counter() -> Callable[[], None]:
    lock = threading.Lock()
    counts: dict[tuple[str, ...], float] = {}
    key = ("GET", "/v1/config", "200")

    def inc() -> None:
        with lock:
            counts[key] = counts.get(key, 0.0) + 1.0

    return inc


def xp_request(metrics: Metrics) -> Callable[[], None]:
    def record() -> None:
        metrics.count_request("/v1/config", "GET", 200, 0.0004)

    return record


def xp_counter(metrics: Metrics) -> Callable[[], None]:
    def record() -> None:
        metrics.inc("xp_http_requests_total", route="/v1/config", method="GET", status="200")

    return record


def xp_histogram(metrics: Metrics) -> Callable[[], None]:
    def record() -> None:
        metrics.observe("xp_http_request_duration_seconds", 0.0004, route="/v1/config")

    return record


def per_call_us(fn: Callable[[], None], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def app(data: Path, **config: object) -> Flask:
    return create_app(
        {
            "experiments_dir": str(EXPERIMENTS),
            "data_dir": str(data),
            "api_keys": {"bench-sdk": "sdk"},
            "reload_interval": 3600.0,
            "log_level": "WARNING",
            "rate_limit_api": "1000000 per minute",
            **config,
        }
    )


def without_request_hooks(flask_app: Flask) -> Flask:
    for hooks in (flask_app.before_request_funcs, flask_app.after_request_funcs):
        hooks[None] = [f for f in hooks.get(None, []) if f.__module__ != "xp.app"]
    return flask_app


def request_us(flask_app: Flask) -> float:
    client = flask_app.test_client()

    def call() -> None:
        client.get("/v1/config", headers=SDK)

    return per_call_us(call, REQUESTS)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        limited = app(Path(folder) / "a")
        unlimited = app(Path(folder) / "b", rate_limit_api="off")
        no_ids = without_request_hooks(app(Path(folder) / "c", rate_limit_api="off"))
        metrics = Metrics()
        bare, counter, histogram = bare_counter(), xp_counter(metrics), xp_histogram(metrics)
        request = xp_request(metrics)
        names = ("bare", "request", "counter", "histogram", "on", "off", "ids")
        figures: dict[str, list[float]] = {k: [] for k in names}
        for _ in range(ROUNDS):
            figures["bare"].append(per_call_us(bare, CALLS))
            figures["request"].append(per_call_us(request, CALLS))
            figures["counter"].append(per_call_us(counter, CALLS))
            figures["histogram"].append(per_call_us(histogram, CALLS))
            figures["on"].append(request_us(limited))
            figures["off"].append(request_us(unlimited))
            figures["ids"].append(request_us(no_ids))
        for flask_app in (limited, unlimited, no_ids):
            flask_app.extensions["xp"].close()
    m = {k: statistics.median(v) for k, v in figures.items()}
    official = m["counter"] + m["histogram"]
    print(f"bare counter (dict+lock) {m['bare']:8.2f} us")
    print(f"metrics of one request   {m['request']:8.2f} us   {m['request'] / m['bare']:.1f}x bare")
    print(f"  prometheus-client inc + observe, as before: {official:.2f} us")
    print(f"GET /v1/config, limit on {m['on']:8.1f} us   limit off {m['off']:.1f} us")
    print(f"  limiter's share        {(m['on'] - m['off']) / m['off']:8.1%}")
    print(f"  xp hooks' share        {(m['off'] - m['ids']) / m['ids']:8.1%}")


if __name__ == "__main__":
    main()
