"""Login and logout: CSRF tokens, the login form's rate limit, viewer logins, and a session
cookie that opens the pages but not the JSON API; the API's rate limit per key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.test_pages import csrf, log_in
from xp.ratelimit import storage_uri

KEYS = {"admin-key-123": "admin", "sdk-key-456": "sdk", "viewer-key-789": "viewer"}


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(api_keys=KEYS, secret_key="session-secret").test_client()


def test_login_without_its_token_is_refused(client: FlaskClient) -> None:
    client.get("/login")  # the session holds a token now; the form post does not send it
    response = client.post("/login", data={"key": "admin-key-123"})
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert client.get("/").status_code == 302  # not logged in


@pytest.mark.parametrize("token", ["", "forged-token", "IjEyMyI.ZZZ.abc"])
def test_login_with_a_wrong_token_is_refused(client: FlaskClient, token: str) -> None:
    client.get("/login")
    response = client.post("/login", data={"key": "admin-key-123", "csrf_token": token})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_a_token_from_another_session_is_refused(
    client: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    other = client.application.test_client()
    token = csrf(other)
    client.get("/login")
    response = client.post("/login", data={"key": "admin-key-123", "csrf_token": token})
    assert response.status_code == 400


def test_logout_without_its_token_is_refused(client: FlaskClient) -> None:
    assert log_in(client, "admin-key-123").status_code == 302
    assert client.get("/").status_code == 200
    refused = client.post("/logout")
    assert refused.status_code == 400
    assert client.get("/").status_code == 200  # still logged in: a forged logout did nothing
    done = client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_a_viewer_key_logs_in_an_sdk_key_does_not(client: FlaskClient) -> None:
    refused = log_in(client, "sdk-key-456")
    assert refused.status_code == 401
    assert log_in(client, "viewer-key-789").status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/experiments/checkout-button/results.md").status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/experiments", "/v1/experiments/checkout-button/results", "/v1/config"]
)
def test_the_session_cookie_does_not_open_the_json_api(client: FlaskClient, path: str) -> None:
    log_in(client, "admin-key-123")
    assert client.get("/").status_code == 200
    response = client.get(path)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert client.delete("/v1/units/u-1").status_code == 401


def test_the_login_form_answers_429_after_its_limit(make_app: Callable[..., Flask]) -> None:
    app = make_app(api_keys=KEYS, secret_key="s", rate_limit_login="3 per minute")
    client = app.test_client()
    token = csrf(client)
    statuses = [
        client.post("/login", data={"key": f"guess-{i}", "csrf_token": token}).status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    limited = client.post("/login", data={"key": "admin-key-123", "csrf_token": token})
    assert limited.status_code == 429  # even the right key: the limit is per address
    assert "Too many login attempts" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/login").status_code == 200  # the form itself still shows


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_api_limit_is_per_key(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_keys=KEYS, rate_limit_api="3 per minute").test_client()
    sdk = [client.get("/v1/config", headers=bearer("sdk-key-456")).status_code for _ in range(4)]
    assert sdk == [200, 200, 200, 429]
    body = client.get("/v1/config", headers=bearer("sdk-key-456")).json
    assert body["error"]["code"] == "too_many_requests"
    # one budget over the whole API: another route of the same key is refused too
    assert client.get("/v1/experiments", headers=bearer("sdk-key-456")).status_code == 429
    # another key has its own bucket; health probes are not limited
    assert client.get("/v1/experiments", headers=bearer("admin-key-123")).status_code == 200
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


@pytest.mark.redis
def test_api_limits_are_shared_through_the_stores_redis(
    make_app: Callable[..., Flask], redis_url: str
) -> None:
    """Two apps (two workers, two instances) on one Redis share one count per key."""
    import redis

    with redis.Redis.from_url(redis_url) as r:
        for key in r.scan_iter("*xp-ratelimit*"):
            r.delete(key)
    config: dict[str, Any] = {
        "api_keys": KEYS,
        "store_url": redis_url,
        "rate_limit_api": "4 per minute",
    }
    first = make_app(**config).test_client()
    second = make_app(**config).test_client()
    headers = bearer("viewer-key-789")
    statuses = [
        (first if i % 2 else second).get("/v1/experiments", headers=headers).status_code
        for i in range(6)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    with redis.Redis.from_url(redis_url) as r:
        keys = [k.decode() for k in r.scan_iter("*xp-ratelimit*")]
    assert keys and all("viewer-key-789" not in k for k in keys)  # a digest, not the key


@pytest.mark.parametrize(
    ("store_url", "expected"),
    [
        (None, "memory://"),
        ("sqlite:///x.db", "memory://"),
        ("redis://:pw@h:1/0", "redis://:pw@h:1/0"),
        ("unix:///tmp/r.sock", "redis+unix:///tmp/r.sock"),
        ("redis+cluster://h:1", "redis+cluster://h:1"),
    ],
)
def test_storage_follows_the_store(store_url: str | None, expected: str) -> None:
    assert storage_uri(store_url) == expected


def test_behind_a_proxy_the_login_limit_is_per_forwarded_client(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(api_keys=KEYS, secret_key="s", rate_limit_login="2 per minute", proxy_hops=1)
    client = app.test_client()
    token = csrf(client)

    def attempt(client_ip: str) -> int:
        data = {"key": "guess", "csrf_token": token}
        return client.post("/login", data=data, headers={"X-Forwarded-For": client_ip}).status_code

    assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("203.0.113.2") == 401  # another client behind the same proxy


def test_an_unreachable_cluster_for_the_counters_falls_back_to_memory(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.redis_server import free_port

    url = f"redis+cluster://:cluster-pw@127.0.0.1:{free_port()}"
    app = make_app(api_keys=KEYS, secret_key="s", store_url=url, rate_limit_login="1 per minute")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    token = csrf(client)
    statuses = [
        client.post("/login", data={"key": "x", "csrf_token": token}).status_code for _ in range(2)
    ]
    assert statuses == [401, 429]  # still limited, counted in memory
    assert "cluster-pw" not in caplog.text
