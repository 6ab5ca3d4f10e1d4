"""Nothing internal leaks: no body a caller without the admin key gets, and no log line,
holds the store URL's host, port or password, nor an experiment file's content.

The store is a real redis-server started with ``--requirepass``: reachable, reached with a
wrong password, and an unreachable port, so the drivers' own error texts are exercised.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from tests.api.test_auth import BODIES, CREDENTIALS, routes
from tests.support.redis_server import free_port, redis_binary, running_redis
from xp import logs
from xp.app import create_app
from xp.redaction import MASK

PASSWORD = "s3cret-Pa55-word"
KEYS = {"sdk-key-123": "sdk", "viewer-key-789": "viewer", "admin-key-456": "admin"}
EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture(scope="module")
def protected_redis() -> Iterator[str]:
    """``redis://:<password>@127.0.0.1:<port>/0`` of a redis-server that requires it (set
    after start: the start-up probe pings without a password)."""
    if redis_binary() is None:
        pytest.skip("redis-server is not on PATH")
    with running_redis() as url:
        with redis.Redis.from_url(url) as client:
            client.config_set("requirepass", PASSWORD)
        yield url.replace("redis://", f"redis://:{PASSWORD}@")


def store_urls(good: str) -> dict[str, str]:
    port = good.rsplit(":", 1)[1].split("/")[0]
    return {
        "reachable": good,
        "wrong password": good.replace(PASSWORD, "Wr0ng-pa55-word"),
        "unreachable": good.replace(f":{port}/", f":{free_port()}/"),
    }


def secrets(url: str) -> list[str]:
    hostport = url.split("@", 1)[1].split("/", 1)[0]
    return [PASSWORD, "Wr0ng-pa55-word", hostport, ":" + hostport.split(":")[1], "127.0.0.1"]


def build(url: str, tmp_path: Path) -> tuple[Flask, io.StringIO]:
    app = create_app(
        {
            "experiments_dir": str(EXPERIMENTS),
            "data_dir": str(tmp_path / "data"),
            "store_url": url,
            "api_keys": KEYS,
            "secret_key": "leak-secret",
            "reload_interval": 0.0,
            "rate_limit_api": "1000 per minute",  # its counters in the same Redis
        }
    )
    captured = io.StringIO()
    logs.configure("DEBUG", "text", stream=captured)
    return app, captured


@pytest.mark.redis
@pytest.mark.parametrize("case", ["reachable", "wrong password", "unreachable"])
def test_no_body_without_admin_and_no_log_line_shows_the_store(
    protected_redis: str, tmp_path: Path, case: str
) -> None:
    url = store_urls(protected_redis)[case]
    app, captured = build(url, tmp_path)
    try:
        client = app.test_client()
        statuses = []
        for credential in ("none", "bad", "sdk", "viewer"):
            key = CREDENTIALS[credential]
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            for endpoint, method, path in routes(app):
                body: Any = BODIES.get(endpoint)
                response = client.open(path, method=method, headers=headers, json=body)
                text = response.get_data(as_text=True) + str(response.headers)
                statuses.append(response.status_code)
                for secret in secrets(url):
                    assert secret not in text, (case, credential, endpoint, secret, text[:400])
        if case != "reachable":
            assert 503 in statuses  # the store's failure was met, and answered without detail
        admin = {"Authorization": "Bearer admin-key-456"}
        ready = client.get("/readyz", headers=admin)
        for secret in secrets(url):
            assert secret not in ready.get_data(as_text=True)
        if case != "reachable":
            assert ready.status_code == 503 and ready.json["store"]  # redacted, not dropped
        if case == "unreachable":  # "Error 111 connecting to <host>:<port>" without them
            assert MASK in ready.json["store"]
    finally:
        app.extensions["xp"].close()
        logs.configure("INFO", "text")
    logged = captured.getvalue()
    if case != "reachable":
        assert "store unavailable" in logged  # the failure was logged, redacted
    for secret in (PASSWORD, "Wr0ng-pa55-word", url.split("@", 1)[1].split("/", 1)[0]):
        assert secret not in logged, logged


def test_healthz_shows_file_names_and_field_paths_only(
    tmp_path: Path, make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "bad.yaml").write_text(
        "key: bad\nname: Bad\nstatus: running\nvariants: TOP-SECRET-CONTENT\nmetrics: []\n"
    )
    secret = tmp_path / "outside.txt"
    secret.write_text("root:x:0:0:OUTSIDE-CONTENT\n")
    (folder / "link.yaml").symlink_to(secret)
    caplog.set_level(logging.CRITICAL)
    client = make_app(experiments_dir=str(folder), api_keys=KEYS).test_client()
    open_view = client.get("/healthz")
    text = open_view.get_data(as_text=True)
    assert open_view.status_code == 200 and open_view.json["status"] == "degraded"
    assert "TOP-SECRET-CONTENT" not in text and "OUTSIDE-CONTENT" not in text
    assert str(tmp_path) not in text  # names, not paths
    problems = open_view.json["problems"]
    assert all(set(p) == {"file", "path"} for p in problems)
    assert {"file": "bad.yaml", "path": "variants"} in problems
    # an admin key gets the details
    admin = client.get("/healthz", headers={"Authorization": "Bearer admin-key-456"})
    details = [p for p in admin.json["problems"] if p["file"].endswith("bad.yaml")]
    assert details and "message" in details[0]
    for key in ("viewer-key-789", "sdk-key-123", "nope"):
        other = client.get("/healthz", headers={"Authorization": f"Bearer {key}"})
        assert other.json["problems"] == problems
