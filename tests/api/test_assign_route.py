"""The WSGI route of ``POST /v1/assign`` (xp.api.assign_route) answers what the Flask route
answers: the same status, body and headers for every plain request it takes, and every other
request handed to the Flask route with its body intact."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from xp.api.assign_route import AssignRoute

NOW = 1_790_000_000.0
KEYS = {"sdk-key": "sdk", "viewer-key": "viewer", "admin-key": "admin"}
ATTRIBUTES = {"country": "US", "app_version": "2.1.0", "signup_days": 3, "plan": "free"}

# Bodies the route answers itself: every shape of unit id, attribute and experiment list.
PLAIN = [
    {"user_id": "u-1", "attributes": ATTRIBUTES, "log_exposure": False},
    {"user_id": "u-2", "attributes": ATTRIBUTES},
    {"user_id": None, "log_exposure": False},
    {"attributes": {"user_id": "from-attributes"}, "log_exposure": False},
    {"user_id": "u-3", "experiments": ["checkout-button", "nope"], "log_exposure": False},
    {"user_id": "u-4", "experiments": [], "log_exposure": False},
    {},
]
# Accepted bodies the schema's fast path leaves to marshmallow: the Flask route answers them.
HANDED_ON = [
    {"user_id": 42, "attributes": {"country": "DE"}, "log_exposure": False},
    {"user_id": 42.0, "log_exposure": False},
    {"user_id": 123456789012345678901234567890, "log_exposure": False},
    {"user_id": "", "attributes": ATTRIBUTES, "log_exposure": False},
    {"user_id": "ü-ñ", "attributes": {"país": "España"}, "log_exposure": False},
]
# Bodies only the Flask route answers (a refusal), as raw bytes.
REFUSED = [
    b'{"user_id": "u-1", "log_exposure": "no"}',
    b'{"user_id": "u-1", "attributes": []}',
    b'{"user_id": ["u"]}',
    b'{"user_id": "u-1", "experiments": "checkout-button"}',
    b'{"user_id": "' + b"x" * 300 + b'"}',
    b'{"user_id": "\\ud800"}',
    b'{"user_id": NaN}',
    b"[" * 40 + b"]" * 40,
    b'"just a string"',
    b'{"user_id": ',
    b"\xff\xfe",
]


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app()
    app.config["XP_CLOCK"] = lambda: NOW
    return app


def route_of(app: Flask) -> AssignRoute:
    route: AssignRoute = app.extensions["xp.assign_route"]
    return route


def environ(raw: bytes, **headers: str) -> dict[str, Any]:
    builder = EnvironBuilder(
        path="/v1/assign",
        method="POST",
        data=raw,
        content_type=headers.pop("content_type", "application/json"),
        headers=headers,
    )
    return builder.get_environ()


def call(wsgi: Any, env: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    answered: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        answered.extend([status, dict(headers)])

    body = b"".join(wsgi(env, start_response))
    return answered[0], answered[1], body


def without_id(headers: dict[str, str]) -> dict[str, str]:
    assert headers.pop("X-Request-Id")
    return headers


@pytest.mark.parametrize("document", PLAIN, ids=range(len(PLAIN)))
def test_plain_requests_get_the_flask_routes_answer(app: Flask, document: Any) -> None:
    route = route_of(app)
    raw = json.dumps(document).encode()
    assert route.answer(environ(raw)) is not None  # taken by the WSGI route
    assert_same_answer(route, raw)


@pytest.mark.parametrize("document", HANDED_ON, ids=range(len(HANDED_ON)))
def test_other_accepted_bodies_are_answered_by_the_flask_route(app: Flask, document: Any) -> None:
    route = route_of(app)
    raw = json.dumps(document, ensure_ascii=False).encode()
    env = environ(raw)
    assert route.answer(env) is None
    assert call(route.inner, env)[0] == "200 OK"  # the body was put back for it
    assert_same_answer(route, raw)


def assert_same_answer(route: AssignRoute, raw: bytes) -> None:
    fast = call(route, environ(raw))
    full = call(route.inner, environ(raw))
    assert fast[0] == full[0] == "200 OK"
    assert fast[2] == full[2]
    assert without_id(fast[1]) == without_id(full[1])
    assert json.loads(fast[2])["assignments"] or json.loads(raw).get("experiments") == []


@pytest.mark.parametrize("raw", REFUSED, ids=range(len(REFUSED)))
def test_refused_bodies_get_the_flask_routes_4xx_with_the_body_intact(
    app: Flask, raw: bytes
) -> None:
    route = route_of(app)
    env = environ(raw)
    assert route.answer(env) is None
    # what the route read is back in the input, so the Flask route reads the same body
    status, headers, body = call(route.inner, env)
    expected = call(route.inner, environ(raw))
    assert status == expected[0] and status[0] == "4"
    assert json.loads(body) == json.loads(expected[2])
    assert headers["Content-Type"] == "application/json"
    assert call(route, environ(raw))[2] == body  # and through the whole app


def test_other_requests_pass_through(app: Flask) -> None:
    client = app.test_client()
    plain = json.dumps({"user_id": "u-1"}).encode()
    assert route_of(app).answer(environ(plain, content_type="text/plain")) is None
    assert client.post("/v1/assign", data=plain, content_type="text/plain").status_code == 415
    assert client.get("/v1/assign").status_code == 405
    assert client.post("/v1/assign/", json={"user_id": "u"}).status_code in (308, 404)
    # a chunked body has no Content-Length: werkzeug's stream reads it
    chunked = environ(plain)
    del chunked["CONTENT_LENGTH"]
    chunked["HTTP_TRANSFER_ENCODING"] = "chunked"
    assert route_of(app).answer(chunked) is None


def test_keys_grant_the_route_as_the_flask_route(make_app: Callable[..., Flask]) -> None:
    app = make_app(api_keys=KEYS)
    route = route_of(app)
    raw = b'{"user_id": "u-1", "log_exposure": false}'
    for key in ("sdk-key", "admin-key"):
        assert route.answer(environ(raw, Authorization=f"Bearer {key}")) is not None
    for headers, status in (
        ({}, "401 UNAUTHORIZED"),
        ({"Authorization": "Bearer viewer-key"}, "403 FORBIDDEN"),
        ({"Authorization": "Bearer wrong"}, "401 UNAUTHORIZED"),
        ({"Authorization": "Basic sdk-key"}, "401 UNAUTHORIZED"),
    ):
        assert route.answer(environ(raw, **headers)) is None
        assert call(route, environ(raw, **headers))[0] == status


def test_request_ids_and_metrics_as_for_every_route(app: Flask) -> None:
    client = app.test_client()
    raw = b'{"user_id": "u-1", "log_exposure": false}'
    given = client.post(
        "/v1/assign", data=raw, headers={"X-Request-Id": "abc-123"}, content_type="application/json"
    )
    assert given.headers["X-Request-Id"] == "abc-123"
    made = {
        client.post("/v1/assign", json={"user_id": "u"}).headers["X-Request-Id"] for _ in range(3)
    }
    assert len(made) == 3
    metrics = client.get("/metrics").get_data(as_text=True)
    line = next(
        x
        for x in metrics.splitlines()
        if x.startswith("xp_http_requests_total{") and 'route="/v1/assign"' in x
    )
    assert 'status="200"' in line and line.endswith(" 4.0")


def test_exposures_of_the_route_are_logged_once(app: Flask) -> None:
    del app.config["XP_CLOCK"]  # exposures are judged by their time: the real clock's
    client = app.test_client()
    for i in range(20):
        assert (
            client.post(
                "/v1/assign", json={"user_id": f"u-{i}", "attributes": ATTRIBUTES}
            ).status_code
            == 200
        )
    assert app.extensions["xp"].exposures.flush(timeout=10)
    answers = [
        client.post(
            "/v1/assign",
            json={"user_id": f"u-{i}", "attributes": ATTRIBUTES, "log_exposure": False},
        ).json
        for i in range(20)
    ]
    exposed = {
        f"u-{i}"
        for i, a in enumerate(answers)
        if a["assignments"]["checkout-button"]["in_experiment"]
    }
    export = client.get("/v1/experiments/checkout-button/units.csv").get_data(as_text=True)
    rows = [line.split(",")[0] for line in export.splitlines()[1:] if not line.startswith("#")]
    assert exposed and sorted(rows) == sorted(exposed)  # each exposed unit once, no other


@pytest.mark.parametrize("setting", [{"rate_limit_api": "100 per minute"}, {"sticky": True}])
def test_rate_limits_and_sticky_assignment_keep_the_flask_route(
    make_app: Callable[..., Flask], setting: dict[str, Any]
) -> None:
    app = make_app(**setting)
    route = route_of(app)
    assert not route.enabled
    assert app.test_client().post("/v1/assign", json={"user_id": "u-1"}).status_code == 200
