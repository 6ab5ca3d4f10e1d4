"""What only a Redis Cluster shows: experiments spread over the masters, a slot that moves
to another master while events arrive costs nothing (MOVED calls are sent again, once), a
dead first seed node does not matter, and failovers are waited out: a master killed under
load with ``WAIT`` loses and doubles nothing, a frozen master is left once its replica is
promoted, and an outage longer than the failover timeout is a ``StoreError``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from redis.crc import key_slot

from tests.support.experiments import make_definition
from tests.support.redis_process import (
    RedisProcess,
    cluster_url,
    cluster_with_replicas,
    master_of,
)
from tests.support.redis_server import Cluster, free_port
from xp.definitions.model import Definition
from xp.events.model import Conversion, Exposure
from xp.settings import RedisSettings
from xp.store import StoreError, open_store
from xp.store.redis import keys as key_names
from xp.store.redis.store import RedisStore

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


class Migration:
    """One slot moving from ``source`` to ``target`` by hand, as redis-cli --cluster reshard
    does it: mark both ends, move the keys, then tell every node the new owner."""

    def __init__(self, cluster: Cluster, slot: int, source: str, target: str) -> None:
        self.cluster, self.slot = cluster, slot
        self.src, self.dst = redis.Redis.from_url(source), redis.Redis.from_url(target)
        self.dst_id = self.dst.execute_command("CLUSTER", "MYID").decode()
        src_id = self.src.execute_command("CLUSTER", "MYID").decode()
        host, port = target.split("//")[1].split("/")[0].split(":")
        self.target = (host, int(port))
        self.dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        self.src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", self.dst_id)

    def move_keys(self, limit: int | None = None) -> None:
        moved = 0
        while names := self.src.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, 10):
            if limit is not None and moved >= limit:
                return
            names = names[: (limit - moved) if limit is not None else None]
            self.src.execute_command("MIGRATE", *self.target, "", 0, 5000, "KEYS", *names)
            moved += len(names)

    def finish(self) -> None:
        self.move_keys()
        for node in self.cluster.nodes:
            with redis.Redis.from_url(node) as client:
                client.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.dst_id)
        self.src.close()
        self.dst.close()


def move_slot(cluster: Cluster, slot: int, source: str, target: str) -> None:
    Migration(cluster, slot, source, target).finish()


def start_moving(cluster: Cluster, experiment: str) -> Migration:
    key = key_names.stats(experiment)
    source = node_of(cluster, key)
    target = next(n for n in cluster.nodes if n != source)
    return Migration(cluster, key_slot(key.encode()), source, target)


def test_events_during_a_migration_wait_for_it_and_count_once(
    cluster: Cluster, store: RedisStore
) -> None:
    definition = make_definition(key="migrating")
    definitions = {"migrating": definition}
    store.ingest(events("migrating", range(0, 40)), definitions, NOW)
    migration = start_moving(cluster, "migrating")
    # Every key is on the target but the slot is still the source's: the source answers ASK,
    # and the target answers TRYAGAIN for scripts whose keys do not all exist yet, until the
    # migration ends; then MOVED. The store follows each answer.
    migration.move_keys()
    finisher = threading.Timer(0.3, migration.finish)
    finisher.start()
    try:
        outcomes = store.ingest(events("migrating", range(30, 60)), definitions, NOW)
    finally:
        finisher.join()
    statuses = [o.status for o in outcomes]
    assert statuses.count("accepted") == 40 and statuses.count("duplicate") == 20
    data = store.experiment_stats(definition)
    assert data.units == {"control": 30, "treatment": 30}
    assert data.stats("revenue", "control").sum == 45.0


def test_a_slot_half_moved_is_waited_for(cluster: Cluster, store: RedisStore) -> None:
    definition = make_definition(key="half")
    definitions = {"half": definition}
    store.ingest(events("half", range(0, 40)), definitions, NOW)
    migration = start_moving(cluster, "half")
    migration.move_keys(limit=3)  # an experiment's keys on two nodes: TRYAGAIN
    finisher = threading.Timer(0.2, migration.finish)
    finisher.start()
    try:
        outcomes = store.ingest(events("half", range(40, 60)), definitions, NOW)
    finally:
        finisher.join()
    assert {o.status for o in outcomes} == {"accepted"}
    data = store.experiment_stats(definition)
    assert data.units == {"control": 30, "treatment": 30}


def test_a_reader_follows_a_moved_slot(cluster: Cluster, store: RedisStore) -> None:
    definition = make_definition(key="read-moved")
    definitions = {"read-moved": definition}
    store.ingest(events("read-moved", range(0, 20)), definitions, NOW)
    assert store.experiment_stats(definition).units == {"control": 10, "treatment": 10}
    start_moving(cluster, "read-moved").finish()
    # no write in between: only a read can find out the slot moved
    assert store.experiment_stats(definition).units == {"control": 10, "treatment": 10}
    assert len(list(store.iter_units(definition))) == 20
    assert store.erase_unit("read-moved-u0", definitions) == 1


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


def test_a_process_whose_first_seed_is_dead_still_starts_and_works(cluster: Cluster) -> None:
    dead = free_port()  # nothing listens there
    live = cluster.url.removeprefix("redis+cluster://")
    store = open_store(f"redis+cluster://127.0.0.1:{dead},{live}/", "unused")
    try:
        definitions = {"seeded": make_definition(key="seeded")}
        assert {o.status for o in store.ingest(events("seeded", range(10)), definitions, NOW)} == {
            "accepted"
        }
        assert store.experiment_stats(definitions["seeded"]).units == {
            "control": 5,
            "treatment": 5,
        }
    finally:
        store.close()


# -- failovers on a 3 + 3 cluster (masters and one replica each, node timeout 1 s) -------------

NODE_TIMEOUT_MS = 1000
FAILOVER = RedisSettings(socket_timeout=0.5, connect_timeout=0.5, failover_timeout=20.0)


@pytest.fixture
def replicated(redis_url: str) -> Iterator[tuple[list[RedisProcess], list[RedisProcess]]]:
    with cluster_with_replicas(masters=3, node_timeout_ms=NODE_TIMEOUT_MS) as nodes:
        yield nodes


def slot_of(experiment: str) -> int:
    return int(key_slot(key_names.stats(experiment).encode()))


def batches(keys: list[str], count: int, size: int) -> list[list[Exposure | Conversion]]:
    """``count`` batches over ``keys``, each event id and unit new: totals are known exactly."""
    out = []
    for b in range(count):
        batch: list[Exposure | Conversion] = []
        for key in keys:
            batch += events(key, range(b * size, (b + 1) * size))
        out.append(batch)
    return out


def send_until_acknowledged(
    store: RedisStore, batch: list[Exposure | Conversion], definitions: dict[str, Definition]
) -> int:
    """What a client does: send again after a 503 until the batch is acknowledged; how many
    attempts failed."""
    failures = 0
    deadline = time.monotonic() + 60
    while True:
        try:
            store.ingest(batch, definitions, NOW)
            return failures
        except StoreError:
            failures += 1
            assert time.monotonic() < deadline, "the cluster never acknowledged the batch"
            time.sleep(0.1)


@pytest.mark.slow
def test_a_master_killed_under_load_with_wait_loses_and_doubles_nothing(
    replicated: tuple[list[RedisProcess], list[RedisProcess]],
) -> None:
    masters, replicas = replicated
    nodes = [*masters, *replicas]
    keys = [f"load-{i}" for i in range(6)]
    definitions = {key: make_definition(key=key) for key in keys}
    victim = master_of(nodes, slot_of(keys[0]))
    settings = RedisSettings(**{**FAILOVER.__dict__, "wait_replicas": 1, "wait_timeout": 0.5})
    store = open_store(cluster_url(nodes), "unused", settings)
    assert isinstance(store, RedisStore)
    plan = batches(keys, count=60, size=10)
    failures: list[int] = []

    def load() -> None:
        for batch in plan:
            failures.append(send_until_acknowledged(store, batch, definitions))
            time.sleep(0.05)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        time.sleep(0.8)
        victim.kill()  # kill -9 of a master while batches are being written
        assert loader.is_alive()
        promoted = time.monotonic() + 15
        while master_of(nodes, slot_of(keys[0])) is victim:
            assert time.monotonic() < promoted, "the replica was not promoted"
            time.sleep(0.1)
        victim.start()  # back as a replica of the promoted node: WAIT 1 can succeed again
    finally:
        loader.join()
    try:
        assert len(failures) == len(plan)
        for key in keys:
            data = store.experiment_stats(definitions[key])
            assert data.units == {"control": 300, "treatment": 300}, key
            assert data.stats("revenue", "control").sum == 450.0, key
            assert data.stats("revenue", "treatment").sum == 450.0, key
        replay = store.ingest(plan[0], definitions, NOW)
        assert {o.status for o in replay} == {"duplicate"}
        acks = key_names.acks(key_names.stats(keys[0]))  # WAIT ran after every pipeline
        written = store._router.read(lambda: store._nodes.for_key(acks).get(acks))
        assert int(str(written or 0)) > 0
    finally:
        store.close()


@pytest.mark.slow
def test_a_frozen_master_is_waited_for_only_until_its_replica_is_promoted(
    replicated: tuple[list[RedisProcess], list[RedisProcess]],
) -> None:
    masters, replicas = replicated
    nodes = [*masters, *replicas]
    definitions = {"frozen": make_definition(key="frozen")}
    store = open_store(cluster_url(nodes), "unused", FAILOVER)
    assert isinstance(store, RedisStore)
    # The first batch is acknowledged only once the replica holds it (WAIT 1): replication is
    # asynchronous, and a master frozen a moment after an unreplicated write would lose it in
    # the failover, so the second batch would find no duplicates (seen in CI).
    durable = RedisSettings(**{**FAILOVER.__dict__, "wait_replicas": 1, "wait_timeout": 5.0})
    first = open_store(cluster_url(nodes), "unused", durable)
    try:
        first.ingest(events("frozen", range(0, 20)), definitions, NOW)
    finally:
        first.close()
    try:
        victim = master_of(nodes, slot_of("frozen"))
        victim.freeze()
        try:
            started = time.monotonic()
            outcomes = store.ingest(events("frozen", range(10, 40)), definitions, NOW)
            took = time.monotonic() - started
            assert master_of(nodes, slot_of("frozen")) is not victim
        finally:
            victim.thaw()  # it learns it lost its slots and becomes a replica
        # The failure detection (node timeout), the election, one socket timeout on the frozen
        # node and the pauses; far less than XP_REDIS_FAILOVER_TIMEOUT (20 s) or a hang.
        assert took < NODE_TIMEOUT_MS / 1000 * 2 + 6
        statuses = [o.status for o in outcomes]
        assert statuses.count("duplicate") == 20 and statuses.count("accepted") == 40
        data = store.experiment_stats(definitions["frozen"])
        assert data.units == {"control": 20, "treatment": 20}
        assert data.stats("revenue", "control").sum == 30.0
    finally:
        store.close()


def test_an_unreachable_cluster_is_a_store_error_once_the_failover_timeout_is_spent(
    cluster: Cluster,
) -> None:
    settings = RedisSettings(socket_timeout=0.3, connect_timeout=0.3, failover_timeout=1.0)
    store = open_store(cluster.url, "unused", settings)
    definitions = {"gone": make_definition(key="gone")}
    store.ingest(events("gone", range(2)), definitions, NOW)
    try:
        # Every master stops answering for 3 s (CLIENT PAUSE): a cluster-wide outage longer
        # than the 1 s failover timeout.
        for node in cluster.nodes:
            with redis.Redis.from_url(node) as client:
                client.execute_command("CLIENT", "PAUSE", 3000, "ALL")
        started = time.monotonic()
        with pytest.raises(StoreError, match="after waiting"):
            store.ingest(events("gone", range(2, 4)), definitions, NOW)
        assert 1.0 <= time.monotonic() - started < 3.0
    finally:
        for node in cluster.nodes:
            with redis.Redis.from_url(node) as client:
                client.execute_command("CLIENT", "UNPAUSE")
        store.close()
