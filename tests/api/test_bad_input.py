"""Bad input gets a 4xx in the one error shape, naming the field; never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

JSON = "application/json"
OK = {"user_id": "u-1"}
NESTED: Any = 1
for _ in range(40):
    NESTED = [NESTED]

# (name, body bytes or JSON value, content type, expected status, field named in details)
CASES: list[tuple[str, Any, str, int, str | None]] = [
    ("malformed json", b"{", JSON, 400, None),
    ("trailing garbage", b'{"user_id": "u"} x', JSON, 400, None),
    ("not utf-8", b'{"user_id": "\xff\xfe"}', JSON, 400, None),
    ("NaN literal", b'{"user_id": "u", "attributes": {"a": NaN}}', JSON, 400, None),
    ("Infinity literal", b'{"user_id": "u", "attributes": {"a": Infinity}}', JSON, 400, None),
    ("empty body", b"", JSON, 400, None),
    ("form content type", b"user_id=u", "application/x-www-form-urlencoded", 415, None),
    ("text content type", b'{"user_id": "u"}', "text/plain", 415, None),
    ("array body", [OK], JSON, 422, "body"),
    ("string body", "u-1", JSON, 422, "body"),
    ("null body", None, JSON, 422, "body"),
    ("number body", 7, JSON, 422, "body"),
    # A missing, null or "" user_id is no unit, not an error (tests/api/test_unit_ids.py).
    ("boolean user_id", {"user_id": True}, JSON, 422, "user_id"),
    ("object user_id", {"user_id": {"id": 42}}, JSON, 422, "user_id"),
    ("bool user_id", {"user_id": True}, JSON, 422, "user_id"),
    ("object user_id", {"user_id": {"id": 1}}, JSON, 422, "user_id"),
    ("list user_id", {"user_id": ["u"]}, JSON, 422, "user_id"),
    ("huge user_id", {"user_id": "u" * 10_000}, JSON, 422, "user_id"),
    ("unknown key", {**OK, "userid": "x"}, JSON, 422, "userid"),
    ("attributes not object", {**OK, "attributes": [1, 2]}, JSON, 422, "attributes"),
    ("attributes string", {**OK, "attributes": "US"}, JSON, 422, "attributes"),
    (
        "too many attributes",
        {**OK, "attributes": {f"a{i}": i for i in range(101)}},
        JSON,
        422,
        "attributes",
    ),
    ("empty attribute name", {**OK, "attributes": {"": 1}}, JSON, 422, "attributes"),
    ("experiments not list", {**OK, "experiments": "checkout-button"}, JSON, 422, "experiments"),
    ("experiments of numbers", {**OK, "experiments": [1]}, JSON, 422, "experiments.0"),
    ("experiments null item", {**OK, "experiments": [None]}, JSON, 422, "experiments.0"),
    ("log_exposure string", {**OK, "log_exposure": "no"}, JSON, 422, "log_exposure"),
    ("log_exposure number", {**OK, "log_exposure": 0}, JSON, 422, "log_exposure"),
    ("lone surrogate user_id", b'{"user_id": "\\ud800"}', JSON, 400, "user_id"),
    (
        "lone surrogate attribute",
        b'{"user_id": "u", "attributes": {"country": "\\udc00x"}}',
        JSON,
        400,
        "attributes.country",
    ),
    ("deep nesting", {**OK, "attributes": {"a": NESTED}}, JSON, 400, "attributes.a"),
    ("very deep nesting", b"[" * 100_000 + b"]" * 100_000, JSON, 400, None),
    ("huge body", {**OK, "attributes": {"blob": "x" * 2_000_000}}, JSON, 413, None),
]


def send(client: FlaskClient, body: Any, content_type: str) -> Any:
    import json

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/assign", data=data, content_type=content_type)


def test_at_least_30_kinds() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("name", "body", "content_type", "status", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(
    client: FlaskClient, name: str, body: Any, content_type: str, status: int, field: str | None
) -> None:
    response = send(client, body, content_type)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if field is not None:
        details = error["details"]
        assert any(k == field or k.startswith(f"{field}.") for k in details), details


def test_unknown_route_and_method(client: FlaskClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    response = client.get("/v1/assign")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"


def test_unknown_experiment_detail_names_the_key(client: FlaskClient) -> None:
    response = client.get("/v1/experiments/no-such-thing")
    assert response.status_code == 404
    assert response.json["error"]["details"] == {"key": "no-such-thing"}
