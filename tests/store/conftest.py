"""The contract suite's fixtures: every test taking ``store`` runs on SQLite, on Redis and on a
3-master Redis Cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.experiments import MakeStore, make_definition
from tests.support.redis_server import Cluster, running_redis_cluster
from xp.definitions.model import Definition
from xp.store import Store, open_store


@pytest.fixture
def definitions() -> dict[str, Definition]:
    """``exp`` (every kind), ``other`` (shares the purchase event), ``stopped`` and ``draft``."""
    other = make_definition(
        key="other",
        metrics=[{"name": "buyers", "event": "purchase", "kind": "binomial"}],
        segments=[],
    )
    stopped = make_definition(key="stopped", status="stopped")
    draft = make_definition(key="draft", status="draft")
    return {d.key: d for d in (make_definition(), other, stopped, draft)}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def redis_clusters(redis_url: str) -> Iterator[list[Cluster]]:
    """Two 3-master Redis Clusters (tests compare two stores); needs what redis_url needs."""
    with running_redis_cluster() as first, running_redis_cluster() as second:
        yield [first, second]


@pytest.fixture
def make_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Fresh, empty stores of the backend under test (Redis: one database number each)."""
    stores: list[Store] = []
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    clusters = request.getfixturevalue("redis_clusters") if backend == "cluster" else []

    def make() -> Store:
        if backend == "sqlite":
            store = open_store(f"sqlite:///{tmp_path}/store-{len(stores)}.sqlite3", tmp_path)
        elif backend == "cluster":
            cluster = clusters[len(stores)]
            cluster.flush()
            store = open_store(cluster.url, tmp_path)
        else:
            url = redis_url.rsplit("/", 1)[0] + f"/{len(stores)}"
            with redis.Redis.from_url(url) as client:
                client.flushdb()
            store = open_store(url, tmp_path)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


@pytest.fixture
def make_store_pair(make_store: MakeStore) -> list[Store]:
    """Two fresh, empty stores of the backend under test."""
    return [make_store(), make_store()]
