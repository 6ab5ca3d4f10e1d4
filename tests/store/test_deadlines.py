"""The Redis client's deadlines: a frozen (SIGSTOP) or killed server is a ``StoreError`` within
the configured socket timeout, whatever redis-py's own defaults; the store recovers when the
server comes back; cluster URLs with several seeds are parsed, and bad ones refused clearly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.experiments import make_definition
from tests.support.redis_process import RedisProcess, redis_process
from tests.support.redis_server import redis_binary
from xp.definitions.model import Definition
from xp.events.model import Exposure
from xp.settings import RedisSettings
from xp.store import StoreError, open_store
from xp.store.redis.store import RedisStore
from xp.store.redis.urls import parse_cluster_url

pytestmark = pytest.mark.redis

TIMEOUT = 0.4  # XP_REDIS_SOCKET_TIMEOUT in these tests
# A frozen server costs one socket timeout (no retry of a timeout), plus scheduling slack.
BOUND = TIMEOUT * 2 + 0.5


@pytest.fixture
def server(redis_url: str) -> Iterator[RedisProcess]:  # redis_url: skip without redis-server
    with redis_process() as started:
        yield started


@pytest.fixture
def store(server: RedisProcess) -> Iterator[RedisStore]:
    settings = RedisSettings(connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    opened = open_store(server.url, "unused", settings)
    assert isinstance(opened, RedisStore)
    yield opened
    opened.close()


def exposures(prefix: str, n: int) -> list[Exposure]:
    return [Exposure.create("exp", f"{prefix}{i}", "control", time.time()) for i in range(n)]


def timed_failure(action: object) -> float:
    assert callable(action)
    started = time.monotonic()
    with pytest.raises(StoreError):
        action()
    return time.monotonic() - started


@pytest.fixture
def definitions() -> dict[str, Definition]:
    return {"exp": make_definition()}


def test_a_frozen_server_is_a_store_error_within_the_socket_timeout(
    server: RedisProcess, store: RedisStore, definitions: dict[str, Definition]
) -> None:
    assert {o.status for o in store.ingest(exposures("a", 5), definitions, time.time())} == {
        "accepted"
    }
    server.freeze()
    try:
        took = timed_failure(lambda: store.ingest(exposures("b", 5), definitions, time.time()))
        assert took < BOUND
        assert timed_failure(store.ping) < BOUND
        assert timed_failure(lambda: store.experiment_stats(definitions["exp"])) < BOUND
    finally:
        server.thaw()
    # back: the timed-out connections were dropped, fresh ones work; nothing was counted twice
    store.ingest(exposures("b", 5), definitions, time.time())
    assert store.experiment_stats(definitions["exp"]).units == {"control": 10, "treatment": 0}


def test_a_killed_server_fails_fast_and_a_restarted_one_has_the_data(
    server: RedisProcess, store: RedisStore, definitions: dict[str, Definition]
) -> None:
    store.ingest(exposures("a", 5), definitions, time.time())
    server.kill()
    assert timed_failure(lambda: store.ingest(exposures("b", 5), definitions, time.time())) < 1
    server.start()  # AOF always: what was acknowledged is back
    outcomes = store.ingest(exposures("a", 7), definitions, time.time())
    assert [o.status for o in outcomes] == ["duplicate"] * 5 + ["accepted"] * 2
    assert store.experiment_stats(definitions["exp"]).units == {"control": 7, "treatment": 0}


def test_a_server_that_never_answers_the_handshake_is_bounded_too(redis_url: str) -> None:
    """A listening socket nobody reads: connect succeeds, the first reply never comes."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        settings = RedisSettings(connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        store = open_store(f"redis://127.0.0.1:{port}/0", "unused", settings)
        try:
            assert timed_failure(store.ping) < BOUND
        finally:
            store.close()


@pytest.mark.parametrize(
    ("url", "seeds", "first"),
    [
        ("redis+cluster://a:7000", (("a", 7000),), "redis://a:7000"),
        (
            "redis+cluster://u:pw@a:7000,b:7001,[::1]:7002/",
            (("a", 7000), ("b", 7001), ("::1", 7002)),
            "redis://u:pw@a:7000/",
        ),
        ("rediss+cluster://a,b:7001/?x=1", (("a", 6379), ("b", 7001)), "rediss://a:6379/?x=1"),
        ("redis+cluster://a:7000?x=1", (("a", 7000),), "redis://a:7000/?x=1"),
    ],
)
def test_cluster_urls_name_several_seeds(
    url: str, seeds: tuple[tuple[str, int], ...], first: str
) -> None:
    parsed = parse_cluster_url(url)
    assert parsed.seeds == seeds and parsed.first == first


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://", "names no seed node"),
        ("redis+cluster://a:1,,b:2/", "empty seed node"),
        ("redis+cluster://a:notaport/", "no valid port"),
        ("redis+cluster://u:secret@a:99999/", "no valid port"),
    ],
)
def test_bad_cluster_urls_are_refused_without_their_password(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        open_store(url, "unused")
    assert "secret" not in str(caught.value)


@pytest.mark.skipif(redis_binary() is None, reason="redis-server is not on PATH")
def test_a_cluster_url_whose_seeds_are_all_down_is_a_store_error() -> None:
    from tests.support.redis_server import free_port

    url = f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/"
    with pytest.raises(StoreError, match="cannot open Redis"):
        open_store(url, "unused", RedisSettings(connect_timeout=0.2, socket_timeout=0.2))


def test_wait_for_a_replica_that_does_not_exist_is_a_store_error_not_an_acknowledgement(
    server: RedisProcess, definitions: dict[str, Definition]
) -> None:
    settings = RedisSettings(socket_timeout=2.0, wait_replicas=1, wait_timeout=0.2)
    store = open_store(server.url, "unused", settings)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="0 of 1 replicas acknowledged within 200 ms"):
            store.ingest(exposures("w", 3), definitions, time.time())
        assert time.monotonic() - started < 1.5
        # The batch ran on the master: sent again, it counts once.
        with pytest.raises(StoreError):
            store.ingest(exposures("w", 3), definitions, time.time())
    finally:
        store.close()
    plain = open_store(server.url, "unused")
    try:
        assert plain.experiment_stats(definitions["exp"]).units == {"control": 3, "treatment": 0}
    finally:
        plain.close()
