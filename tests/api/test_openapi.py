"""``GET /openapi.json`` describes every API route, and its request schemas accept what the
service accepts and refuse what it refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from xp.api.openapi import document

PAGES = {"static", "pages.index", "pages.experiment", "pages.login", "pages.logout"}


def test_every_route_is_described(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PAGES:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in described, (path, method)
    assert len(described) == sum(
        len(r.methods - {"HEAD", "OPTIONS"})
        for r in app.url_map.iter_rules()
        if r.endpoint not in PAGES
    )


@pytest.mark.parametrize("name", ["AssignRequest", "AnalyzeRequest", "EventBatch", "Error"])
def test_component_schemas_are_valid_json_schema(name: str) -> None:
    Draft202012Validator.check_schema(document()["components"]["schemas"][name])


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(document()["components"]["schemas"][name])


ASSIGN_OK = {"user_id": "u1", "attributes": {"country": "US"}, "log_exposure": False}
ANALYZE_OK = {
    "metric": {"kind": "mean"},
    "variants": [
        {"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"key": "treatment", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}


@pytest.mark.parametrize(
    ("name", "path", "body", "valid"),
    [
        ("AssignRequest", "/v1/assign", ASSIGN_OK, True),
        ("AssignRequest", "/v1/assign", {"attributes": {}}, False),
        ("AssignRequest", "/v1/assign", {**ASSIGN_OK, "userid": "x"}, False),
        ("AssignRequest", "/v1/assign", {"user_id": "u" * 300}, False),
        ("AssignRequest", "/v1/assign", {**ASSIGN_OK, "experiments": None}, True),
        ("AnalyzeRequest", "/v1/analyze", ANALYZE_OK, True),
        ("AnalyzeRequest", "/v1/analyze", {**ANALYZE_OK, "alpha": 1.5}, False),
        ("AnalyzeRequest", "/v1/analyze", {**ANALYZE_OK, "method": "bayes"}, False),
        ("AnalyzeRequest", "/v1/analyze", {**ANALYZE_OK, "metric": {"kind": "median"}}, False),
    ],
)
def test_schemas_agree_with_the_service(
    client: FlaskClient, name: str, path: str, body: dict[str, Any], valid: bool
) -> None:
    assert validator(name).is_valid(body) == valid
    status = client.post(path, json=body).status_code
    assert (status == 200) == valid, status


def test_event_batch_schema() -> None:
    batch = validator("EventBatch")
    exposure = {"type": "exposure", "experiment": "e", "user_id": "u", "variant": "a"}
    assert batch.is_valid({"events": [exposure]})
    assert not batch.is_valid({"events": []})
    assert not batch.is_valid({"events": [exposure] * 1001})
    assert not batch.is_valid({"events": [{**exposure, "value": 1e13}]})
    assert not batch.is_valid({"events": [{"type": "exposure", "user_id": "u"}]})
    conversion = {"type": "conversion", "event": "buy", "user_id": "u", "event_id": "e1"}
    assert batch.is_valid({"events": [exposure, conversion]})
    assert not batch.is_valid({"events": [{**conversion, "event_id": None}]})
