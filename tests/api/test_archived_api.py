"""Archived experiments and earlier phases through the API and the pages (Flask test client,
real SQLite store)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from xp.definitions.fingerprint import canonical_json, fingerprint
from xp.definitions.loader import parse_definition

EXPERIMENT: dict[str, Any] = {
    "key": "old-test",
    "name": "An old test",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [{"name": "bought", "event": "purchase", "kind": "binomial", "role": "primary"}],
}
SKEWED = [{"key": "control", "weight": 0.3}, {"key": "treatment", "weight": 0.7}]


def write(folder: Path, **changes: Any) -> Path:
    path = folder / "old-test.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, **changes}))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    return path


def expose(client: FlaskClient, n: int, variant: str = "control") -> None:
    events = [
        {"type": "exposure", "experiment": "old-test", "user_id": f"u{i}", "variant": variant}
        for i in range(n)
    ]
    assert client.post("/v1/events", json={"events": events}).json["accepted"] == n


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "experiments"
    path.mkdir()
    write(path)
    return path


@pytest.fixture
def client(make_app: Callable[..., Flask], folder: Path) -> FlaskClient:
    return make_app(experiments_dir=str(folder)).test_client()


def test_a_deleted_experiment_is_listed_archived_and_readable(
    client: FlaskClient, folder: Path
) -> None:
    expose(client, 4)
    (folder / "old-test.yaml").unlink()
    listing = client.get("/v1/experiments").json["experiments"]
    assert [(e["key"], e["status"], e["name"]) for e in listing] == [
        ("old-test", "archived", "An old test")
    ]
    detail = client.get("/v1/experiments/old-test").json
    assert detail["status"] == "archived" and detail["definition"]["key"] == "old-test"
    results = client.get("/v1/experiments/old-test/results").json
    assert results["units"] == {"control": 4, "treatment": 0}
    assert results["experiment"]["status"] == "archived"
    for fmt in ("csv", "md", "html"):
        assert client.get(f"/v1/experiments/old-test/results?format={fmt}").status_code == 200
    units_csv = client.get("/v1/experiments/old-test/units.csv").text
    assert units_csv.count("\n") == 6  # header, four units and the "# end" line
    page = client.get("/experiments/old-test").text
    assert "archived" in page
    assert 'data-key="old-test"' in client.get("/").text
    # Nothing assigns it any more, and new exposures are refused.
    assert client.get("/v1/config").json["experiments"] == []
    late = {"type": "exposure", "experiment": "old-test", "user_id": "z", "variant": "control"}
    assert client.post("/v1/events", json={"events": [late]}).json["rejected"] == 1


def test_a_deleted_experiment_without_data_is_gone(client: FlaskClient, folder: Path) -> None:
    (folder / "old-test.yaml").unlink()
    assert client.get("/v1/experiments").json["experiments"] == []
    assert client.get("/v1/experiments/old-test/results").status_code == 404


def test_earlier_phases_stay_readable_and_new_ones_start_empty(
    client: FlaskClient, folder: Path
) -> None:
    expose(client, 3)
    write(folder, phase=2)
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/v1/experiments/old-test/results").json["units"]["control"] == 0
    expose(client, 2, "treatment")
    current = client.get("/v1/experiments/old-test/results?phase=2").json
    assert current["units"] == {"control": 0, "treatment": 2}
    assert current["experiment"]["status"] == "running"
    first = client.get("/v1/experiments/old-test/results?phase=1").json
    assert first["units"] == {"control": 3, "treatment": 0}
    assert first["experiment"]["status"] == "archived"
    assert client.get("/v1/experiments/old-test").json["phases"] == [1, 2]
    page = client.get("/experiments/old-test?phase=1")
    assert page.status_code == 200 and "phase=1" in page.text  # links keep the phase
    assert "u0" in client.get("/v1/experiments/old-test/units.csv?phase=1").text
    index = client.get("/").text
    assert "phase 2; earlier: " in index and "/experiments/old-test?phase=1" in index


@pytest.mark.parametrize("phase", ["0", "-1", "x", "1.5", "²", "99999", ""])
def test_a_bad_phase_is_422_naming_it(client: FlaskClient, phase: str) -> None:
    for path in ("/v1/experiments/old-test/results", "/v1/experiments/old-test"):
        response = client.get(f"{path}?phase={phase}")
        assert response.status_code == 422
        assert "phase" in response.json["error"]["details"]


def test_a_phase_without_data_is_404_listing_the_phases(client: FlaskClient) -> None:
    response = client.get("/v1/experiments/old-test/results?phase=4")
    assert response.status_code == 404
    assert "phases: [1]" in response.json["error"]["message"]


def test_a_first_exposure_recorded_by_another_process_refuses_this_ones_definition(
    make_app: Callable[..., Flask], folder: Path
) -> None:
    app = make_app(experiments_dir=str(folder))
    client = app.test_client()
    # Another process, with another file, recorded the first exposure after this one loaded.
    other = parse_definition({**EXPERIMENT, "variants": SKEWED}, "elsewhere")[0]
    assert other is not None
    store = app.extensions["xp"].store
    store.claim_fingerprint("old-test", fingerprint(other.experiment), canonical_json(other.config))
    expose(client, 1)  # accepted, but the claim finds the other fingerprint: reload
    health = client.get("/healthz").json
    assert health["status"] == "degraded"
    assert health["problems"][0]["path"] == "variants.0.weight"
    served = client.get("/v1/experiments/old-test").json
    assert [v["weight"] for v in served["variants"]] == [0.3, 0.7]  # as the store recorded it
