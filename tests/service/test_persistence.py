"""The start-up warning for a Redis that keeps nothing across a restart, on real servers."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import redis
from flask import Flask

from tests.support.redis_server import (
    free_port,
    redis_binary,
    running_redis,
    running_redis_cluster,
)
from xp.persistence import check_store_persistence, persistence_problem

pytestmark = pytest.mark.redis


@pytest.fixture(autouse=True)
def _needs_redis() -> None:
    if redis_binary() is None:
        pytest.skip("redis-server is not on PATH")


@pytest.mark.parametrize(
    ("config", "loses_data"),
    [
        ({"appendonly": "no", "save": ""}, True),
        ({"appendonly": "no", "save": "  "}, True),
        ({"appendonly": "yes", "save": ""}, False),
        ({"appendonly": "no", "save": "3600 1 300 100"}, False),
        ({}, True),
    ],
)
def test_persistence_problem(config: dict[str, str], loses_data: bool) -> None:
    assert (persistence_problem(config) is not None) is loses_data


def test_a_redis_without_aof_or_rdb_is_warned_about_at_start(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xp.service")
    with running_redis() as url:  # the test servers run with --save "" --appendonly no
        make_app(store_url=url)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("neither AOF" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("args", [("--appendonly", "yes"), ("--save", "900 1")], ids=["aof", "rdb"])
def test_a_persistent_redis_is_not_warned_about(args: tuple[str, ...]) -> None:
    with running_redis(args) as url:
        assert check_store_persistence(url) is None


def test_config_disabled_is_tolerated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xp.service")
    with running_redis(("--rename-command", "CONFIG", "")) as url:
        assert check_store_persistence(url) is None
    assert "cannot check Redis persistence" in caplog.text


def test_an_unreachable_redis_does_not_stop_the_app(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xp.service")
    port = free_port()
    app = make_app(store_url=f"redis://:pw-unreach@127.0.0.1:{port}/0")
    assert app.test_client().get("/healthz").status_code == 200
    assert "cannot check Redis persistence" in caplog.text
    assert "pw-unreach" not in caplog.text


def test_not_redis_is_not_checked() -> None:
    assert check_store_persistence(None) is None
    assert check_store_persistence("sqlite:///x.db") is None


@pytest.mark.slow
def test_a_cluster_is_checked_on_its_primaries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xp.service")
    with running_redis_cluster(masters=2) as cluster:
        warning = check_store_persistence(cluster.url)
        # one primary with AOF is not enough: the other one's slots are lost on its restart
        with redis.Redis.from_url(cluster.nodes[0]) as client:
            client.config_set("appendonly", "yes")
        still = check_store_persistence(cluster.url)
        for node in cluster.nodes:
            with redis.Redis.from_url(node) as client:
                client.config_set("appendonly", "yes")
        fine = check_store_persistence(cluster.url)
    assert warning is not None and "neither AOF" in warning
    assert still is not None
    assert fine is None
