"""``units_in_window``: the units whose metric window may still be open, per variant, from a
real SQLite store's per-day counts; and what the reports print of it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.experiments import make_definition
from xp.events.model import Exposure
from xp.reports.formats import render
from xp.results.build import experiment_results
from xp.store import Store, open_store

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DAY = 86_400.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/w.sqlite3", tmp_path)
    yield opened
    opened.close()


def expose(store: Store, days_ago: float, variant: str, n: int) -> None:
    definition = make_definition()
    ts = NOW.timestamp() - days_ago * DAY
    events = [Exposure("exp", f"{variant}-{days_ago}-{i}", variant, ts) for i in range(n)]
    store.ingest(events, {"exp": definition}, ts)


def test_units_exposed_within_the_window_are_counted_per_variant(store: Store) -> None:
    expose(store, 1, "control", 3)  # yesterday: inside the 7-day window
    expose(store, 1, "treatment", 2)
    expose(store, 7.2, "treatment", 4)  # 7.2 days ago: its day's window may still be open
    expose(store, 20, "control", 5)  # long closed
    document = experiment_results(make_definition(), store, now=NOW)
    by_name = {m.name: m for m in document.metrics}
    assert by_name["converted"].units_in_window == {"control": 3, "treatment": 6}
    assert by_name["retained"].units_in_window == {"control": 3, "treatment": 6}  # [1, 8]
    assert by_name["purchases"].units_in_window is None  # no window: until the end
    assert document.units == {"control": 8, "treatment": 6}

    markdown, _ = render(document, "md")
    assert "Still inside their window: up to 9 units (control 3, treatment 6)" in markdown
    html, _ = render(document, "html")
    assert '<p class="in-window">Still inside their window: up to 9 units' in html
    rows = list(csv.DictReader(io.StringIO(render(document, "csv")[0])))
    overall = {
        r["variant"]: r["units_in_window"]
        for r in rows
        if r["metric"] == "converted" and not r["segment"]
    }
    assert overall == {"control": "3", "treatment": "6"}
    assert document.as_dict()["metrics"][0]["units_in_window"] == {"control": 3, "treatment": 6}


def test_nothing_is_in_window_after_the_planned_end(store: Store) -> None:
    expose(store, 1, "control", 3)
    ended = make_definition(end=(NOW - dt.timedelta(hours=1)).isoformat())
    document = experiment_results(ended, store, now=NOW)
    converted = next(m for m in document.metrics if m.name == "converted")
    assert converted.units_in_window == {"control": 0, "treatment": 0}
    assert "Still inside their window" not in render(document, "md")[0]


def test_an_empty_experiment_has_zero_units_in_window(store: Store) -> None:
    document = experiment_results(make_definition(), store, now=NOW)
    converted = next(m for m in document.metrics if m.name == "converted")
    assert converted.units_in_window == {"control": 0, "treatment": 0}
