"""``GET /metrics``: Prometheus text that counts requests, events and exposures, and adds up
every gunicorn worker of a real ``xp serve``."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from tests.support.service_process import running_service
from xp.metrics import BUCKETS, Metrics

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
LINE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def parse(text: str) -> dict[str, float]:
    """``name{labels}`` -> value, for every sample line; fails on any line that is not one."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ ", line), line
            continue
        match = LINE.match(line)
        assert match, line
        samples[match[1] + (match[2] or "")] = float(match[3])
    return samples


def test_requests_events_and_exposures_are_counted(make_app: Callable[..., Flask]) -> None:
    app = make_app(api_keys={"a": "admin", "s": "sdk"})
    client = app.test_client()
    sdk, admin = {"Authorization": "Bearer s"}, {"Authorization": "Bearer a"}
    for i in range(3):
        body = {"user_id": f"u{i}", "attributes": {"country": "US", "app_version": "2.1.0"}}
        assert client.post("/v1/assign", json=body, headers=sdk).status_code == 200
    assert app.extensions["xp"].exposures.flush(timeout=10)  # written off the request path
    events = [
        {"type": "conversion", "event": "purchase", "user_id": "u0", "event_id": "e1"},
        {"type": "conversion", "event": "purchase", "user_id": "u0", "event_id": "e1"},
        {"type": "conversion", "event": "purchase", "user_id": "u0"},
    ]
    assert client.post("/v1/events", json={"events": events}, headers=sdk).status_code == 200
    client.get("/v1/experiments/nope/results", headers=admin)
    client.get("/no/such/page")
    assert client.get("/metrics", headers=sdk).status_code == 403

    response = client.get("/metrics", headers=admin)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = parse(response.get_data(as_text=True))
    assign = 'route="/v1/assign",status="200"'
    assert samples[f'xp_http_requests_total{{method="POST",{assign}}}'] == 3
    results = 'route="/v1/experiments/<key>/results",status="404"'
    assert samples[f'xp_http_requests_total{{method="GET",{results}}}'] == 1
    assert samples['xp_http_requests_total{method="GET",route="(unmatched)",status="404"}'] == 1
    assert samples['xp_events_total{status="accepted"}'] == 1
    assert samples['xp_events_total{status="duplicate"}'] == 1
    assert samples['xp_events_total{status="rejected"}'] == 1
    # u0, u1 and u2 are each exposed to the running experiments they are assigned in
    assert samples["xp_exposures_logged_total"] >= 3
    buckets = [
        samples[f'xp_http_request_duration_seconds_bucket{{route="/v1/assign",le="{b}"}}']
        for b in (*map(repr, BUCKETS), "+Inf")
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 3
    assert samples['xp_http_request_duration_seconds_count{route="/v1/assign"}'] == 3
    assert samples["xp_experiments_loaded"] == 5
    assert samples["xp_store_up"] == 1 and samples["xp_definition_problems"] == 0


def test_label_values_are_escaped(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path)
    metrics.inc("xp_http_requests_total", route='/a"b\\c\nd', method="GET", status="200")
    text = metrics.render({})
    metrics.close()
    assert 'route="/a\\"b\\\\c\\nd"' in text


@pytest.mark.slow
def test_every_worker_is_added_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with running_service(EXPERIMENTS, data, workers=2) as url:
        for _ in range(200):  # a new connection each time: the workers share them out
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                assert response.status == 200
        readyz = 'xp_http_requests_total{method="GET",route="/readyz",status="200"}'
        deadline = time.monotonic() + 15
        while True:  # every worker writes its totals within about a second
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
                samples = parse(response.read().decode())
            if samples.get(readyz) == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        files = list((data / "metrics").glob("*.json"))
    assert len(files) == 2, "both workers served requests"
    assert samples[readyz] == 200  # neither worker's share is missing, none counted twice
    assert samples['xp_http_request_duration_seconds_count{route="/readyz"}'] == 200


def test_invented_methods_share_one_series(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for i in range(5):
        client.open("/v1/config", method=f"X{i}Y")
    samples = parse(client.get("/metrics").get_data(as_text=True))
    invented = [k for k in samples if 'method="X' in k]
    assert invented == []
    assert samples['xp_http_requests_total{method="OTHER",route="(unmatched)",status="405"}'] == 5
