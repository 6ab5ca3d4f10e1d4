"""Fingerprints in the store (every backend), and phases kept apart through ``ingest_events``."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.experiments import MakeStore, make_definition
from xp.definitions.fingerprint import canonical_json, fingerprint
from xp.definitions.model import Definition
from xp.definitions.phases import split_store_key, store_definitions, store_key
from xp.events.model import Conversion, Exposure
from xp.ingest import ingest_events
from xp.store import Store
from xp.store.redis.store import RedisStore
from xp.store.sqlite.store import SqliteStore

NOW = time.time()


def test_the_first_fingerprint_wins_and_only_its_definition_is_kept(store: Store) -> None:
    assert store.recorded_definitions() == {}
    assert store.claim_fingerprint("exp", "sha256:a", '{"v":1}') == "sha256:a"
    assert store.claim_fingerprint("exp", "sha256:b", '{"v":2}') == "sha256:a"
    assert store.claim_fingerprint("exp", "sha256:a", '{"v":3}') == "sha256:a"
    assert store.claim_fingerprint("exp@2", "sha256:b", '{"v":4}') == "sha256:b"
    recorded = store.recorded_definitions()
    assert sorted(recorded) == ["exp", "exp@2"]
    assert (recorded["exp"].fingerprint, recorded["exp"].definition) == ("sha256:a", '{"v":3}')
    assert recorded["exp@2"].definition == '{"v":4}'


def test_a_huge_definition_round_trips(store: Store) -> None:
    text = canonical_json({"description": "é" * 200_000, "n": 1e308})
    store.claim_fingerprint("big", "sha256:x", text)
    assert store.recorded_definitions()["big"].definition == text


def test_fingerprints_survive_reopening(make_store: MakeStore) -> None:
    store = make_store()
    store.claim_fingerprint("exp", "sha256:a", "{}")
    store.close()  # the store reconnects on next use, like a restarted process
    assert store.recorded_definitions()["exp"].fingerprint == "sha256:a"


def test_store_ids_of_phases() -> None:
    assert store_key("exp", 1) == "exp" and store_key("exp", 12) == "exp@12"
    assert split_store_key("exp@12") == ("exp", 12)
    assert split_store_key("exp") == ("exp", 1)
    assert split_store_key("exp@x") == ("exp@x", 1)  # not a phase: left whole
    one = {"exp": make_definition()}
    assert store_definitions(one) is one  # phase 1 everywhere: the same object, no copy
    two = {"exp": make_definition(phase=2)}
    assert store_definitions(two) is store_definitions(two)  # one event index per snapshot
    assert list(store_definitions(two)) == ["exp@2"]


def phase(n: int) -> dict[str, Definition]:
    return {"exp": make_definition(phase=n)}


def test_each_phase_has_its_own_statistics_and_fingerprint(store: Store) -> None:
    for n in (1, 2):
        events = [Exposure.create("exp", f"u{i}", "control", NOW - 60) for i in range(3 * n)] + [
            Conversion("purchase", "u0", 1.0, NOW - 30, f"c-{n}")
        ]
        outcomes = ingest_events(store, events, phase(n), NOW)
        assert {o.status for o in outcomes} == {"accepted"}
    one = store.experiment_stats(make_definition())
    two = store.experiment_stats(store_definitions(phase(2))["exp@2"])
    assert (one.units["control"], two.units["control"]) == (3, 6)
    recorded = store.recorded_definitions()
    assert recorded["exp"].fingerprint == fingerprint(make_definition().experiment)
    assert recorded["exp@2"].fingerprint == fingerprint(make_definition(phase=2).experiment)


def test_erasure_reaches_every_phase_and_forgets_the_default_exposure_id(store: Store) -> None:
    for n in (1, 2):
        ingest_events(store, [Exposure.create("exp", "gone", "control", NOW - 60)], phase(n), NOW)
    assert store.erase_unit("gone", phase(2)) == 2
    again = ingest_events(store, [Exposure.create("exp", "gone", "control", NOW)], phase(2), NOW)
    assert [o.status for o in again] == ["accepted"]  # not a duplicate of the erased exposure


def test_rejections_and_conversions_claim_nothing(store: Store) -> None:
    bad = Exposure.create("exp", "u", "no-such-variant", NOW)
    ingest_events(store, [bad, Conversion("purchase", "u", 1.0, NOW, "c")], phase(1), NOW)
    assert store.recorded_definitions() == {}


def test_a_conflicting_fingerprint_is_reported_not_overwritten(store: Store) -> None:
    store.claim_fingerprint("exp", "sha256:another-process", "{}")
    conflicts: list[str] = []
    ingest_events(
        store, [Exposure.create("exp", "u", "control", NOW)], phase(1), NOW, conflicts.append
    )
    assert conflicts == ["exp"]
    assert store.recorded_definitions()["exp"].fingerprint == "sha256:another-process"


def claims(store: Store) -> int:
    """How many times the backend was asked to claim (read from the backend itself)."""
    if isinstance(store, SqliteStore):
        conn = store._conn()
        (updated,) = conn.execute("SELECT updated_at FROM fingerprints").fetchone()
        return int(updated * 1000)  # changes at every claim that reached SQLite
    assert isinstance(store, RedisStore)
    client: redis.Redis = store.client
    stats = client.info("commandstats").get("cmdstat_hsetnx", {"calls": 0})
    return int(stats["calls"])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_the_fingerprint_costs_one_claim_per_process_not_one_per_exposure(store: Store) -> None:
    definitions = phase(1)
    ingest_events(store, [Exposure.create("exp", "first", "control", NOW)], definitions, NOW)
    before = claims(store)
    time.sleep(0.01)
    for batch in range(20):
        events = [Exposure.create("exp", f"u{batch}-{i}", "control", NOW) for i in range(10)]
        ingest_events(store, events, definitions, NOW)
    assert claims(store) == before
    ramped = {"exp": make_definition(coverage=0.5)}  # a new definition: its text is recorded
    ingest_events(store, [Exposure.create("exp", "late", "control", NOW)], ramped, NOW)
    assert claims(store) != before
    assert '"coverage":0.5' in store.recorded_definitions()["exp"].definition
