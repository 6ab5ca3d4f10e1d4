"""The stores' sticky records (XP_STICKY): read back, replaced, kept per phase, erased.

Runs on SQLite, Redis and a 3-master Redis Cluster (records of many experiments spread over
the slots, so one request's read spans nodes).
"""

from __future__ import annotations

from xp.definitions.model import Definition
from xp.store import Store


def test_records_round_trip_and_are_replaced(store: Store) -> None:
    assert store.sticky_variants([]) == []
    store.remember_variants([])  # nothing to write is not an error
    keys = [(f"exp-{i}@1", f"u-{j}") for i in range(20) for j in range(5)]
    assert store.sticky_variants(keys) == [None] * len(keys)
    store.remember_variants([(e, u, f"v-{e}-{u}") for e, u in keys])
    assert store.sticky_variants(keys) == [f"v-{e}-{u}" for e, u in keys]
    store.remember_variants([("exp-0@1", "u-0", "other")])
    assert store.sticky_variants([("exp-0@1", "u-0"), ("exp-0@1", "u-1")]) == [
        "other",
        "v-exp-0@1-u-1",
    ]


def test_phases_and_units_are_apart(store: Store) -> None:
    store.remember_variants([("exp@1", "u-1", "control")])
    assert store.sticky_variants([("exp@2", "u-1"), ("exp@1", "u-2")]) == [None, None]


def test_hostile_unit_ids(store: Store) -> None:
    units = ["a:b:c", "{exp}", "é\u2028x", "x" * 256, "0"]
    store.remember_variants([("exp@1", u, "treatment") for u in units])
    assert store.sticky_variants([("exp@1", u) for u in units]) == ["treatment"] * len(units)


def test_erase_unit_removes_its_records(store: Store, definitions: dict[str, Definition]) -> None:
    store.remember_variants(
        [("exp@1", "u-1", "control"), ("exp@2", "u-1", "treatment"), ("exp@1", "u-2", "control")]
    )
    store.erase_unit("u-1", definitions)
    assert store.sticky_variants([("exp@1", "u-1"), ("exp@2", "u-1"), ("exp@1", "u-2")]) == [
        None,
        None,
        "control",
    ]
