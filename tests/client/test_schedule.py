"""Schedules in the SDK: how ``start``/``end`` read, and the engine and the local Client
before, during and after the window (the clock injected, the service not involved)."""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

import pytest

from xp_client import Client
from xp_client.definition import DefinitionError, Experiment
from xp_client.engine import assign_variant
from xp_client.schedule import ScheduleError, parse_instant, window_reason
from xp_client.transport import FakeTransport, Response

UTC = dt.UTC
DAY = 86_400.0


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "is_end", "expected"),
    [
        ("2026-12-31", False, "2026-12-31T00:00:00"),
        ("2026-12-31", True, "2027-01-01T00:00:00"),  # the whole last day is in
        ("2028-02-28", True, "2028-02-29T00:00:00"),  # a leap day follows
        ("2026-12-31T10:30:00Z", True, "2026-12-31T10:30:00"),  # an instant is itself
        ("2026-12-31T10:30:00", False, "2026-12-31T10:30:00"),  # no zone: UTC
        ("2026-12-31T10:30:00+02:00", False, "2026-12-31T08:30:00"),
        ("2027-01-01T01:00:00+05:00", False, "2026-12-31T20:00:00"),  # crosses a day
        (" 2026-12-31 ", False, "2026-12-31T00:00:00"),
        (dt.date(2026, 12, 31), True, "2027-01-01T00:00:00"),
        (dt.datetime(2026, 12, 31, 23, 59), True, "2026-12-31T23:59:00"),
    ],
)
def test_dates_and_timestamps_read_as_utc_instants(value: Any, is_end: bool, expected: str) -> None:
    moment = parse_instant(value, is_end=is_end)
    assert moment is not None and moment.tzinfo is not None
    assert moment == dt.datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "is_end"),
    [
        ("next tuesday", False),
        ("2026-13-01", False),
        ("2026-02-30", True),
        ("", False),
        (20261231, False),
        (True, False),
        ([2026, 12, 31], False),
        ("9999-12-31", True),  # its next day does not exist
        ("0001-01-01T00:00:00+05:00", False),  # before year 1 in UTC
    ],
)
def test_what_is_not_a_date_or_a_time_is_refused(value: Any, is_end: bool) -> None:
    with pytest.raises(ScheduleError):
        parse_instant(value, is_end=is_end)


def test_the_window_is_start_inclusive_end_exclusive() -> None:
    assert window_reason(10.0, 20.0, 9.999) == "not_started"
    assert window_reason(10.0, 20.0, 10.0) is None
    assert window_reason(10.0, 20.0, 19.999) is None
    assert window_reason(10.0, 20.0, 20.0) == "ended"
    assert window_reason(None, None, -1e18) is None
    assert window_reason(None, 20.0, -1e18) is None
    assert window_reason(10.0, None, 1e18) is None


BASE: dict[str, Any] = {
    "key": "sched",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.0}, {"key": "treatment", "weight": 1.0}],
    "overrides": {"qa-1": "treatment"},
    "start": "2026-12-01",
    "end": "2026-12-31",
}


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ({"start": "2026-12-02", "end": "2026-12-01"}, "end must be after start"),
        ({"start": "2026-12-02T10:00Z", "end": "2026-12-02T10:00Z"}, "end must be after start"),
        ({"start": "soon"}, "is not a date"),
    ],
)
def test_a_config_with_a_bad_window_is_refused(window: dict[str, str], problem: str) -> None:
    with pytest.raises(DefinitionError, match=problem):
        Experiment.from_dict({**BASE, **window})


def test_a_one_day_window_is_valid() -> None:
    exp = Experiment.from_dict({**BASE, "start": "2026-12-02", "end": "2026-12-02"})
    assert (exp.start, exp.end) == (at("2026-12-02T00:00:00"), at("2026-12-03T00:00:00"))


def reason(exp: Experiment, unit: Any, now: float) -> tuple[str, bool, str]:
    got = assign_variant(exp, {"user_id": unit}, now=now)
    return (got.variant, got.in_experiment, got.reason)


def test_the_engine_before_during_and_after() -> None:
    exp = Experiment.from_dict(BASE)
    before, first = at("2026-11-30T23:59:59.999"), at("2026-12-01T00:00:00")
    last, after = at("2026-12-31T23:59:59.999"), at("2027-01-01T00:00:00")
    assert reason(exp, "u-1", before) == ("control", False, "not_started")
    assert reason(exp, "qa-1", before) == ("treatment", False, "override")  # QA before launch
    assert reason(exp, None, before) == ("control", False, "missing_unit")
    assert reason(exp, "u-1", first) == ("treatment", True, "assigned")
    assert reason(exp, "u-1", last) == ("treatment", True, "assigned")
    assert reason(exp, "u-1", after) == ("control", False, "ended")
    assert reason(exp, "qa-1", after) == ("control", False, "ended")  # as stopped: no overrides
    assert reason(exp, None, after) == ("control", False, "ended")


def test_the_engine_and_window_reason_agree_around_the_edges() -> None:
    rng = random.Random(20261202)
    for window in ({}, {"start": None}, {"end": None}, {"end": "2026-12-01T00:00:00.5Z"}):
        exp = Experiment.from_dict({**BASE, **window})
        edges = [t for t in (exp.start, exp.end) if t is not None]
        moments = [t + d for t in edges for d in (-1e-3, -1e-6, 0.0, 1e-6, 1e-3)]
        moments += [rng.uniform(edges[0] - 2 * DAY, edges[-1] + 2 * DAY) for _ in range(500)]
        for now in moments:
            expected = window_reason(exp.start, exp.end, now) or "assigned"
            assert reason(exp, "u-1", now)[2] == expected, (window, now)


def test_without_now_the_engine_reads_the_real_clock() -> None:
    now = time.time()
    iso = lambda t: dt.datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
    window = {"start": iso(now - DAY), "end": iso(now + DAY)}
    assert assign_variant(Experiment.from_dict({**BASE, **window}), {"user_id": "u"}).in_experiment
    later = Experiment.from_dict({**BASE, "start": iso(now + DAY), "end": None})
    assert assign_variant(later, {"user_id": "u"}).reason == "not_started"
    over = Experiment.from_dict({**BASE, "start": None, "end": iso(now - DAY)})
    assert assign_variant(over, {"user_id": "u"}).reason == "ended"


def test_statuses_other_than_running_ignore_the_window() -> None:
    now = at("2026-12-15T00:00:00")
    stopped = Experiment.from_dict({**BASE, "status": "stopped"})
    shipped = Experiment.from_dict({**BASE, "status": "shipped", "winner": "treatment"})
    draft = Experiment.from_dict({**BASE, "status": "draft"})
    assert reason(stopped, "u-1", now) == ("control", False, "stopped")
    assert reason(shipped, "u-1", at("2030-01-01T00:00:00")) == ("treatment", False, "shipped")
    assert reason(draft, "u-1", now) == ("control", False, "draft")


class Clock:
    """A settable clock, counting how often it is read."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_the_local_client_before_during_and_after() -> None:
    plain = {**BASE, "key": "plain", "start": None, "end": None}
    config = {"experiments": [BASE, plain]}
    fake = FakeTransport(default=lambda r: Response(304 if r.path == "/v1/config" else 202))
    clock = Clock(at("2026-11-30T12:00:00"))
    xp = Client(config=config, transport=fake, init_timeout=0, flush_interval=3600, clock=clock)
    try:
        units = [f"u-{i}" for i in range(50)]
        assert {xp.get_variant("sched", u).reason for u in units} == {"not_started"}
        assert all(xp.get_variant("plain", u).in_experiment for u in units)  # stamps exposures
        reads = clock.reads
        assert all(xp.get_variant("plain", u).in_experiment for u in units)
        assert clock.reads == reads  # an experiment without a schedule never reads the clock
        clock.now = at("2026-12-15T12:00:00")
        assert {xp.get_variant("sched", u).reason for u in units} == {"assigned"}
        clock.now = at("2027-01-01T00:00:00")
        assert {xp.get_variant("sched", u).key for u in units[:5] + ["u-new"]} == {"control"}
        assert xp.get_variant("sched", "u-new").reason == "ended"
        assert xp.flush(timeout=5)
        exposures = [e for e in fake.events if e["type"] == "exposure"]
        sched = [e for e in exposures if e["experiment"] == "sched"]
        # one exposure per unit, all from inside the window, stamped by the client's clock
        assert sorted(e["user_id"] for e in sched) == sorted(units)
        assert {e["ts"] for e in sched} == {at("2026-12-15T12:00:00")}
        assert len([e for e in exposures if e["experiment"] == "plain"]) == len(units)
    finally:
        xp.close(timeout=1)


def test_an_offline_client_without_a_clock_uses_the_real_time() -> None:
    now = time.time()
    iso = lambda t: dt.datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
    config = {"experiments": [{**BASE, "start": iso(now + 3600), "end": None}]}
    xp = Client.offline(config)
    assert xp.get_variant("sched", "u-1").reason == "not_started"
    xp.close()
