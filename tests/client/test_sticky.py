"""Sticky assignment in the SDK: weights move from 50/50 to 90/10 and no assigned unit moves.

Each shipped store is run: the in-memory LRU and Redis (a real redis-server).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant
from xp_client.sticky import (
    STICKY,
    MemorySticky,
    RedisSticky,
    StickyStore,
    apply_sticky,
    sticky_key,
)

UNITS = [f"u-{i}" for i in range(2000)]


def config(weights: tuple[float, float], **changes: Any) -> dict[str, Any]:
    experiment = {
        "key": "exp",
        "variants": [
            {"key": "control", "weight": weights[0]},
            {"key": "treatment", "weight": weights[1], "payload": {"color": "green"}},
        ],
        **changes,
    }
    return {"experiments": [experiment]}


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> StickyStore:
    if request.param == "memory":
        return MemorySticky(maxsize=10_000)
    return RedisSticky(request.getfixturevalue("redis_client"))


def variants(client: Client) -> dict[str, str]:
    return {u: client.get_variant("exp", u).key for u in UNITS}


def test_weight_change_moves_no_assigned_unit(store: StickyStore) -> None:
    before = variants(Client.offline(config((0.5, 0.5)), sticky=store))
    assert 0.45 < sum(v == "treatment" for v in before.values()) / len(UNITS) < 0.55
    after_client = Client.offline(config((0.9, 0.1)), sticky=store)
    after = variants(after_client)
    assert after == before
    # Without the store, the same change moves the units between the two boundaries (~40%).
    plain = variants(Client.offline(config((0.9, 0.1))))
    moved = sum(plain[u] != before[u] for u in UNITS) / len(UNITS)
    assert 0.35 < moved < 0.45
    # A moved unit is served its remembered variant with reason "sticky" and its payload.
    unit = next(u for u in UNITS if plain[u] != before[u] and before[u] == "treatment")
    answer = after_client.get_variant("exp", unit)
    assert (answer.key, answer.in_experiment, answer.reason) == ("treatment", True, STICKY)
    assert answer.payload == {"color": "green"}
    # New units follow the new weights.
    new_units = [f"new-{i}" for i in range(2000)]
    share = sum(after_client.get_variant("exp", u).key == "treatment" for u in new_units) / 2000
    assert 0.07 < share < 0.13


def test_a_new_phase_starts_afresh(store: StickyStore) -> None:
    before = variants(Client.offline(config((0.5, 0.5)), sticky=store))
    phase2 = variants(Client.offline(config((0.9, 0.1), phase=2), sticky=store))
    plain2 = variants(Client.offline(config((0.9, 0.1), phase=2)))
    assert phase2 == plain2  # phase 2 reads no phase-1 record
    assert phase2 != before
    # ... and is sticky in its own right.
    again = variants(Client.offline(config((0.5, 0.5), phase=2), sticky=store))
    assert again == phase2


def test_removed_variant_falls_back_to_bucketing() -> None:
    store = MemorySticky()
    experiment = Experiment.from_dict(config((0.5, 0.5))["experiments"][0])
    store.set(sticky_key(experiment, "u-1"), "gone")
    expected = assign_variant(experiment, {"user_id": "u-1"})
    got = apply_sticky(experiment, expected, {"user_id": "u-1"}, store)
    assert got == expected
    assert store.get(sticky_key(experiment, "u-1")) == expected.variant  # replaced


def test_status_targeting_and_overrides_decide_before_the_store() -> None:
    store = MemorySticky()
    Client.offline(config((0.5, 0.5)), sticky=store).get_variant("exp", "u-1")
    remembered = store.get("exp@1:u-1")
    assert remembered in ("control", "treatment")
    other = "control" if remembered == "treatment" else "treatment"
    stopped = Client.offline(config((0.5, 0.5), status="stopped"), sticky=store)
    assert stopped.get_variant("exp", "u-1").reason == "stopped"
    targeted = config((0.5, 0.5), targeting={"country": "US"})
    client = Client.offline(targeted, sticky=store)
    assert client.get_variant("exp", "u-1", {"country": "FR"}).reason == "not_targeted"
    assert client.get_variant("exp", "u-1", {"country": "US"}).key == remembered
    overridden = Client.offline(config((0.5, 0.5), overrides={"u-1": other}), sticky=store)
    assert overridden.get_variant("exp", "u-1").key == other
    client.override("exp", "u-1", other)
    assert client.get_variant("exp", "u-1", {"country": "US"}).key == other
    assert store.get("exp@1:u-1") == remembered  # none of these rewrote the record


def test_coverage_ramp_down_keeps_assigned_units_in() -> None:
    store = MemorySticky()
    before = variants(Client.offline(config((0.5, 0.5)), sticky=store))
    after = Client.offline(config((0.5, 0.5), coverage=0.1), sticky=store)
    answers = {u: after.get_variant("exp", u) for u in UNITS}
    assert all(a.in_experiment and a.key == before[u] for u, a in answers.items())
    outsider = after.get_variant("exp", "never-seen-before-1")
    plain = Client.offline(config((0.5, 0.5), coverage=0.1)).get_variant(
        "exp", "never-seen-before-1"
    )
    assert outsider == plain


class Broken:
    def get(self, key: str) -> str | None:
        raise ConnectionError("down")

    def set(self, key: str, value: str) -> None:
        raise ConnectionError("down")


def test_a_failing_store_costs_stickiness_not_the_answer(caplog: pytest.LogCaptureFixture) -> None:
    with_broken = variants(Client.offline(config((0.5, 0.5)), sticky=Broken()))
    assert with_broken == variants(Client.offline(config((0.5, 0.5))))
    warnings = [r for r in caplog.records if "sticky store" in r.getMessage()]
    assert len(warnings) == 1  # rate limited, not one per call


def test_redis_sticky_takes_a_ttl_and_prefix(redis_client: redis.Redis) -> None:
    store = RedisSticky(redis_client, prefix="app:", ttl_seconds=60)
    store.set("exp@1:u-1", "treatment")
    assert store.get("exp@1:u-1") == "treatment"
    assert 0 < redis_client.ttl("app:exp@1:u-1") <= 60
    assert store.get("exp@1:nobody") is None
    with pytest.raises(ValueError):
        RedisSticky(redis_client, ttl_seconds=0)


def test_memory_sticky_forgets_the_least_recently_used() -> None:
    store = MemorySticky(maxsize=2)
    store.set("a", "x")
    store.set("b", "y")
    assert store.get("a") == "x"  # a is now the newest
    store.set("c", "z")
    assert (store.get("a"), store.get("b"), store.get("c")) == ("x", None, "z")
    assert len(store) == 2
    with pytest.raises(ValueError):
        MemorySticky(maxsize=0)


def test_remote_mode_refuses_an_sdk_store() -> None:
    with pytest.raises(ValueError, match="XP_STICKY"):
        Client(mode="remote", sticky=MemorySticky())


def test_the_schedule_decides_before_the_store() -> None:
    store = MemorySticky()
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}
    inside, before, after = 1767312000.0, 1764000000.0, 1772000000.0  # Jan 2, Nov 24, Feb 25
    remembered = (
        Client.offline(config((0.5, 0.5), **window), clock=lambda: inside, sticky=store)
        .get_variant("exp", "u-1")
        .key
    )
    assert store.get("exp@1:u-1") == remembered
    for at, reason in ((before, "not_started"), (after, "ended")):
        got = Client.offline(config((0.5, 0.5), **window), clock=lambda at=at: at, sticky=store)
        answer = got.get_variant("exp", "u-1")
        assert (answer.key, answer.in_experiment, answer.reason) == ("control", False, reason)


def test_redis_sticky_records_expire_unless_used(redis_client: redis.Redis) -> None:
    store = RedisSticky(redis_client, ttl_seconds=2)
    store.set("exp@1:used", "treatment")
    store.set("exp@1:idle", "control")
    time.sleep(1.2)
    assert store.get("exp@1:used") == "treatment"  # refreshes it: 2 s from now again
    assert redis_client.ttl("xp:sticky:exp@1:used") == 2
    time.sleep(1.2)
    assert store.get("exp@1:idle") is None  # 2.4 s without use: expired
    assert store.get("exp@1:used") == "treatment"
