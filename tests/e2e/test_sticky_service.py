"""``XP_STICKY=1`` across real ``xp serve`` restarts, on SQLite and on Redis.

One story per backend: units assigned at 50/50 before any data; the file changed to 90/10
and the service restarted: every unit keeps its variant (over HTTP and through the SDK in
remote mode, which logs exposures of the variants served); then a new phase re-buckets
everyone from scratch.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.service_process import running_service
from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant

pytestmark = pytest.mark.slow

UNITS = [f"u-{i}" for i in range(100)]


def definition(weights: tuple[float, float], phase: int = 1) -> dict[str, Any]:
    return {
        "key": "sticky",
        "name": "Sticky",
        "status": "running",
        "phase": phase,
        "variants": [
            {"key": "control", "weight": weights[0]},
            {"key": "treatment", "weight": weights[1]},
        ],
        "metrics": [{"name": "purchased", "event": "purchase", "kind": "binomial"}],
    }


def bucketed(weights: tuple[float, float], unit: str, phase: int = 1) -> str:
    experiment = Experiment.from_dict(definition(weights, phase))
    return assign_variant(experiment, {"user_id": unit}).variant


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sticky.sqlite3"
        return
    url = str(request.getfixturevalue("redis_url")).rsplit("/", 1)[0] + "/10"
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()
    yield url


def assign(url: str, unit: str) -> dict[str, Any]:
    body = json.dumps({"user_id": unit, "experiments": ["sticky"], "log_exposure": False})
    request = urllib.request.Request(
        f"{url}/v1/assign", body.encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)["assignments"]["sticky"]
        return answer


def test_restart_with_new_weights_moves_no_unit(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "experiments"
    folder.mkdir()
    path = folder / "sticky.yaml"
    env = {"XP_STORE_URL": store_url, "XP_STICKY": "1"}
    path.write_text(json.dumps(definition((0.5, 0.5))))
    with running_service(folder, tmp_path / "data", env=env) as url:
        before = {u: assign(url, u)["variant"] for u in UNITS}
    assert before == {u: bucketed((0.5, 0.5), u) for u in UNITS}
    moved = {u for u in UNITS if bucketed((0.9, 0.1), u) != before[u]}
    assert len(moved) > 25  # ~40% would move without the store

    path.write_text(json.dumps(definition((0.9, 0.1))))  # no data yet: the guard allows it
    with running_service(folder, tmp_path / "data", env=env) as url:
        answers = {u: assign(url, u) for u in UNITS}
        assert {u: a["variant"] for u, a in answers.items()} == before
        assert {u for u, a in answers.items() if a["reason"] == "sticky"} == moved
        with Client(url, mode="remote", request_timeout=5) as sdk:
            assert {u: sdk.get_variant("sticky", u).key for u in UNITS} == before
        new = [f"new-{i}" for i in range(100)]
        assert {u: assign(url, u)["variant"] for u in new} == {
            u: bucketed((0.9, 0.1), u) for u in new
        }

    path.write_text(json.dumps(definition((0.9, 0.1), phase=2)))
    with running_service(folder, tmp_path / "data", env=env) as url:
        phase2 = {u: assign(url, u)["variant"] for u in UNITS}
        # Stopping flushed the SDK's exposures: phase 1's data hold the variants served.
        csv = f"{url}/v1/experiments/sticky/units.csv?phase=1"
        with urllib.request.urlopen(csv, timeout=10) as response:
            rows = [line.split(",") for line in response.read().decode().splitlines()]
        exposed = {row[0]: row[1] for row in rows[1:] if row and not row[0].startswith("#")}
        assert exposed == before
    assert phase2 == {u: bucketed((0.9, 0.1), u, phase=2) for u in UNITS}
