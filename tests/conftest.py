"""Shared fixtures: a real redis-server per session, temporary data directories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.redis_server import redis_binary, redis_required, running_redis
from xp.app import create_app

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS_DIR = ROOT / "experiments"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a redis-server this test session started; skips (or fails in CI) without one."""
    if redis_binary() is None:
        if redis_required():
            pytest.fail("XP_REQUIRE_REDIS=1 but redis-server is not on PATH")
        pytest.skip("redis-server is not on PATH; install Redis to run the Redis tests")
    with running_redis() as url:
        yield url


@pytest.fixture
def experiments_dir() -> Path:
    return EXPERIMENTS_DIR


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps from a config dict (Settings fields), on temp data dirs; closed afterwards."""
    apps: list[Flask] = []

    def build(**config: Any) -> Flask:
        config.setdefault("experiments_dir", str(EXPERIMENTS_DIR))
        config.setdefault("data_dir", str(tmp_path / f"data-{len(apps)}"))
        config.setdefault("api_keys", {})
        config.setdefault("reload_interval", 0.0)
        app = create_app(config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["xp"].close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
