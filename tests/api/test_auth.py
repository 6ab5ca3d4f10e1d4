"""API keys and scopes: every route of the URL map against every credential.

``sdk`` assigns and posts events, ``viewer`` reads pages, results, reports and exports,
``admin`` does all of it plus erasure, analyze and metrics. No key or a bad key is a 401 on the
API (a redirect to the login form on the pages), the wrong scope a 403, and no combination is a
500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.seed import KEY, seed
from xp.auth import GRANTS, scope_of
from xp.runtime import Runtime
from xp.settings import SettingsError, parse_api_keys

KEYS = {"sdk-key-123": "sdk", "viewer-key-789": "viewer", "admin-key-456": "admin"}
CREDENTIALS: dict[str, str | None] = {
    "none": None,
    "bad": "not-a-key",
    "sdk": "sdk-key-123",
    "viewer": "viewer-key-789",
    "admin": "admin-key-456",
}
# Every endpoint of the app and the scope it needs (None: open). A new route without a row
# fails test_the_matrix_covers_the_url_map.
NEEDS: dict[str, str | None] = {
    "static": None,
    "health.healthz": None,
    "health.readyz": None,
    "openapi.openapi": None,
    "session.login": None,
    "session.logout": None,
    "assign.assign": "sdk",
    "events.post_events": "sdk",
    "definitions.config": "sdk",
    "features.evaluate": "sdk",
    "features.list_features": "viewer",
    "definitions.list_experiments": "viewer",
    "definitions.get_experiment": "viewer",
    "results.results": "viewer",
    "exports.units_csv_view": "viewer",
    "pages.index": "viewer",
    "pages.experiment": "viewer",
    "pages.download": "viewer",
    "pages.units": "viewer",
    "units.erase_unit": "admin",
    "units.erase_unit_by_query": "admin",
    "analyze.analyze_view": "admin",
    "metrics.metrics": "admin",
}
ARGS = {"key": KEY, "unit_id": "u-1", "suffix": "csv", "filename": "xp.css"}
QUERY = {"units.erase_unit_by_query": "?unit_id=u-1"}
BODIES: dict[str, Any] = {
    "assign.assign": {"user_id": "u-1", "log_exposure": False},
    "features.evaluate": {"user_id": "u-1", "log_exposure": False},
    "events.post_events": {"events": []},
    "analyze.analyze_view": {},
}


def seeded_app(make_app: Callable[..., Flask], tmp_path: Path, **config: Any) -> Flask:
    folder = tmp_path / "experiments"
    app = make_app(experiments_dir=str(folder), **config)
    runtime: Runtime = app.extensions["xp"]
    seed(folder, runtime.store, time.time(), count=40)
    runtime.registry.reload(force=True)
    return app


@pytest.fixture(scope="module", params=["with a login form", "bearer only"])
def matrix_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The seeded app with every scope's key, with and without ``XP_SECRET_KEY``."""
    from xp.app import create_app

    root = tmp_path_factory.mktemp("matrix")
    app = create_app(
        {
            "experiments_dir": str(root / "experiments"),
            "data_dir": str(root / "data"),
            "api_keys": KEYS,
            "secret_key": "matrix-secret" if request.param == "with a login form" else None,
            "reload_interval": 0.0,
            "rate_limit_api": "off",
            "rate_limit_login": "off",
        }
    )
    runtime: Runtime = app.extensions["xp"]
    seed(root / "experiments", runtime.store, time.time(), count=40)
    runtime.registry.reload(force=True)
    yield app
    runtime.close()


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """``(endpoint, method, url)`` of every rule of the URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        values = {name: ARGS[name] for name in rule.arguments}
        url = rule.build(values, append_unknown=False)[1] + QUERY.get(rule.endpoint, "")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_the_matrix_covers_the_url_map(matrix_app: Flask) -> None:
    assert {endpoint for endpoint, _, _ in routes(matrix_app)} == set(NEEDS)


def call(client: FlaskClient, endpoint: str, method: str, url: str, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = BODIES.get(endpoint)
    return client.open(url, method=method, headers=headers, json=body)


@pytest.mark.parametrize("credential", list(CREDENTIALS))
def test_every_route_with_every_credential(matrix_app: Flask, credential: str) -> None:
    client = matrix_app.test_client()
    key = CREDENTIALS[credential]
    scope = KEYS.get(key or "")
    seen = []
    for endpoint, method, url in routes(matrix_app):
        response = call(client, endpoint, method, url, key)
        status = response.status_code
        seen.append((endpoint, method, status))
        assert status < 500, (endpoint, method, credential, response.get_data(as_text=True))
        needed = NEEDS[endpoint]
        page = endpoint.startswith("pages.")
        if needed is None:
            assert status not in (401, 403), (endpoint, method, credential)
        elif scope is None:  # no key, or a key that is not configured
            if page and matrix_app.secret_key:
                assert status == 302 and "/login" in response.headers["Location"], endpoint
            elif page:
                assert status == 401 and "Bearer" in response.headers["WWW-Authenticate"]
            else:
                assert status == 401, (endpoint, method, credential)
                assert response.json["error"]["code"] == "unauthorized"
        elif needed not in GRANTS[scope]:
            assert status == 403, (endpoint, method, credential, status)
        else:
            assert status not in (401, 403), (endpoint, method, credential, status)
    assert len(seen) == sum(1 for _ in routes(matrix_app))


VIEWER = {"Authorization": "Bearer viewer-key-789"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"/experiments/{KEY}",
        f"/experiments/{KEY}?method=sequential",
        f"/experiments/{KEY}/results.csv",
        f"/experiments/{KEY}/results.md",
        f"/experiments/{KEY}/results.json",
        f"/experiments/{KEY}/units.csv",
        "/v1/experiments",
        f"/v1/experiments/{KEY}",
        *(f"/v1/experiments/{KEY}/results?format={f}" for f in ("json", "csv", "md", "html")),
        f"/v1/experiments/{KEY}/results?method=sequential",
        f"/v1/experiments/{KEY}/units.csv",
    ],
)
def test_a_viewer_reads_every_page_result_and_export(matrix_app: Flask, path: str) -> None:
    response = matrix_app.test_client().get(path, headers=VIEWER)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert len(response.get_data()) > 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/v1/units/u-1", None),
        ("DELETE", "/v1/units?unit_id=u-1", None),
        ("POST", "/v1/analyze", {"metrics": []}),
        ("GET", "/metrics", None),
    ],
)
def test_a_viewer_is_refused_erasure_and_analyze(
    matrix_app: Flask, method: str, path: str, body: Any
) -> None:
    client = matrix_app.test_client()
    before = client.get(f"/v1/experiments/{KEY}/units.csv", headers=VIEWER).get_data(True)
    response = client.open(path, method=method, headers=VIEWER, json=body)
    assert response.status_code == 403
    assert "'viewer'" in response.json["error"]["message"]
    after = client.get(f"/v1/experiments/{KEY}/units.csv", headers=VIEWER).get_data(True)
    assert after == before  # nothing was erased


def test_an_admin_erases(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    client = seeded_app(make_app, tmp_path, api_keys=KEYS).test_client()
    admin = {"Authorization": "Bearer admin-key-456"}
    rows = client.get(f"/v1/experiments/{KEY}/units.csv", headers=admin).get_data(True)
    unit = rows.splitlines()[1].split(",")[0]
    response = client.delete(f"/v1/units/{unit}", headers=admin)
    assert response.status_code == 200 and response.json["experiments"] == 1
    after = client.get(f"/v1/experiments/{KEY}/units.csv", headers=admin).get_data(True)
    assert len(after.splitlines()) == len(rows.splitlines()) - 1


def test_other_schemes_and_key_in_query_are_refused(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_keys=KEYS).test_client()
    assert (
        client.get("/v1/config", headers={"Authorization": "Basic sdk-key-123"}).status_code == 401
    )
    assert client.get("/v1/config?api_key=sdk-key-123").status_code == 401


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
    assert scope_of("viewer-key-789", KEYS) == "viewer"
    assert scope_of("admin-key-45", KEYS) is None
    assert scope_of("", KEYS) is None


@pytest.mark.parametrize("text", ["k", "k:root", ":admin", "k:sdk,x", "k:viewers"])
def test_bad_key_settings_are_refused(text: str) -> None:
    with pytest.raises(SettingsError):
        parse_api_keys(text)


def test_key_settings_parse() -> None:
    assert parse_api_keys(" a:sdk , b:c:admin, v:viewer ") == {
        "a": "sdk",
        "b:c": "admin",
        "v": "viewer",
    }


def test_without_configured_keys_every_route_is_open(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = seeded_app(make_app, tmp_path, rate_limit_login="off")
    client = app.test_client()
    for endpoint, method, url in routes(app):
        response = call(client, endpoint, method, url, None)
        assert response.status_code not in (401, 403), (endpoint, method)
        assert response.status_code < 500, (endpoint, method, response.get_data(as_text=True))
