"""``GET /openapi.json`` describes every API route, and for every route with a request body
the live service accepts exactly the sample bodies the document's schema accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from xp.api.openapi import document
from xp.events.parse import MAX_EVENTS

# The pages' blueprints (people, HTML, session cookie): not part of the JSON API.
PAGES = {"static", "pages", "session"}
BODY_METHODS = {"POST", "PUT", "PATCH"}


def api_routes(app: Flask) -> set[tuple[str, str]]:
    """``(openapi path, method)`` of every API rule in the app's URL map."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in PAGES:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes.update((path, method) for method in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_every_route_is_described(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    assert described == api_routes(app)


def test_every_route_with_a_body_has_its_schema_and_samples(app: Flask) -> None:
    spec = document()
    with_body = {(p, m) for p, m in api_routes(app) if m in BODY_METHODS}
    assert with_body == set(SAMPLES)
    for path, method in with_body:
        body = spec["paths"][path][method.lower()]["requestBody"]
        assert "$ref" in body["content"]["application/json"]["schema"]


def test_the_document_is_valid_json_schema() -> None:
    spec = document()
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def body_validator(path: str, method: str) -> Draft202012Validator:
    spec = document()
    ref = spec["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    return Draft202012Validator({**ref["schema"], "components": spec["components"]})


ASSIGN = {"user_id": "u1", "attributes": {"country": "US"}, "log_exposure": False}
ANALYZE = {
    "metric": {"kind": "mean"},
    "variants": [
        {"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"key": "treatment", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}
EXPOSURE = {"type": "exposure", "experiment": "checkout-button", "user_id": "u", "variant": "green"}
CONVERSION = {"type": "conversion", "event": "purchase", "user_id": "u", "event_id": "e1"}


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}


# (path, method) -> [(sample body, valid by the document)]. Outside what a JSON Schema can
# say, and so not sampled here: ts relative to the server clock (and an ISO ts before 2000),
# lone surrogates, the cross-field rules of an analysis (sum_squares >= sum**2 / n, one weight
# per variant) and a whole n.
SAMPLES: dict[tuple[str, str], list[tuple[Any, bool]]] = {
    ("/v1/assign", "POST"): [
        (ASSIGN, True),
        ({"user_id": "u"}, True),
        ({**ASSIGN, "experiments": None}, True),
        ({**ASSIGN, "experiments": ["checkout-button"]}, True),
        ({"user_id": "u" * 256}, True),
        ({**ASSIGN, "attributes": {f"a{i}": i for i in range(100)}}, True),
        ({"attributes": {}}, True),  # no unit: each experiment's answer for a missing unit
        ({"user_id": None}, True),
        ({**ASSIGN, "userid": "x"}, False),
        ({"user_id": "u" * 257}, False),
        ({"user_id": ""}, True),
        ({"user_id": []}, False),
        ({"user_id": 42}, True),
        ({"user_id": 42.0}, True),
        ({"user_id": True}, False),
        ({**ASSIGN, "attributes": {f"a{i}": i for i in range(101)}}, False),
        ({**ASSIGN, "attributes": ["US"]}, False),
        ({**ASSIGN, "attributes": {"": 1}}, False),
        ({**ASSIGN, "attributes": {"k" * 129: 1}}, False),
        ({**ASSIGN, "experiments": ["x" * 65]}, False),
        ({**ASSIGN, "experiments": ["e"] * 501}, False),
        ({**ASSIGN, "log_exposure": "no"}, False),
        ([ASSIGN], False),
    ],
    ("/v1/evaluate", "POST"): [
        ({"user_id": "u", "attributes": {"email": "a@b.c"}}, True),
        ({"user_id": "u", "features": ["new-checkout"], "log_exposure": False}, True),
        ({"user_id": 7, "features": None}, True),
        ({"attributes": {}}, True),
        ({"user_id": ""}, True),
        ({"user_id": {"id": 1}}, False),
        ({"user_id": "u", "features": ["x" * 65]}, False),
        ({"user_id": "u", "feature": ["new-checkout"]}, False),
        ({"user_id": "u", "log_exposure": 1}, False),
    ],
    ("/v1/events", "POST"): [
        (batch(EXPOSURE), True),
        (batch(EXPOSURE, CONVERSION), True),
        ({**batch(EXPOSURE), "sdk": "python/1"}, True),
        (batch({**EXPOSURE, "user_id": 42, "sdk": "python/1"}), True),
        (
            batch(
                {**EXPOSURE, "attributes": {"country": "US"}, "covariates": {"purchase_rate": 3}}
            ),
            True,
        ),
        (batch({**EXPOSURE, "event_id": None, "ts": None, "attributes": None}), True),
        (batch({**CONVERSION, "value": None}), True),
        (batch({**CONVERSION, "value": -1e12, "ts": "2026-01-01T00:00:00Z"}), True),
        (batch(*[{**EXPOSURE, "user_id": f"u{i}"} for i in range(MAX_EVENTS)]), True),
        ({}, False),
        (batch(), False),
        ({"events": "x"}, False),
        (batch(*[{**EXPOSURE, "user_id": f"u{i}"} for i in range(MAX_EVENTS + 1)]), False),
        ([EXPOSURE], False),
        (batch("not an event"), False),
        (batch({"user_id": "u"}), False),
        (batch({**EXPOSURE, "type": "click"}), False),
        (batch({"type": "exposure", "user_id": "u", "experiment": "checkout-button"}), False),
        (batch({**EXPOSURE, "user_id": ""}), False),
        (batch({**EXPOSURE, "user_id": 1.5}), True),
        (batch({**EXPOSURE, "user_id": True}), False),
        (batch({**EXPOSURE, "user_id": "u" * 257}), False),
        (batch({**EXPOSURE, "user_id": 10**300}), False),
        (batch({**EXPOSURE, "experiment": "x" * 65}), False),
        (batch({**EXPOSURE, "ts": 946684799}), False),
        (batch({**EXPOSURE, "ts": True}), False),
        (batch({**EXPOSURE, "attributes": {f"a{i}": i for i in range(101)}}), False),
        (batch({**EXPOSURE, "covariates": {"revenue": "1"}}), False),
        (batch({**EXPOSURE, "covariates": {"revenue": 1e13}}), False),
        (batch({**EXPOSURE, "event_id": 7}), False),
        (batch({**CONVERSION, "event_id": None}), False),
        (batch({**CONVERSION, "event_id": "e" * 129}), False),
        (batch({**CONVERSION, "event": "e" * 129}), False),
        (batch({**CONVERSION, "value": 1e13}), False),
        (batch({**CONVERSION, "value": "3"}), False),
        (batch({**CONVERSION, "value": False}), False),
        (batch(EXPOSURE, {**CONVERSION, "value": "3"}), False),  # one bad event
    ],
    ("/v1/analyze", "POST"): [
        (ANALYZE, True),
        ({**ANALYZE, "alpha": 0.1, "method": "sequential", "weights": [1, 1]}, True),
        ({**ANALYZE, "metric": {"kind": "mean", "name": "revenue"}}, True),
        ({**ANALYZE, "alpha": 1.5}, False),
        ({**ANALYZE, "alpha": 0}, False),
        ({**ANALYZE, "alpha": 1}, False),
        ({**ANALYZE, "sequential_tuning": 0}, False),
        ({**ANALYZE, "method": "bayes"}, False),
        ({**ANALYZE, "metric": {"kind": "median"}}, False),
        ({**ANALYZE, "variants": ANALYZE["variants"][:1]}, False),
        ({**ANALYZE, "weights": [-1, 1]}, False),
        ({**ANALYZE, "extra": 1}, False),
        ({"metric": {"kind": "mean"}}, False),
        ({**ANALYZE, "variants": [{**v, "n": -1} for v in ANALYZE["variants"]]}, False),
    ],
}


def events_accepted(response: TestResponse) -> bool:
    """A batch is refused whole (a 4xx) or event by event (``rejected`` in its answer)."""
    return (
        response.status_code == 200 and response.json is not None and not response.json["rejected"]
    )


ACCEPTED: dict[tuple[str, str], Callable[[TestResponse], bool]] = {
    ("/v1/events", "POST"): events_accepted,
}


@pytest.mark.parametrize(
    ("route", "body", "valid"),
    [(route, body, valid) for route, cases in SAMPLES.items() for body, valid in cases],
    ids=[f"{r[0]}-{i}" for r, cases in SAMPLES.items() for i in range(len(cases))],
)
def test_the_service_accepts_what_the_document_accepts(
    client: FlaskClient, route: tuple[str, str], body: Any, valid: bool
) -> None:
    path, method = route
    assert body_validator(path, method).is_valid(body) == valid
    response = client.open(path, method=method, json=body)
    accepted = ACCEPTED.get(route, lambda r: r.status_code == 200)
    assert accepted(response) == valid, (response.status_code, response.json)
    if not valid and response.status_code == 200:
        rejected = [r for r in response.json["results"] if r["status"] == "rejected"]
        assert all(r["field"].startswith("events.") for r in rejected)
