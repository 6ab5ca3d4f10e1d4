"""Daily snapshots (looks), run on every backend: what was observable at each day's end."""

from __future__ import annotations

import math
import time

from tests.support.experiments import MakeStore
from xp.attribution.scopes import day_label, day_of
from xp.definitions.model import DAY_SECONDS, Definition
from xp.events.model import Conversion, Exposure
from xp.store import Store
from xp.store.model import ExperimentData

DAY = DAY_SECONDS
# Store time of the writes: three UTC days, 10:00 on the first.
D1 = (math.floor(time.time() / DAY) - 5) * DAY + 10 * 3600
D2, D3 = D1 + DAY, D1 + 2 * DAY


def expose(unit: str, variant: str, ts: float) -> Exposure:
    return Exposure.create("exp", unit, variant, ts)


def buy(unit: str, ts: float, value: float, event_id: str) -> Conversion:
    return Conversion("purchase", unit, value, ts, event_id)


def revenue(data: ExperimentData) -> dict[str, tuple[int, float, float]]:
    """Per look: (control units, control revenue, treatment revenue)."""
    return {
        date: (
            look.units["control"],
            look.metrics["revenue"]["control"].sum,
            look.metrics["revenue"]["treatment"].sum,
        )
        for date, look in data.looks.items()
    }


def test_each_look_is_what_the_day_ended_with(
    store: Store, definitions: dict[str, Definition]
) -> None:
    store.ingest([expose("a", "control", D1), expose("b", "treatment", D1)], definitions, D1)
    store.ingest([buy("a", D1 + 60, 5.0, "p1")], definitions, D1 + 3600)
    store.ingest([expose("c", "control", D2), buy("b", D2, 7.0, "p2")], definitions, D2)
    # Day 3: a conversion stamped on day 1 arrives late; it changes day 3, never day 1.
    store.ingest([buy("a", D1 + 120, 1.0, "p3")], definitions, D3)

    data = store.experiment_stats(definitions["exp"])

    assert revenue(data) == {
        day_label(day_of(D1)): (1, 5.0, 0.0),
        day_label(day_of(D2)): (2, 5.0, 7.0),
        day_label(day_of(D3)): (2, 6.0, 7.0),  # the current totals, under today's date
    }
    assert data.looks[day_label(day_of(D3))] == data.overall
    # Looks are cumulative over all units: sum_squares of per-unit totals at that moment.
    assert data.looks[day_label(day_of(D1))].metrics["revenue"]["control"].sum_squares == 25.0


def test_reading_again_later_changes_no_past_look(
    make_store: MakeStore, definitions: dict[str, Definition]
) -> None:
    store = make_store()
    store.ingest([expose("a", "control", D1), buy("a", D1, 2.0, "p1")], definitions, D1)
    store.ingest([expose("b", "treatment", D2)], definitions, D2)
    before = store.experiment_stats(definitions["exp"]).looks[day_label(day_of(D1))]

    store.ingest([buy("a", D1 + 1, 3.0, "p2"), expose("z", "control", D1)], definitions, D3)
    store.ingest([buy("b", D2 + 1, 4.0, "p3")], definitions, D3 + DAY)
    data = store.experiment_stats(definitions["exp"])

    assert data.looks[day_label(day_of(D1))] == before
    assert list(data.looks) == [day_label(day_of(t)) for t in (D1, D2, D3, D3 + DAY)]


def test_days_without_writes_have_no_look_and_days_never_go_back(
    store: Store, definitions: dict[str, Definition]
) -> None:
    store.ingest([expose("a", "control", D1)], definitions, D1)
    store.ingest([expose("b", "control", D3)], definitions, D3)  # nothing on day 2
    store.ingest([expose("c", "control", D1)], definitions, D2)  # a clock behind: counts in D3

    data = store.experiment_stats(definitions["exp"])

    assert {d: look.units["control"] for d, look in data.looks.items()} == {
        day_label(day_of(D1)): 1,
        day_label(day_of(D3)): 3,
    }


def test_an_experiment_without_units_has_no_look(
    store: Store, definitions: dict[str, Definition]
) -> None:
    store.ingest([buy("a", D1, 1.0, "p1")], definitions, D1)  # held: no unit yet

    assert store.experiment_stats(definitions["exp"]).looks == {}


def test_erasure_leaves_past_looks_and_leaves_the_current_one(
    store: Store, definitions: dict[str, Definition]
) -> None:
    store.ingest([expose("a", "control", D1), buy("a", D1, 5.0, "p1")], definitions, D1)
    store.ingest([expose("b", "control", D1), buy("b", D1, 1.0, "p2")], definitions, D1)

    assert store.erase_unit("a", definitions, now=D2) == 1  # exposed in exp (held in other)
    data = store.experiment_stats(definitions["exp"])

    # Day 1 ended with both units: its snapshot (anonymous sums) stays what was seen then.
    assert revenue(data) == {
        day_label(day_of(D1)): (2, 6.0, 0.0),
        day_label(day_of(D2)): (1, 1.0, 0.0),
    }
    assert data.overall.units["control"] == 1
