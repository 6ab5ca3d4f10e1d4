"""``/v1/config`` with ETag and 304, ``/v1/experiments``, and hot reload seen through the API."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant


@pytest.fixture
def live_dir(tmp_path: Path, experiments_dir: Path) -> Path:
    target = tmp_path / "experiments"
    shutil.copytree(experiments_dir, target)
    return target


def test_config_serves_live_definitions_with_etag(client: FlaskClient) -> None:
    response = client.get("/v1/config")
    assert response.status_code == 200
    etag = response.headers["ETag"]
    keys = [e["key"] for e in response.json["experiments"]]
    assert keys == sorted(keys) and "checkout-button" in keys
    assert response.json["version"] == etag.strip('"')
    again = client.get("/v1/config", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/v1/config", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_config_evaluates_like_the_endpoint(client: FlaskClient) -> None:
    config = client.get("/v1/config").json
    experiments = [Experiment.from_dict(e) for e in config["experiments"]]
    sdk = Client.offline(config)  # the config's holdouts (holdouts/) apply, as they do served
    for i in range(200):
        attrs = {"country": "US", "app_version": "2.1.0", "user_id": f"u{i}"}
        served = client.post(
            "/v1/assign", json={"user_id": f"u{i}", "attributes": attrs, "log_exposure": False}
        ).json["assignments"]
        for exp in experiments:
            assert served[exp.key] == sdk.get_variant(exp.key, attributes=attrs).to_dict()
            if served[exp.key]["reason"] != "holdout":
                assert served[exp.key] == assign_variant(exp, attrs).to_dict()


def test_experiments_list_and_detail(client: FlaskClient) -> None:
    listed = client.get("/v1/experiments").json["experiments"]
    assert {e["key"] for e in listed} >= {"checkout-button", "search-ranking"}
    detail = client.get("/v1/experiments/search-ranking").json
    assert detail["layer"] == {"name": "search", "range": [0, 5000]}
    assert [m["kind"] for m in detail["metrics"]] == ["ratio", "count", "binomial"]
    assert detail["definition"]["planned_sample"] == 20000


def touch(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_reload_picks_up_a_good_edit(make_app: Callable[..., Flask], live_dir: Path) -> None:
    client = make_app(experiments_dir=str(live_dir)).test_client()
    before = client.get("/v1/config").headers["ETag"]
    path = live_dir / "checkout-button.yaml"
    path.write_text(path.read_text().replace("coverage: 1.0", "coverage: 0.5"))
    touch(path)
    response = client.get("/v1/config")
    assert response.headers["ETag"] != before
    exp = next(e for e in response.json["experiments"] if e["key"] == "checkout-button")
    assert exp["coverage"] == 0.5
    assert client.get("/healthz").json["status"] == "ok"


def test_broken_edit_keeps_the_last_good_set(
    make_app: Callable[..., Flask], live_dir: Path
) -> None:
    client = make_app(experiments_dir=str(live_dir)).test_client()
    before = client.get("/v1/config")
    path = live_dir / "checkout-button.yaml"
    path.write_text(
        path.read_text().replace(
            "weight: 0.5, payload: {color: green}", "weight: 0.7, payload: {color: green}"
        )
    )
    touch(path)
    after = client.get("/v1/config")
    assert after.headers["ETag"] == before.headers["ETag"]
    health = client.get("/healthz").json
    assert health["status"] == "degraded"
    assert health["problems"][0]["file"].endswith("checkout-button.yaml")
    assert "sum to 1" in health["problems"][0]["message"]


def test_rebucketing_a_running_experiment_with_data_is_refused(
    make_app: Callable[..., Flask], live_dir: Path
) -> None:
    client = make_app(experiments_dir=str(live_dir)).test_client()
    path = live_dir / "checkout-button.yaml"
    exposure = {"type": "exposure", "experiment": "checkout-button", "variant": "green"}
    answer = client.post("/v1/events", json={"events": [{**exposure, "user_id": "u-1"}]}).json
    assert answer["accepted"] == 1  # the first exposure records the fingerprint
    path.write_text(path.read_text().replace("salt: checkout-button", "salt: new-salt"))
    touch(path)
    health = client.get("/healthz").json
    assert health["status"] == "degraded"
    assert health["problems"][0]["path"] == "salt"
    assert "would move its units" in health["problems"][0]["message"]
    served = client.get("/v1/experiments/checkout-button").json["definition"]
    assert served["salt"] == "checkout-button"  # the last good definition stays live
    path.write_text(path.read_text().replace("salt: new-salt", "phase: 2"))
    touch(path)
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/v1/experiments/checkout-button").json["phases"] == [1, 2]
