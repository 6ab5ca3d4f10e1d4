"""``xp.results.schedule``: the planned window, the actual exposure days and the days running."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from xp.definitions.loader import parse_definition
from xp.definitions.model import Definition
from xp.reports.formatting import dates
from xp.results.document import ExperimentInfo
from xp.results.schedule import experiment_dates
from xp.store.model import ExperimentData, Slice

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def definition(**fields: Any) -> Definition:
    raw = {
        "key": "d",
        "name": "d",
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
        **fields,
    }
    loaded, problems = parse_definition(raw, "d.yaml")
    assert loaded is not None, problems
    return loaded


def data(*days: str, empty: tuple[str, ...] = ()) -> ExperimentData:
    full = {day: Slice({"control": 3, "treatment": 2}, {}) for day in days}
    full.update({day: Slice({"control": 0, "treatment": 0}, {}) for day in empty})
    return ExperimentData("d", Slice({}, {}), full, {}, {})


@pytest.mark.parametrize(
    ("fields", "days", "expected"),
    [
        # planned start, still running: start to now
        ({"start": "2026-11-30"}, ("2026-11-30", "2026-12-02"), 2.5),
        # no planned start: from 00:00 UTC of the first exposure day
        ({}, ("2026-11-29", "2026-12-01"), 3.5),
        # planned a month before the first exposure: running since the first exposure
        ({"start": "2026-11-01"}, ("2026-11-30", "2026-12-02"), 2.5),
        # the planned end comes first: end: 2026-12-01 is through Dec 1, 2 days from Nov 30
        ({"start": "2026-11-30", "end": "2026-12-01"}, ("2026-11-30",), 2.0),
        # not started yet: no exposure, no running time
        ({"start": "2026-12-10"}, (), None),
        ({"start": "2026-11-10"}, (), None),
        # stopped: up to the end of its last exposure day
        ({"status": "stopped", "start": "2026-11-20"}, ("2026-11-20", "2026-11-24"), 5.0),
        # nothing to count from
        ({}, (), None),
        # a timed start, to the tenth of a day
        ({"start": "2026-12-02T06:00:00Z"}, ("2026-12-02",), 0.2),
    ],
)
def test_days_running(fields: dict[str, Any], days: tuple[str, ...], expected: Any) -> None:
    got = experiment_dates(definition(**fields), data(*days), NOW)
    assert got.days_running == expected


def test_actual_days_skip_days_without_units_and_instants_are_utc() -> None:
    got = experiment_dates(
        definition(start="2026-11-30T10:00:00+02:00", end="2026-12-31"),
        data("2026-12-01", "2026-11-30", empty=("2026-11-29", "2026-12-02")),
        NOW,
    )
    assert (got.start, got.end) == ("2026-11-30T08:00:00Z", "2027-01-01T00:00:00Z")
    assert (got.first_exposure_day, got.last_exposure_day) == ("2026-11-30", "2026-12-01")


def info(start: str | None, end: str | None, **more: Any) -> ExperimentInfo:
    return ExperimentInfo("d", "d", "running", None, "", "", start, end, None, (), (), (), **more)


@pytest.mark.parametrize(
    ("experiment", "shown"),
    [
        (info(None, None), "not set"),
        (info("2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z"), "2026-11-01 to 2026-12-31"),
        (info("2026-11-01T09:30:00Z", None), "2026-11-01 09:30 UTC to ongoing"),
        (info(None, "2026-12-02T18:00:00Z"), "? to 2026-12-02 18:00 UTC"),
        (info("2026-11-01", None), "2026-11-01 to ongoing"),  # a document saved with dates
        (
            info(
                "2026-11-01T00:00:00Z",
                None,
                days_running=31.5,
                first_exposure_day="2026-11-01",
                last_exposure_day="2026-12-02",
            ),
            "2026-11-01 to ongoing · 31.5 days running · exposures 2026-11-01 to 2026-12-02",
        ),  # fmt: skip
        (
            info(
                None,
                None,
                days_running=0.4,
                first_exposure_day="2026-12-02",
                last_exposure_day="2026-12-02",
            ),
            "not set · 0.4 days running · exposures 2026-12-02",
        ),  # fmt: skip
    ],
)
def test_reports_show_whole_days_as_dates(experiment: ExperimentInfo, shown: str) -> None:
    assert dates(experiment) == shown
