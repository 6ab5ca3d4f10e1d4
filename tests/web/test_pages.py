"""The results pages over the Flask test client, with the results document stubbed.

What the engine computes is tested with a seeded store in test_results_pages.py; here the
document is the hand-written sample, so access, login and rendering are tested on their own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.sample_results import sample_results, srm_results
from xp.api.definitions import Located
from xp.auth import SESSION_MAX_AGE
from xp.results.document import ResultsDocument
from xp.web import pages

KEYS = {"admin-key-123": "admin", "sdk-key-456": "sdk", "viewer-key-789": "viewer"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form ``path`` shows this client's session."""
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match[1]


def log_in(client: FlaskClient, key: str, **form: str) -> TestResponse:
    return client.post("/login", data={"key": key, "csrf_token": csrf(client), **form})


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Stub the results document; record (experiment key, method) of each call."""
    seen: list[tuple[str, str]] = []

    def fake(
        found: Located, method: str, thresholds: Mapping[str, float] | None = None
    ) -> ResultsDocument:
        definition = found.definition
        seen.append((definition.key, method))
        if definition.key == "search-ranking":
            return srm_results()
        results = sample_results(method=method)
        experiment = replace(results.experiment, key=definition.key, name=definition.name)
        return replace(results, experiment=experiment)

    monkeypatch.setattr(pages, "_results", fake)
    return seen


@pytest.fixture
def open_client(make_app: Callable[..., Flask], calls: list[tuple[str, str]]) -> FlaskClient:
    return make_app().test_client()


@pytest.fixture
def bearer_client(make_app: Callable[..., Flask], calls: list[tuple[str, str]]) -> FlaskClient:
    return make_app(api_keys=KEYS).test_client()


@pytest.fixture
def login_client(make_app: Callable[..., Flask], calls: list[tuple[str, str]]) -> FlaskClient:
    return make_app(api_keys=KEYS, secret_key="test-secret").test_client()


def test_index_lists_every_experiment_with_status_units_and_decision(
    open_client: FlaskClient,
) -> None:
    response = open_client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for key in ("checkout-button", "onboarding-checklist", "pricing-page", "search-ranking"):
        assert f'<tr data-key="{key}">' in page
        assert f'href="/experiments/{key}"' in page
    row = page[page.index('<tr data-key="checkout-button">') :]
    row = row[: row.index("</tr>")]
    assert "Green checkout button" in row and "running" in row
    assert "10,000" in row and "Keep running" in row
    ranking = page[page.index('<tr data-key="search-ranking">') :]
    assert "Sample ratio mismatch" in ranking[: ranking.index("</tr>")]


def test_experiment_page(open_client: FlaskClient, calls: list[tuple[str, str]]) -> None:
    response = open_client.get("/experiments/checkout-button")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert calls == [("checkout-button", "frequentist")]
    assert 'Decision: <span class="decision-label">Keep running</span>' in page
    assert "+4.3% (-6.6% to +15.1%)" in page
    assert '<path class="line"' in page
    assert 'href="/experiments/checkout-button?method=sequential"' in page
    # The downloads are the pages' own (the JSON API takes no session cookie).
    assert 'href="/experiments/checkout-button/units.csv"' in page
    assert 'href="/experiments/checkout-button/results.csv?method=frequentist"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]


def test_method_switch(open_client: FlaskClient, calls: list[tuple[str, str]]) -> None:
    page = open_client.get("/experiments/checkout-button?method=sequential").get_data(True)
    assert calls == [("checkout-button", "sequential")]
    assert "always-valid confidence sequence" in page
    assert 'aria-current="page">sequential</a>' in page


def test_srm_banner_on_the_page(open_client: FlaskClient) -> None:
    page = open_client.get("/experiments/search-ranking").get_data(as_text=True)
    assert 'id="srm-banner"' in page


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/experiments/nope", 404, "no experiment &#39;nope&#39;"),
        ("/experiments/checkout-button?method=bayes", 422, "got &#39;bayes&#39;"),
    ],
)
def test_errors_are_pages(open_client: FlaskClient, path: str, status: int, text: str) -> None:
    response = open_client.get(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert text in response.get_data(as_text=True)


def test_without_a_secret_a_bearer_header_is_the_way_in(bearer_client: FlaskClient) -> None:
    response = bearer_client.get("/experiments/checkout-button")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    page = response.get_data(as_text=True)
    assert "Authorization: Bearer &lt;key&gt;" in page and "XP_SECRET_KEY" in page
    assert "<form" not in page

    admin = {"Authorization": "Bearer admin-key-123"}
    assert bearer_client.get("/experiments/checkout-button", headers=admin).status_code == 200
    assert bearer_client.get("/", headers=admin).status_code == 200
    sdk = bearer_client.get("/", headers={"Authorization": "Bearer sdk-key-456"})
    assert sdk.status_code == 403 and "&#39;sdk&#39; scope" in sdk.get_data(as_text=True)
    assert bearer_client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401

    login = bearer_client.get("/login")
    assert login.status_code == 404 and "XP_SECRET_KEY" in login.get_data(as_text=True)
    assert bearer_client.post("/login", data={"key": "admin-key-123"}).status_code == 400


def test_login_sets_a_session_cookie_and_logout_clears_it(login_client: FlaskClient) -> None:
    response = login_client.get("/experiments/checkout-button?method=sequential")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    target = parse_qs(location.query)["next"][0]
    assert target == "/experiments/checkout-button?method=sequential"

    form = login_client.get(f"/login?next={target}")
    assert form.status_code == 200
    assert 'type="password"' in form.get_data(as_text=True)

    wrong = log_in(login_client, "sdk-key-456", next=target)
    assert wrong.status_code == 401 and "not a viewer or admin key" in wrong.get_data(True)

    ok = log_in(login_client, "admin-key-123", next=target)
    assert ok.status_code == 302 and ok.headers["Location"] == target
    assert "admin-key-123" not in ok.headers["Location"]
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Flask signs the session cookie but does not encrypt it: the key must not be inside.
    value = cookie.split(";")[0].split("=", 1)[1]
    app = login_client.application
    stored = app.session_interface.get_signing_serializer(app).loads(value)  # type: ignore[attr-defined]
    assert set(stored) == {"key_digest", "issued"}  # the CSRF token is cleared with the rest
    assert "admin-key-123" not in json.dumps(stored)

    page = login_client.get(target)
    assert page.status_code == 200
    assert 'action="/logout"' in page.get_data(as_text=True)
    # The session opens the pages and their downloads, never the JSON API.
    assert login_client.get("/experiments/checkout-button/results.csv").status_code == 200
    assert login_client.get("/v1/experiments/checkout-button").status_code == 401

    out = login_client.post("/logout", data={"csrf_token": csrf(login_client, target)})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert login_client.get(target).status_code == 302


def test_a_login_expires(login_client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(login_client, "admin-key-123")
    assert login_client.get("/experiments/checkout-button").status_code == 200
    later = time.time() + SESSION_MAX_AGE + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert login_client.get("/experiments/checkout-button").status_code == 302


def test_secure_cookies_when_asked(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_keys=KEYS, secret_key="s", secure_cookies=True).test_client()
    response = log_in(client, "admin-key-123")
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example"]
)
def test_login_never_redirects_off_site(login_client: FlaskClient, target: str) -> None:
    response = log_in(login_client, "admin-key-123", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_is_not_needed_when_the_service_is_open(open_client: FlaskClient) -> None:
    response = open_client.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert 'method="post"' not in open_client.get("/").get_data(as_text=True)  # no logout
