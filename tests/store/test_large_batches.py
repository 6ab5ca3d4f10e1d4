"""One large mixed batch against the brute-force reference, on every backend (the ``store``
fixture): many experiments, repeated units, conversions before their exposures, duplicates and
variant mismatches inside the batch, a unit past its hold cap, and more events per experiment
than one Redis script call takes (``EVENTS_PER_CALL``), so the batch is split."""

from __future__ import annotations

import math
import random
import time

from tests.support.brute_force import BruteForce, flatten
from tests.support.experiments import make_definition
from xp.definitions.model import DAY_SECONDS, Definition
from xp.events.model import Conversion, Event, Exposure
from xp.store import Store
from xp.store.redis.codec import EVENTS_PER_CALL

NOW = time.time()
T0 = math.floor(NOW) - 20 * DAY_SECONDS
EXPERIMENTS = ("exp", "other", "exp-a", "exp-b", "exp-c")


def many_definitions() -> dict[str, Definition]:
    found = {key: make_definition(key=key) for key in EXPERIMENTS if key != "other"}
    found["other"] = make_definition(
        key="other",
        metrics=[{"name": "buyers", "event": "purchase", "kind": "binomial"}],
        segments=[],
    )
    found["stopped"] = make_definition(key="stopped", status="stopped")
    return found


def mixed_batch(seed: int, units: int) -> list[Event]:
    """Values are multiples of 1/4, so every sum is exact and compares with ``==``."""
    rng = random.Random(seed)
    events: list[Event] = []
    for i in range(units):
        unit = f"u{i}"
        ts = T0 + rng.uniform(0, 3 * DAY_SECONDS)
        attributes = {"country": rng.choice(["US", "CA", ""]), "device": rng.choice(["ios", "web"])}
        mine: list[Event] = []
        for key in rng.sample(EXPERIMENTS, rng.randint(1, 4)):
            variant = rng.choice(["control", "treatment"])
            covariates = {"revenue": rng.randint(0, 40) / 4} if rng.random() < 0.5 else {}
            if key == "other":
                covariates = {}
            mine.append(
                Exposure.create(key, unit, variant, ts, attributes, covariates, event_id=unit)
            )
            if rng.random() < 0.2:  # another variant, twice: one mismatch counted
                flip = "treatment" if variant == "control" else "control"
                mine += [Exposure.create(key, unit, flip, ts + 1, event_id=f"{unit}-flip")] * 2
        for j in range(rng.randint(0, 6)):
            event = rng.choice(["purchase", "purchase", "visit", "click", "search", "unrelated"])
            at = ts + rng.uniform(-0.5 * DAY_SECONDS, 9 * DAY_SECONDS)
            mine.append(Conversion(event, unit, rng.randint(-4, 400) / 4, at, f"{unit}-{j}"))
        rng.shuffle(mine)  # conversions before their exposures, within the batch
        events += mine
    events += rng.sample(events, len(events) // 8)  # duplicates within the batch
    # One unit sends more conversions than it may hold before its exposure.
    events += [Conversion("purchase", "hoarder", 1.0, T0 + 10, f"h-{j}") for j in range(40)]
    events.append(Exposure.create("exp", "hoarder", "control", T0, event_id="hoarder"))
    events += [Exposure.create("stopped", f"u{i}", "control", T0) for i in range(3)]
    rng.shuffle(events)
    return events


def test_a_large_mixed_batch_matches_the_brute_force_reference(store: Store) -> None:
    definitions = many_definitions()
    events = mixed_batch(11, units=300)
    per_exp = sum(
        1
        for e in events
        if (isinstance(e, Exposure) and e.experiment == "exp")
        or (isinstance(e, Conversion) and definitions["exp"].metrics_on(e.event))
    )
    assert per_exp > EVENTS_PER_CALL  # "exp" takes more than one script call
    reference = BruteForce(definitions)
    reference.ingest(events)

    statuses = [o.status for o in store.ingest(events, definitions, NOW)]

    assert statuses == reference.statuses
    assert {"accepted", "duplicate", "rejected"} <= set(statuses)
    for key in EXPERIMENTS:
        assert flatten(store.experiment_stats(definitions[key])) == reference.stats(key), key
    diagnostics = store.experiment_stats(definitions["exp"]).diagnostics
    assert diagnostics["variant_mismatch"] > 0 and diagnostics["before_exposure"] > 0
    assert diagnostics["not_exposed"] > 0  # the hoarder held more than 32 (exact: above)

    # The same batch again, then once more split in two: nothing changes.
    again = [o.status for o in store.ingest(events, definitions, NOW)]
    half = len(events) // 2
    again += [o.status for o in store.ingest(events[:half], definitions, NOW)]
    again += [o.status for o in store.ingest(events[half:], definitions, NOW)]
    reference.ingest(events + events)
    assert again == reference.statuses[len(events) :]
    for key in EXPERIMENTS:
        assert flatten(store.experiment_stats(definitions[key])) == reference.stats(key), key


def test_one_batch_and_the_same_events_one_by_one_agree(make_store_pair: list[Store]) -> None:
    definitions = many_definitions()
    events = mixed_batch(12, units=60)
    batched, single = make_store_pair

    in_one = [o.status for o in batched.ingest(events, definitions, NOW)]
    one_by_one = [o.status for e in events for o in single.ingest([e], definitions, NOW)]

    assert in_one == one_by_one
    for key in EXPERIMENTS:
        got = batched.experiment_stats(definitions[key])
        assert flatten(got) == flatten(single.experiment_stats(definitions[key])), key
        assert got.looks.keys() == single.experiment_stats(definitions[key]).looks.keys()
