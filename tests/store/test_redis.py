"""What only the Redis backend promises: one cluster slot per call, scripts that come back."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import redis
from redis.crc import key_slot

from tests.support.experiments import make_definition
from xp.attribution.ops import ConversionOp, EventIndex, ExposureOp, plan_events
from xp.definitions.model import Definition
from xp.events.model import Conversion, Exposure
from xp.store import StoreError, open_store
from xp.store.model import UnitLayout
from xp.store.redis import keys as key_names
from xp.store.redis.codec import erase_call, ingest_calls
from xp.store.redis.store import RedisStore, hgetall_commands, hgetall_many

pytestmark = pytest.mark.redis

NOW = time.time()


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    store = open_store(redis_url, "unused")
    assert isinstance(store, RedisStore)
    store.client.flushdb()
    yield store
    store.close()


@pytest.fixture
def definitions() -> dict[str, Definition]:
    return {d.key: d for d in (make_definition(), make_definition(key="exp-2"))}


def sample_events() -> list[Exposure | Conversion]:
    events: list[Exposure | Conversion] = []
    for i in range(200):
        unit = f"unit-{i}"
        for key in ("exp", "exp-2"):
            events.append(
                Exposure.create(
                    key,
                    unit,
                    "treatment",
                    NOW - 100,
                    {"country": f"c{i % 7}", "device": "ios"},
                    {"revenue": float(i), "clicks_per_search": 1.0},
                    event_id=f"x-{i}",
                )
            )
        for event in ("purchase", "visit", "click", "search"):
            events.append(Conversion(event, unit, 2.0, NOW - 50, f"{event}-{i}"))
    return events


def test_every_call_touches_one_slot_the_experiments(definitions: dict[str, Definition]) -> None:
    planned = plan_events(sample_events(), EventIndex(definitions), NOW)
    ops = [op for p in planned for op in p.ops]
    calls = [(ops[indices[0]].experiment, call) for call, indices in ingest_calls(ops, NOW)]
    calls += [(e, erase_call(e, f"unit-{i}")) for e in definitions for i in range(50)]

    assert {type(op) for op in ops} == {ExposureOp, ConversionOp}
    assert {name for _, (name, _, _) in calls} == {"ingest", "erase"}
    for experiment, (_name, keys, _args) in calls:
        slot = key_slot(key_names.tag(experiment).encode())
        assert {key_slot(k.encode()) for k in keys} == {slot}
    assert key_slot(b"{exp}") != key_slot(b"{exp-2}")  # so the check above tells them apart


def test_every_stored_key_carries_its_experiments_hash_tag(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    redis_store.ingest(sample_events(), definitions, NOW)

    stored = [k for k in redis_store.client.scan_iter(count=1000) if k != key_names.EXPERIMENTS]

    assert len(stored) > 100
    for key in stored:
        assert re.match(r"^xp:\{(exp|exp-2)\}:", key), key


def test_scripts_are_reloaded_after_the_server_forgets_them(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    exposure = Exposure.create("exp", "u", "control", NOW - 10)
    assert [o.status for o in redis_store.ingest([exposure], definitions, NOW)] == ["accepted"]

    redis_store.client.script_flush()
    conversion = Conversion("purchase", "u", 3.0, NOW - 5, "c1")
    outcomes = redis_store.ingest([conversion, conversion], definitions, NOW)
    redis_store.client.script_flush()
    assert redis_store.erase_unit("nobody", definitions) == 0

    assert [o.status for o in outcomes] == ["accepted", "duplicate"]
    assert redis_store.experiment_stats(definitions["exp"]).stats("revenue", "control").sum == 3.0


def test_unit_buckets_stay_compact(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    redis_store.ingest(sample_events(), definitions, NOW)

    buckets = list(redis_store.client.scan_iter(match="xp:{exp}:u:*", count=1000))

    assert buckets
    assert {redis_store.client.object("encoding", k) for k in buckets} == {"listpack"}


def test_driver_errors_become_store_errors(definitions: dict[str, Definition]) -> None:
    from tests.support.redis_server import free_port

    store = open_store(f"redis://127.0.0.1:{free_port()}/0", "unused")

    with pytest.raises(StoreError) as caught:
        store.ingest([Exposure.create("exp", "u", "control", NOW)], definitions, NOW)
    assert isinstance(caught.value.__cause__, redis.RedisError)
    with pytest.raises(StoreError):
        store.ping()
    store.close()


def test_held_conversions_leave_nothing_behind_once_matched_or_expired(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    client = redis_store.client
    held, queue = key_names.held("exp"), key_names.hold_queue("exp")
    conversions = [Conversion("purchase", f"h{i}", 1.0, NOW - 50, f"h-{i}") for i in range(20)]
    redis_store.ingest(conversions, definitions, NOW)
    assert (client.hlen(held), client.zcard(queue)) == (20, 20)

    redis_store.ingest(
        [Exposure.create("exp", f"h{i}", "control", NOW - 100) for i in range(10)], definitions, NOW
    )
    assert (client.hlen(held), client.zcard(queue)) == (10, 10)
    # a day later each write settles up to 8 expired units; two writes settle the other 10
    for i in range(2):
        redis_store.ingest(
            [Exposure.create("exp", f"late{i}", "control", NOW)], definitions, NOW + 86_400
        )
    assert (client.hlen(held), client.zcard(queue)) == (0, 0)
    diagnostics = redis_store.experiment_stats(definitions["exp"]).diagnostics
    assert (diagnostics["held"], diagnostics["not_exposed"]) == (0, 10)


def test_one_snapshot_field_per_day_with_writes(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    day = 86_400
    for d in range(5):
        at = NOW - (5 - d) * day
        redis_store.ingest([Exposure.create("exp", f"u{d}", "control", at)], definitions, at)

    looks = redis_store.client.hgetall(key_names.looks("exp"))

    assert len(looks) == 1 + 4  # the latest write day, and the 4 days before it
    assert looks["day"] == str(int((NOW - day) // day))
    # each snapshot is the all hash as it stood: one more unit per day
    assert [v for k, v in sorted(looks.items()) if k != "day"] == [
        f"a:0:n={n}" for n in range(1, 5)
    ]


def command_calls(client: redis.Redis) -> dict[str, int]:
    """Commands run so far on the server (scripts' own included), by name."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}


def test_a_batch_writes_each_statistics_field_once_per_call(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    events = sample_events()[:300]  # 250 (event, experiment) ops per experiment: one call each
    client = redis_store.client
    redis_store.ingest(events[:1], definitions, NOW)  # scripts loaded, experiments registered
    client.flushdb()
    before = command_calls(client)

    redis_store.ingest(events, definitions, NOW)

    after = command_calls(client)
    ran = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    ops = [op for p in plan_events(events, EventIndex(definitions), NOW) for op in p.ops]
    assert len(ingest_calls(ops, NOW)) == ran["evalsha"] == 2
    # On an empty store every field of the statistics and diagnostics hashes was written by
    # exactly one HINCRBY or HINCRBYFLOAT; the names hash's counter by one per name.
    fields = 0
    for e in definitions:
        for key in (key_names.stats(e), key_names.overall(e), key_names.diagnostics(e)):
            fields += client.hlen(key)
        fields += client.hlen(key_names.names(e)) - 1
    assert ran.get("hincrbyfloat", 0) + ran.get("hincrby", 0) == fields
    assert fields < len(ops)  # per event it was several per op


# Doubles whose shortest text has 16-17 digits, tiny and large magnitudes: the script gets them
# as JSON numbers (orjson's text, cjson's strtod) and keeps them as its own text.
AWKWARD = [0.1 + 0.2, 1 / 3, 2 / 3 * 1e-300, 123456.78901234567, 5e-324, 9.007199254740993e15]


def test_numbers_reach_the_script_exactly(
    redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    # Unit a is exposed first; unit b's purchases wait (held) for its exposure, a later batch.
    ts_a, ts_b = NOW - 1000 + 1 / 3, NOW - 900 + 0.1 + 0.2
    first: list[Exposure | Conversion] = [
        Exposure.create("exp", "a", "control", ts_a, {"country": "c1"}, {"revenue": 1 / 7})
    ]
    first += [
        Conversion("purchase", "a", v, ts_a + 10 + i, f"a-{i}") for i, v in enumerate(AWKWARD)
    ]
    first += [
        Conversion("purchase", "b", v, ts_b + 10 + i, f"b-{i}") for i, v in enumerate(AWKWARD)
    ]
    redis_store.ingest(first, definitions, NOW)
    later = [Exposure.create("exp", "b", "treatment", ts_b, {"country": "c2"}, {"revenue": 1e-9})]
    redis_store.ingest(later, definitions, NOW + 1)

    expected = 0.0
    for value in AWKWARD:  # the order the script adds them in
        expected += value
    units = {u.unit_id: u for u in redis_store.iter_unit_values(definitions["exp"])}
    layout_index = UnitLayout.of(definitions["exp"]).slots["revenue"][0]
    assert units["a"].first_exposure == first[0].ts and units["b"].first_exposure == later[0].ts
    assert units["a"].totals[layout_index] == expected == units["b"].totals[layout_index]
    stats = redis_store.experiment_stats(definitions["exp"])
    revenue = {v: stats.stats("revenue", v) for v in ("control", "treatment")}
    squares = total = 0.0
    for value in AWKWARD:  # each event's increment, as lua/attribute.lua adds them
        squares += 2 * total * value + value * value
        total += value
    for variant, x in (("control", 1 / 7), ("treatment", 1e-9)):
        assert revenue[variant].sum == expected
        assert revenue[variant].sum_squares == squares
        assert revenue[variant].sum_x == x


def test_hgetall_commands_are_what_redis_py_packs() -> None:
    conn = redis.Connection(encoding="utf-8")
    names = ["xp:{exp}:u:0", "xp:{é\r\n x}:u:4095", ""]
    packed = conn.pack_commands([("HGETALL", name) for name in names])
    assert hgetall_commands(conn.encoder.encode, names) == b"".join(packed)


def test_hgetall_many_reads_the_hashes_raises_an_error_reply_and_drops_the_connection(
    redis_store: RedisStore,
) -> None:
    client = redis_store.client
    client.hset("h1", mapping={"a": "1", "b": "2"})
    client.hset("h2", mapping={"c": "3"})
    assert hgetall_many(client, ["h1", "missing", "h2"]) == (["a", "b", "c"], ["1", "2", "3"])
    client.set("plain", "x")
    with pytest.raises(redis.ResponseError):
        hgetall_many(client, ["h1", "plain", "h2"])
    assert hgetall_many(client, ["h2"]) == (["c"], ["3"])  # no reply of the failed one left
    assert client.ping()


def test_units_read_the_same_over_resp3(
    redis_url: str, redis_store: RedisStore, definitions: dict[str, Definition]
) -> None:
    redis_store.ingest(sample_events(), definitions, NOW)
    resp3 = open_store(f"{redis_url}?protocol=3", "unused")
    try:
        definition = definitions["exp"]
        assert list(resp3.iter_unit_values(definition)) == list(
            redis_store.iter_unit_values(definition)
        )
    finally:
        resp3.close()
