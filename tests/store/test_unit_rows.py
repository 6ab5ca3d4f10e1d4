"""``iter_unit_rows``, the export's one pass from stored records to CSV cells, spells every
unit exactly as the positional path (``iter_unit_values`` through ``units_csv``) does: the
same bytes, header, rows in the same order, trailer and number spelling, on every backend."""

from __future__ import annotations

import random
import time
import zlib

import pytest

from tests.support.experiments import make_definition
from xp.events.model import Conversion, Event, Exposure
from xp.reports import units_csv as module
from xp.reports.units_csv import stored_units_csv, units_csv
from xp.store import Store

NOW = time.time()
HOSTILE_IDS = ["=cmd|' /C calc'!A0", "+1", "-5", "@x", "\tx", 'a"b,c', "ünï\u2028code", "x" * 300]


def seeded_events(units: int) -> list[Event]:
    """Units with hostile ids and segment values, timestamps of every precision, totals that
    need 17 digits, negatives and sums that cancel to -0 or 0."""
    rng = random.Random(11)
    events: list[Event] = []
    values = [2.5, 0.1, 0.2, -0.1, 1e-7, 123456789.125, 1 / 3, -3.0, 1e15, 2.0**53, 7.0]
    for i in range(units):
        unit = HOSTILE_IDS[i] if i < len(HOSTILE_IDS) else f"user-{i}"
        ts = NOW - 5 * 86_400 + rng.uniform(0, 86_400)
        ts = [round(ts, 3), round(ts, 1), float(int(ts)), ts][i % 4]
        attributes = {"country": rng.choice(["US", "=SUM(A1)", "", 'a,b\n"c"'])}
        if i % 3:
            attributes["device"] = rng.choice(["ios", "-web"])
        events.append(
            Exposure.create("exp", unit, rng.choice(["control", "treatment"]), ts, attributes)
        )
        for j in range(rng.randrange(5)):
            name = rng.choice(["purchase", "visit", "click", "search"])
            value = rng.choice(values)
            events.append(Conversion(name, unit, value, ts + 60 + j, f"{unit}-{j}"))
        if i % 7 == 0:  # a sum that cancels
            events.append(Conversion("purchase", unit, 0.1, ts + 70, f"{unit}-a"))
            events.append(Conversion("purchase", unit, -0.1, ts + 80, f"{unit}-b"))
    return events


@pytest.fixture
def seeded(store: Store) -> Store:
    definition = make_definition()
    events = seeded_events(1_200)
    for start in range(0, len(events), 500):
        store.ingest(events[start : start + 500], {"exp": definition}, NOW)
    return store


@pytest.mark.parametrize("trailer", [True, False])
def test_the_one_pass_export_is_the_positional_export_byte_for_byte(
    seeded: Store, trailer: bool
) -> None:
    definition = make_definition()
    old = "".join(units_csv(definition, seeded.iter_unit_values(definition), trailer=trailer))
    new = "".join(stored_units_csv(seeded, definition, definition, trailer=trailer))
    assert new.encode() == old.encode()
    lines = new.split("\r\n")
    assert lines[0].startswith("unit_id,variant,first_exposure,country,device,converted")
    assert (lines[-2] == "# end: 1200 rows") is trailer
    assert "'=cmd|' /C calc'!A0" in new and "'=SUM(A1)" in new  # defused, as before


def test_the_export_streams_before_the_whole_read(
    seeded: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk comes from the first pages or round trips: a unit written after it
    went out, late in the read order, is still in the file."""
    definition = make_definition()
    monkeypatch.setattr(module, "CHUNK_ROWS", 5)
    chunks = stored_units_csv(seeded, definition, definition, trailer=True)
    first = next(chunks)
    assert first.count("\r\n") == 6  # the header and five rows
    late = "zzzz-late"  # last in SQLite's id order; Redis: a bucket read in the last round trip
    while zlib.crc32(late.encode()) % 4096 < 3840:
        late += "z"
    # A segment value never seen before: on Redis a name id the export has not read yet.
    late_events: list[Event] = [
        Exposure.create("exp", late, "control", NOW - 10, {"country": "never-seen"}),
        Conversion("purchase", late, 4.25, NOW - 5, "late-1"),
    ]
    seeded.ingest(late_events, {"exp": definition}, NOW)
    rest = "".join(chunks)
    (row,) = [line for line in (first + rest).split("\r\n") if line.startswith(late + ",")]
    cells = row.split(",")
    assert cells[3] == "never-seen" and cells[5:9] == ["1", "1", "4.25", "0"]
    assert rest.endswith("# end: 1201 rows\r\n")


def test_metrics_and_segments_the_definition_dropped_are_left_out_alike(seeded: Store) -> None:
    definition = make_definition(
        metrics=[{"name": "revenue", "event": "purchase", "kind": "sum"}], segments=["device"]
    )
    old = "".join(units_csv(definition, seeded.iter_unit_values(definition), trailer=True))
    new = "".join(stored_units_csv(seeded, definition, definition, trailer=True))
    assert new == old
    assert new.split("\r\n")[0] == "unit_id,variant,first_exposure,device,revenue"
