"""Requests are counted in plain per-thread integers and published to prometheus-client at
scrape time: nothing lost between threads, nothing published twice, nothing inherited across
a fork."""

from __future__ import annotations

import os
import threading

from tests.service.test_metrics import parse
from xp.metrics import BUCKETS, Metrics

# one duration in each latency bucket, the last beyond every bound (+Inf)
DURATIONS = [b * 0.9 for b in BUCKETS] + [BUCKETS[-1] * 2]


def test_concurrent_threads_are_counted_exactly_and_published_once() -> None:
    metrics = Metrics()
    start = threading.Barrier(4)

    def serve() -> None:
        start.wait()
        for _ in range(500):
            for seconds in DURATIONS:
                metrics.count_request("/v1/assign", "POST", 200, seconds)

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    metrics.count_request("/v1/assign", "POST", 422, 0.0)
    first = parse(metrics.render({}))
    second = parse(metrics.render({}))  # a second scrape adds nothing
    metrics.close()
    total = 4 * 500 * len(DURATIONS)
    ok = 'xp_http_requests_total{method="POST",route="/v1/assign",status="200"}'
    assert first[ok] == second[ok] == total
    assert first[ok.replace("200", "422")] == 1
    cumulative = [
        first[f'xp_http_request_duration_seconds_bucket{{le="{b}",route="/v1/assign"}}']
        for b in (*map(repr, BUCKETS), "+Inf")
    ]
    # 2,000 per bucket, cumulative; the 422 at 0 s is in the first
    assert cumulative == [2000 * (i + 1) + 1 for i in range(len(BUCKETS) + 1)]
    assert first == second
    expected_sum = 4 * 500 * sum(DURATIONS)
    assert (
        abs(first['xp_http_request_duration_seconds_sum{route="/v1/assign"}'] - expected_sum) < 1e-6
    )


def test_a_forked_child_starts_from_zero() -> None:
    metrics = Metrics()
    metrics.count_request("/healthz", "GET", 200, 0.001)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's request is not its own
        try:
            metrics.count_request("/healthz", "GET", 200, 0.001)
            samples = parse(metrics.render({}))
            key = 'xp_http_requests_total{method="GET",route="/healthz",status="200"}'
            os.write(write, str(samples.get(key)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    parent = parse(metrics.render({}))
    metrics.close()
    assert child == "1.0"
    assert parent['xp_http_requests_total{method="GET",route="/healthz",status="200"}'] == 1
