"""What only a Redis Cluster shows: experiments spread over the masters, and a slot that moves
to another master while events arrive costs nothing (MOVED calls are sent again, once)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from redis.crc import key_slot
from redis_server import Cluster
from store.experiments import make_definition

from service.definitions.model import Definition
from service.events import Conversion, Exposure
from service.store import keys as key_names
from service.store import open_store
from service.store.redis_store import RedisStore

pytestmark = pytest.mark.redis

NOW = time.time()


@pytest.fixture
def cluster(redis_clusters: list[Cluster]) -> Cluster:
    redis_clusters[0].flush()
    return redis_clusters[0]


@pytest.fixture
def store(cluster: Cluster) -> Iterator[RedisStore]:
    opened = open_store(cluster.url, "unused")
    assert isinstance(opened, RedisStore)
    yield opened
    opened.close()


def events(key: str, units: range) -> list[Exposure | Conversion]:
    out: list[Exposure | Conversion] = []
    for i in units:
        variant = "control" if i % 2 else "treatment"
        unit = f"{key}-u{i}"  # a purchase counts in every experiment its unit is in
        out.append(Exposure.create(key, unit, variant, NOW - 600))
        out.append(Conversion("purchase", unit, 1.5, NOW - 60, f"{key}-p{i}"))
    return out


def node_of(cluster: Cluster, key: str) -> str:
    slot = key_slot(key.encode())
    for node in cluster.nodes:
        with redis.Redis.from_url(node) as client:
            if client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) > 0:
                return node
    raise AssertionError(f"no node holds {key}")


def test_experiments_spread_over_every_master(cluster: Cluster, store: RedisStore) -> None:
    definitions: dict[str, Definition] = {
        f"spread-{i}": make_definition(key=f"spread-{i}") for i in range(12)
    }
    batch = [e for key in definitions for e in events(key, range(20))]
    assert {o.status for o in store.ingest(batch, definitions, NOW)} == {"accepted"}
    homes = {node_of(cluster, key_names.stats(key)) for key in definitions}
    assert homes == set(cluster.nodes)
    for definition in definitions.values():
        data = store.experiment_stats(definition)
        assert data.units == {"control": 10, "treatment": 10}
        assert data.stats("revenue", "control").sum == 15.0


def move_slot(cluster: Cluster, slot: int, source: str, target: str) -> None:
    """Reshard one slot by hand, as redis-cli --cluster reshard does."""
    src, dst = redis.Redis.from_url(source), redis.Redis.from_url(target)
    src_id = src.execute_command("CLUSTER", "MYID").decode()
    dst_id = dst.execute_command("CLUSTER", "MYID").decode()
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    host, port = target.split("//")[1].split("/")[0].split(":")
    while names := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        src.execute_command("MIGRATE", host, int(port), "", 0, 5000, "KEYS", *names)
    for node in cluster.nodes:
        with redis.Redis.from_url(node) as client:
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    src.close()
    dst.close()


def test_a_slot_moved_between_batches_loses_and_doubles_nothing(
    cluster: Cluster, store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = make_definition(key="moving")
    definitions = {"moving": definition}
    assert {o.status for o in store.ingest(events("moving", range(0, 40)), definitions, NOW)} == {
        "accepted"
    }
    key = key_names.stats("moving")
    source = node_of(cluster, key)
    target = next(n for n in cluster.nodes if n != source)
    move_slot(cluster, key_slot(key.encode()), source, target)
    assert node_of(cluster, key) == target

    # The store still routes "moving" to the old master: its calls come back MOVED.
    refreshes = []
    refresh = store._nodes.refresh
    monkeypatch.setattr(store._nodes, "refresh", lambda: (refreshes.append(1), refresh()))
    outcomes = store.ingest(events("moving", range(40, 80)), definitions, NOW)
    assert {o.status for o in outcomes} == {"accepted"}
    assert refreshes == [1]  # one MOVED round, then the fresh slot map was right
    replay = store.ingest(events("moving", range(0, 80)), definitions, NOW)
    assert {o.status for o in replay} == {"duplicate"}
    data = store.experiment_stats(definition)
    assert data.units == {"control": 40, "treatment": 40}
    assert data.stats("revenue", "treatment").sum == 60.0
    assert len(list(store.iter_units(definition))) == 80
