"""One unit id in the service: the vectors' canonical table through ``POST /v1/events`` and
``POST /v1/assign``; an exposure as ``42.0`` meets a conversion as ``42``, in the results, the
units export and erasure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "assignment_vectors.json").read_text()
)
CASES = VECTORS["unit_ids"]

EXPERIMENT = {
    "key": "ids",
    "name": "ids",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [{"name": "bought", "kind": "binomial", "event": "purchase"}],
}


@pytest.fixture
def client(tmp_path: Path, make_app: Callable[..., Flask]) -> FlaskClient:
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "ids.yaml").write_text(json.dumps(EXPERIMENT))
    return make_app(experiments_dir=str(folder)).test_client()


def test_events_take_each_value_as_its_canonical_id(client: FlaskClient) -> None:
    events = [
        {"type": "conversion", "event": "purchase", "user_id": c["value"], "event_id": f"e{i}"}
        for i, c in enumerate(CASES)
    ]
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 200, response.json
    for i, (case, result) in enumerate(zip(CASES, response.json["results"], strict=True)):
        if case["canonical"] is None:
            assert result["status"] == "rejected", case
            assert result["field"] == f"events.{i}.user_id"
        else:
            assert result["status"] == "accepted", (case, result)


def test_assign_takes_each_value_as_its_canonical_id(client: FlaskClient) -> None:
    for case in CASES:
        body = {"user_id": case["value"], "log_exposure": False}
        response = client.post("/v1/assign", json=body)
        if case["value"] is None or case["value"] == "":  # no unit: as if it were missing
            assert response.status_code == 200, case
            missing = client.post("/v1/assign", json={"log_exposure": False})
            assert response.json == missing.json, case
            assert response.json["assignments"]["ids"]["reason"] == "missing_unit"
            continue
        if case["canonical"] is None:
            assert response.status_code == 422, case
            assert "user_id" in json.dumps(response.json)
            continue
        assert response.status_code == 200, case
        as_text = client.post(
            "/v1/assign", json={"user_id": case["canonical"], "log_exposure": False}
        )
        assert response.json == as_text.json, case


def test_an_exposure_as_42_0_meets_a_conversion_as_42(client: FlaskClient) -> None:
    variant = client.post("/v1/assign", json={"user_id": 42.0, "log_exposure": True}).json[
        "assignments"
    ]["ids"]["variant"]
    assert client.application.extensions["xp"].exposures.flush(timeout=10)  # off the request path
    conversion = {"type": "conversion", "event": "purchase", "user_id": 42, "event_id": "c1"}
    answer = client.post("/v1/events", json={"events": [conversion]}).json
    assert answer["accepted"] == 1
    results = client.get("/v1/experiments/ids/results").json
    bought = next(m for m in results["metrics"] if m["name"] == "bought")
    rows = {row["variant"]: row for row in bought["variants"]}
    assert rows[variant]["units"] == 1 and rows[variant]["sum"] == 1.0
    assert results["diagnostics"].get("not_exposed", 0) == 0
    exported = list(csv.DictReader(io.StringIO(client.get("/v1/experiments/ids/units.csv").text)))
    units = [(r["unit_id"], r["variant"], r["bought"]) for r in exported]
    assert units == [("42", variant, "1"), ("# end: 1 rows", None, None)]
    # A second exposure as the integer is the same unit: a duplicate, not a new one.
    again = {"type": "exposure", "experiment": "ids", "user_id": 42, "variant": variant}
    assert client.post("/v1/events", json={"events": [again]}).json["duplicates"] == 1
    assert client.delete("/v1/units/42").json == {"unit_id": "42", "experiments": 1}
    assert sum(client.get("/v1/experiments/ids/results").json["units"].values()) == 0


@pytest.mark.parametrize("unit", ["x" * 257])
def test_erasure_refuses_what_is_not_a_unit_id(client: FlaskClient, unit: str) -> None:
    response = client.delete(f"/v1/units?unit_id={unit}")
    assert response.status_code == 400
    assert "unit_id" in json.dumps(response.json) and "256" in json.dumps(response.json)


def test_the_openapi_document_says_numbers_are_taken(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    described = json.dumps(schemas["AssignRequest"]["properties"]["user_id"])
    assert "number" in described and "canonical" in described


def test_the_service_logs_a_numeric_unit_attribute_as_it_hashed_it(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "dev.yaml").write_text(json.dumps({**EXPERIMENT, "key": "dev", "unit": "device"}))
    client = make_app(experiments_dir=str(folder)).test_client()
    body = {"user_id": "u-1", "attributes": {"device": 7.0}, "log_exposure": True}
    assert client.post("/v1/assign", json=body).json["assignments"]["dev"]["in_experiment"]
    assert client.application.extensions["xp"].exposures.flush(timeout=10)
    exported = client.get("/v1/experiments/dev/units.csv").text
    rows = csv.DictReader(io.StringIO(exported))
    assert [r["unit_id"] for r in rows if not r["unit_id"].startswith("#")] == ["7"]


def test_the_sdk_and_service_read_the_same_table() -> None:
    from xp.events.parse import EventError, load_event
    from xp_client.unit_ids import canonical_unit_id

    for case in CASES:
        raw = {"type": "conversion", "event": "e", "user_id": case["value"], "event_id": "x"}
        try:
            parsed: Any = load_event(raw, 2_000_000_000.0).user_id
        except EventError as exc:
            assert exc.field == "user_id"
            parsed = None
        assert parsed == canonical_unit_id(case["value"]) == case["canonical"], case
