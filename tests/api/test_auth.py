"""API keys: 401 without a valid key, 403 for the wrong scope, open when none configured."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from xp.auth import scope_of
from xp.settings import SettingsError, parse_api_keys

KEYS = {"sdk-key-123": "sdk", "admin-key-456": "admin"}


@pytest.fixture
def secured(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(api_keys=KEYS).test_client()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ASSIGN = {"user_id": "u", "log_exposure": False}


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("post", "/v1/assign", None, 401),
        ("post", "/v1/assign", "wrong", 401),
        ("post", "/v1/assign", "sdk-key-123", 200),
        ("post", "/v1/assign", "admin-key-456", 200),
        ("get", "/v1/config", None, 401),
        ("get", "/v1/config", "sdk-key-123", 200),
        ("get", "/v1/experiments", "sdk-key-123", 403),
        ("get", "/v1/experiments", "admin-key-456", 200),
        ("get", "/v1/experiments/checkout-button", "sdk-key-123", 403),
        ("get", "/v1/experiments/checkout-button", "admin-key-456", 200),
        ("get", "/healthz", None, 200),
    ],
)
def test_scopes(secured: FlaskClient, method: str, path: str, key: str | None, status: int) -> None:
    headers = bearer(key) if key else {}
    kwargs = {"json": ASSIGN} if method == "post" else {}
    response = getattr(secured, method)(path, headers=headers, **kwargs)
    assert response.status_code == status, response.json
    if status >= 400:
        assert response.json["error"]["code"] in ("unauthorized", "forbidden")


def test_other_schemes_and_key_in_query_are_refused(secured: FlaskClient) -> None:
    assert (
        secured.get("/v1/config", headers={"Authorization": "Basic sdk-key-123"}).status_code == 401
    )
    assert secured.get("/v1/config?api_key=sdk-key-123").status_code == 401


def test_open_when_no_keys_and_says_so_at_start(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="xp.service")
    client = make_app().test_client()
    assert client.get("/v1/experiments").status_code == 200
    assert "XP_API_KEYS is not set: the API is open" in caplog.text


def test_no_warning_when_keys_are_set(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="xp.service")
    make_app(api_keys=KEYS)
    assert "API is open" not in caplog.text


def test_scope_of_compares_every_key() -> None:
    assert scope_of("admin-key-456", KEYS) == "admin"
    assert scope_of("admin-key-45", KEYS) is None
    assert scope_of("", KEYS) is None


@pytest.mark.parametrize("text", ["k", "k:root", ":admin", "k:sdk,x"])
def test_bad_key_settings_are_refused(text: str) -> None:
    with pytest.raises(SettingsError):
        parse_api_keys(text)


def test_key_settings_parse() -> None:
    assert parse_api_keys(" a:sdk , b:c:admin ") == {"a": "sdk", "b:c": "admin"}
