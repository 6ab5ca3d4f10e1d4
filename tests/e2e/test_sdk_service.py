"""End to end: the SDK against a real ``xp serve`` process on the embedded store."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.redis_server import free_port
from tests.support.service_process import start_service, stop_service, wait_until_up
from xp_client import Client

pytestmark = pytest.mark.slow

EXPERIMENT = {
    "key": "e2e",
    "name": "End to end",
    "status": "running",
    "variants": [
        {"key": "control", "weight": 0.5, "payload": {"n": 0}},
        {"key": "treatment", "weight": 0.5, "payload": {"n": 1}},
    ],
    "metrics": [
        {"name": "purchased", "event": "purchase", "kind": "binomial", "role": "primary"},
        {"name": "revenue", "event": "purchase", "kind": "sum", "role": "secondary"},
    ],
}


@pytest.fixture
def experiments(tmp_path: Path) -> Path:
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "e2e.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return folder


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def metric(results: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    found = next(m for m in results["metrics"] if m["name"] == name)
    return {v["variant"]: v for v in found["variants"]}


def test_5000_units_through_the_sdk(experiments: Path, tmp_path: Path) -> None:
    proc, url = start_service(experiments, tmp_path / "data")
    try:
        wait_until_up(url)
        chosen: dict[str, str] = {}
        revenue: Counter[str] = Counter()
        with Client(url, flush_interval=0.5) as xp:
            assert xp.ready
            for i in range(5_000):
                unit = f"unit-{i}"
                v = xp.get_variant("e2e", user_id=unit)
                assert v.in_experiment and v.reason == "assigned"
                chosen[unit] = v.key
                xp.track("purchase", user_id=unit, value=i % 7)
                revenue[v.key] += i % 7
            assert xp.flush(timeout=30)
            stats = xp.stats()
        assert stats["dropped_queue_full"] == 0 and stats["sent"] == 10_000

        for unit, variant in list(chosen.items())[::5]:
            served = post_json(f"{url}/v1/assign", {"user_id": unit, "log_exposure": False})
            assert served["assignments"]["e2e"]["variant"] == variant

        results = get_json(f"{url}/v1/experiments/e2e/results")
        per_variant = Counter(chosen.values())
        assert results["units"] == dict(per_variant)
        assert sum(results["units"].values()) == 5_000
        purchased, money = metric(results, "purchased"), metric(results, "revenue")
        for variant, units in per_variant.items():
            assert purchased[variant]["units"] == units
            assert purchased[variant]["sum"] == units  # every unit bought once
            assert money[variant]["sum"] == pytest.approx(revenue[variant], abs=1e-9)
    finally:
        stop_service(proc)


def test_service_down_at_start_then_up(experiments: Path, tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    # A first run exposes 200 units, then the service goes away.
    proc, url = start_service(experiments, data, port=port)
    try:
        wait_until_up(url)
        for i in range(200):
            post_json(f"{url}/v1/assign", {"user_id": f"early-{i}"})
    finally:
        stop_service(proc)

    xp = Client(url, init_timeout=0.2, poll_interval=0.3, flush_interval=0.2, backoff_max=0.5)
    try:
        assert not xp.ready
        v = xp.get_variant("e2e", user_id="early-1", default="control")
        assert (v.key, v.in_experiment, v.reason) == ("control", False, "not_ready")
        for i in range(200):
            xp.track("purchase", user_id=f"early-{i}", value=2.5)
        time.sleep(1.0)  # several failed deliveries and retries while the service is down
        proc, url = start_service(experiments, data, port=port)
        try:
            wait_until_up(url)
            deadline = time.monotonic() + 15
            while not xp.ready and time.monotonic() < deadline:
                time.sleep(0.1)
            assert xp.ready
            assert xp.get_variant("e2e", user_id="early-1").reason == "assigned"
            assert xp.flush(timeout=60)
            assert xp.stats()["dropped_after_retries"] == 0
            results = get_json(f"{url}/v1/experiments/e2e/results")
            purchased, money = metric(results, "purchased"), metric(results, "revenue")
            assert sum(v["sum"] for v in purchased.values()) == 200
            assert sum(v["sum"] for v in money.values()) == pytest.approx(500.0)
        finally:
            stop_service(proc)
    finally:
        xp.close(timeout=2)
