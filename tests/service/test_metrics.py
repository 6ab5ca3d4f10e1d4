"""``GET /metrics``: Prometheus text that counts requests, events and exposures, and adds up
every gunicorn worker of a real ``xp serve``."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from tests.support.service_process import (
    running_service,
    start_service,
    stop_service,
    wait_until_up,
)
from xp.metrics import BUCKETS, Metrics

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
LINE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")
LABEL = re.compile(r'[a-z_]+="(?:[^"\\]|\\.)*"')


def parse(text: str) -> dict[str, float]:
    """``name{labels}`` (labels sorted by name) -> value, for every sample line; fails on any
    line that is not one."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ ", line), line
            continue
        match = LINE.match(line)
        assert match, line
        labels = ",".join(sorted(LABEL.findall(match[2] or "")))
        samples[match[1] + (f"{{{labels}}}" if labels else "")] = float(match[3])
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
        samples[f'xp_http_request_duration_seconds_bucket{{le="{b}",route="/v1/assign"}}']
        for b in (*map(repr, BUCKETS), "+Inf")
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 3
    assert samples['xp_http_request_duration_seconds_count{route="/v1/assign"}'] == 3
    assert samples["xp_experiments_loaded"] == 5
    assert samples["xp_store_up"] == 1 and samples["xp_definition_problems"] == 0


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.inc("xp_http_requests_total", route='/a"b\\c\nd', method="GET", status="200")
    text = metrics.render({})
    metrics.close()
    assert 'route="/a\\"b\\\\c\\nd"' in text


@pytest.mark.slow
def test_every_worker_is_added_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    # one file per process that observed a request: the two workers, not the master
    def pids() -> set[str]:
        return {f.stem for f in (data / "metrics").glob("*/histogram_*.db")}

    with running_service(EXPERIMENTS, data, workers=2) as url:
        sent = 0
        deadline = time.monotonic() + 30
        # A new connection each time: the workers share them out, though on a loaded machine
        # one may take a long run of them; go on until both have served.
        while sent < 200 or (len(pids()) < 2 and time.monotonic() < deadline):
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                assert response.status == 200
            sent += 1
        readyz = 'xp_http_requests_total{method="GET",route="/readyz",status="200"}'
        deadline = time.monotonic() + 15
        while True:  # every worker writes its totals within about a second
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
                samples = parse(response.read().decode())
            if samples.get(readyz) == sent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        served_by = pids()
    assert len(served_by) == 2, "both workers served requests"
    assert samples[readyz] == sent  # neither worker's share is missing, none counted twice
    assert samples['xp_http_request_duration_seconds_count{route="/readyz"}'] == sent


def test_invented_methods_share_one_series(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for i in range(5):
        client.open("/v1/config", method=f"X{i}Y")
    samples = parse(client.get("/metrics").get_data(as_text=True))
    invented = [k for k in samples if 'method="X' in k]
    assert invented == []
    assert samples['xp_http_requests_total{method="OTHER",route="(unmatched)",status="405"}'] == 5


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        return parse(response.read().decode())


def wait_for(url: str, sample: str, value: float, timeout: float = 15) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if samples.get(sample) == value or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


@pytest.mark.slow
def test_a_second_serve_cannot_wipe_the_first_ones_metrics(tmp_path: Path) -> None:
    """Two ``xp serve`` on one data folder: one fails on the first one's busy port, one runs
    on its own port; the first one's totals stay whole through both."""
    data = tmp_path / "data"
    data.mkdir()
    readyz = 'xp_http_requests_total{method="GET",route="/readyz",status="200"}'
    first, url = start_service(EXPERIMENTS, data, workers=2)
    try:
        wait_until_up(url)
        for _ in range(30):
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                assert response.status == 200
        assert wait_for(url, readyz, 30)[readyz] == 30

        port = int(url.rsplit(":", 1)[1])
        busy, _ = start_service(EXPERIMENTS, data, port=port, workers=1)
        assert busy.wait(timeout=60) == 1  # it claimed its metrics folder, then found the port
        log = (tmp_path / f"service-{port}.log").read_text()
        assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in log

        second, other = start_service(EXPERIMENTS, data, workers=1)
        try:
            wait_until_up(other)
            with urllib.request.urlopen(f"{other}/readyz", timeout=5) as response:
                assert response.status == 200
            assert wait_for(other, readyz, 1)[readyz] == 1  # its own totals, from zero
        finally:
            stop_service(second)

        for _ in range(5):
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                assert response.status == 200
        samples = wait_for(url, readyz, 35)
        assert samples[readyz] == 35  # nothing of the first instance was lost
        folders = [p for p in (data / "metrics").iterdir() if p.is_dir()]
        assert len(folders) >= 1
    finally:
        stop_service(first)


def test_a_new_instance_removes_only_folders_of_instances_gone(tmp_path: Path) -> None:
    """The lock decides: a held folder stays, a free one goes (done in a child process so the
    test's own environment keeps no PROMETHEUS_MULTIPROC_DIR)."""
    import fcntl

    parent = tmp_path / "metrics"
    live, dead, bare = parent / "live", parent / "dead", parent / "bare"
    for folder in (live, dead, bare):
        folder.mkdir(parents=True)
    (dead / ".lock").write_text("")
    (dead / "counter_1.db").write_bytes(b"x")
    holder = open(live / ".lock", "w")  # noqa: SIM115 - held for the test
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        code = (
            "import sys; from xp.metrics import claim_instance_folder; "
            f"print(claim_instance_folder({str(tmp_path)!r}))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
    finally:
        holder.close()
    remaining = {p.name for p in parent.iterdir()}
    assert "live" in remaining and "bare" in remaining and "dead" not in remaining
    assert Path(out).parent == parent and Path(out).name in remaining
