"""Shared fixtures: a real redis-server per session, temporary data directories."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from redis_server import redis_binary, redis_required, running_redis  # noqa: E402

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
