"""A real ``xp serve`` on a real Redis that is frozen (SIGSTOP), killed and restarted:
``/v1/assign`` keeps answering, ``/v1/events`` answers a JSON 503 within the socket timeout,
``/readyz`` and ``/metrics`` show the outage and the buffer, and every exposure the service
answered for lands exactly once when Redis returns; a graceful stop (SIGTERM) writes what
the workers still hold; a full buffer drops and counts instead of blocking."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.redis_process import RedisProcess, redis_process
from tests.support.service_process import (
    running_service,
    start_service,
    stop_service,
    wait_until_up,
)
from xp.definitions.loader import parse_definition
from xp.definitions.model import Definition
from xp.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SOCKET_TIMEOUT = 0.5
EXPERIMENT = {
    "key": "outage",
    "name": "Outage",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [{"name": "bought", "event": "purchase", "kind": "binomial", "role": "primary"}],
}


@pytest.fixture
def experiments(tmp_path: Path) -> Path:
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "outage.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return folder


@pytest.fixture
def definition() -> Definition:
    parsed, problems = parse_definition(EXPERIMENT, "outage.yaml")
    assert parsed is not None, problems
    return parsed


@pytest.fixture
def server(redis_url: str) -> Iterator[RedisProcess]:  # redis_url: skip without redis-server
    with redis_process(durable=True) as started:
        yield started


def env(server: RedisProcess, **more: str) -> dict[str, str]:
    return {
        "XP_STORE_URL": server.url,
        "XP_REDIS_SOCKET_TIMEOUT": str(SOCKET_TIMEOUT),
        "XP_REDIS_CONNECT_TIMEOUT": str(SOCKET_TIMEOUT),
        "XP_EXPOSURE_FLUSH_INTERVAL": "0.2",
        "XP_EXPOSURE_RETRY_MAX": "0.5",
        **more,
    }


def call(url: str, body: Any = None) -> tuple[int, Any, float]:
    """(status, JSON or text, seconds taken); HTTP errors are answers too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    took = time.monotonic() - started
    try:
        return status, json.loads(raw), took
    except ValueError:
        return status, raw.decode(), took


def assign(url: str, users: range) -> dict[str, str]:
    """Assign each user; every answer must be a 200. Returns user -> variant."""
    variants = {}
    for i in users:
        status, body, _ = call(f"{url}/v1/assign", {"user_id": f"u{i}"})
        assert status == 200, body
        variants[f"u{i}"] = body["assignments"]["outage"]["variant"]
    return variants


def samples(url: str) -> dict[str, float]:
    status, text, _ = call(f"{url}/metrics")
    assert status == 200
    found = {}
    for line in str(text).splitlines():
        match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if match:
            found[match[1]] = float(match[2])
    return found


def stored_units(server: RedisProcess, definition: Definition) -> dict[str, str]:
    store = open_store(server.url, "unused")
    try:
        return {row.unit_id: row.variant for row in store.iter_units(definition)}
    finally:
        store.close()


def buffering(url: str) -> bool:
    """Whether the worker answering ``/readyz`` holds exposures it failed to write."""
    status, ready, _ = call(f"{url}/readyz")
    exposures = ready["exposures"]
    return status == 503 and exposures["buffered"] > 0 and exposures["failing_since"] is not None


def wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_assignment_survives_a_frozen_then_killed_store_and_every_exposure_lands_once(
    experiments: Path, tmp_path: Path, server: RedisProcess, definition: Definition
) -> None:
    conversion = {
        "events": [{"type": "conversion", "event": "purchase", "user_id": "u1", "event_id": "p1"}]
    }
    with running_service(experiments, tmp_path / "data", env=env(server)) as url:
        expected = assign(url, range(0, 40))
        wait_for(lambda: len(stored_units(server, definition)) == 40)

        server.freeze()
        expected |= assign(url, range(40, 80))  # 200s while Redis is frozen
        status, body, took = call(f"{url}/v1/events", conversion)
        assert status == 503 and body["error"]["code"] == "unavailable"
        assert took < SOCKET_TIMEOUT * 2 + 1.5
        status, ready, took = call(f"{url}/readyz")
        assert status == 503 and ready["status"] == "unavailable"
        assert took < SOCKET_TIMEOUT * 2 + 1.5
        wait_for(lambda: buffering(url))  # the answering worker holds some of u40-u79
        metrics = samples(url)
        assert metrics["xp_store_up"] == 0

        server.kill()  # dies frozen: no shutdown, AOF (fsync always) keeps u0-u39
        expected |= assign(url, range(80, 120))
        status, body, took = call(f"{url}/v1/events", conversion)
        assert status == 503 and body["error"]["code"] == "unavailable" and took < 1.5

        server.start()
        wait_for(lambda: len(stored_units(server, definition)) == 120)
        wait_for(lambda: call(f"{url}/readyz")[0] == 200)
        assert call(f"{url}/v1/events", conversion)[0] == 200
        time.sleep(1.5)  # retries still in flight would show up now, and metrics are written
        assert stored_units(server, definition) == expected
        metrics = samples(url)
        assert metrics["xp_exposures_logged_total"] == 120  # accepted once each, both workers
        assert metrics["xp_exposure_write_failures_total"] > 0
        assert not any(k.startswith("xp_exposures_dropped_total") for k in metrics)
    data = open_store(server.url, "unused").experiment_stats(definition)
    assert sum(data.units.values()) == 120
    assert data.diagnostics.get("variant_mismatch", 0) == 0


def test_a_graceful_stop_writes_every_buffered_exposure(
    experiments: Path, tmp_path: Path, server: RedisProcess, definition: Definition
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # A flush interval far longer than the test: only the shutdown flush can write them.
    proc, url = start_service(
        experiments, data_dir, env=env(server, XP_EXPOSURE_FLUSH_INTERVAL="300")
    )
    try:
        wait_until_up(url)
        expected = assign(url, range(0, 150))
        time.sleep(0.5)
        assert stored_units(server, definition) == {}  # still buffered
    finally:
        stop_service(proc)  # SIGTERM: gunicorn stops its workers gracefully
    assert proc.returncode == 0
    assert stored_units(server, definition) == expected


def test_a_full_buffer_drops_and_counts_without_blocking(
    experiments: Path, tmp_path: Path, server: RedisProcess, definition: Definition
) -> None:
    settings = env(server, XP_EXPOSURE_BUFFER_SIZE="10")
    with running_service(experiments, tmp_path / "data", env=settings, workers=1) as url:
        server.freeze()
        try:
            started = time.monotonic()
            expected = assign(url, range(0, 30))
            assert time.monotonic() - started < 10  # 30 requests, none waited on Redis
            wait_for(lambda: buffering(url))
            status, ready, _ = call(f"{url}/readyz")
            assert status == 503
            assert (ready["exposures"]["buffered"], ready["exposures"]["dropped"]) == (10, 20)
        finally:
            server.thaw()
        wait_for(lambda: len(stored_units(server, definition)) == 10)
        assert stored_units(server, definition) == {f"u{i}": expected[f"u{i}"] for i in range(10)}
        wait_for(lambda: samples(url).get('xp_exposures_dropped_total{reason="buffer_full"}') == 20)
        assert samples(url)["xp_exposure_buffer_depth"] == 0
