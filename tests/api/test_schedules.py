"""Schedules in the service: ``/v1/assign`` before, during and after the window, exposures
outside it refused, ``/v1/config`` carrying the window, the results' dates, bad windows."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from xp.cli import cli

DAY = 86_400.0


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def experiment(key: str, **window: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
        "overrides": {"qa-1": "treatment"},
        "metrics": [{"name": "bought", "kind": "binomial", "event": "purchase"}],
        **window,
    }


def write(folder: Path, *experiments: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    for exp in experiments:
        (folder / f"{exp['key']}.yaml").write_text(json.dumps(exp))
    return folder


@pytest.fixture
def now() -> float:
    return time.time()


@pytest.fixture
def windows(tmp_path: Path, now: float, make_app: Callable[..., Flask]) -> FlaskClient:
    """Three experiments on the real clock: one not started, one running, one ended."""
    folder = write(
        tmp_path / "exp",
        experiment("later", start=iso(now + DAY)),
        experiment("now", start=iso(now - DAY), end=iso(now + DAY)),
        experiment("over", start=iso(now - 3 * DAY), end=iso(now - DAY)),
    )
    return make_app(experiments_dir=str(folder)).test_client()


def assign(client: FlaskClient, user_id: Any, log: bool = True) -> dict[str, Any]:
    response = client.post("/v1/assign", json={"user_id": user_id, "log_exposure": log})
    assert response.status_code == 200, response.json
    assignments: dict[str, Any] = response.json["assignments"]
    return assignments


def test_assign_before_during_and_after_logs_only_inside(windows: FlaskClient) -> None:
    units = [f"u-{i}" for i in range(40)]
    answers = [assign(windows, u) for u in units]
    assert {a["later"]["reason"] for a in answers} == {"not_started"}
    assert {a["over"]["reason"] for a in answers} == {"ended"}
    assert {a["now"]["reason"] for a in answers} == {"assigned"}
    assert {a["over"]["variant"] for a in answers} == {a["later"]["variant"] for a in answers}
    assert {a["over"]["variant"] for a in answers} == {"control"}
    qa = assign(windows, "qa-1")
    assert (qa["later"]["variant"], qa["later"]["reason"]) == ("treatment", "override")
    assert (qa["over"]["variant"], qa["over"]["reason"]) == ("control", "ended")
    assert windows.application.extensions["xp"].exposures.flush(timeout=10)
    for key, exposed in (("later", 0), ("over", 0), ("now", len(units))):
        results = windows.get(f"/v1/experiments/{key}/results").json
        assert sum(results["units"].values()) == exposed, key


def test_exposures_outside_the_window_are_refused_by_their_time(
    windows: FlaskClient, now: float
) -> None:
    def exposure(key: str, ts: float) -> dict[str, Any]:
        return {"type": "exposure", "experiment": key, "user_id": f"u-{key}-{ts}", "ts": ts,
                "variant": "treatment"}  # fmt: skip

    events = [
        exposure("later", now),  # 0: not started yet
        exposure("over", now),  # 1: ended
        exposure("over", now - 2 * DAY),  # 2: a late delivery from inside the window counts
        exposure("now", now - 2 * DAY),  # 3: before its start
        exposure("now", now),  # 4
    ]
    body = windows.post("/v1/events", json={"events": events}).json
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["rejected", "rejected", "accepted", "rejected", "accepted"]
    fields = [r.get("field") for r in body["results"]]
    assert fields[:2] == ["events.0.ts", "events.1.ts"] and fields[3] == "events.3.ts"
    assert "not started" in body["results"][0]["reason"]
    assert "ended" in body["results"][1]["reason"]


def test_assign_at_the_edges_on_the_service_clock(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    folder = write(tmp_path / "exp", experiment("dec", start="2026-12-01", end="2026-12-31"))
    app = make_app(experiments_dir=str(folder))
    client = app.test_client()
    moments = {
        "2026-11-30T23:59:59.999": "not_started",
        "2026-12-01T00:00:00": "assigned",
        "2026-12-31T23:59:59.999": "assigned",  # end: 2026-12-31 includes its whole day
        "2027-01-01T00:00:00": "ended",
    }
    for moment, expected in moments.items():
        ts = dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC).timestamp()
        app.config["XP_CLOCK"] = lambda ts=ts: ts
        got = assign(client, "u-7", log=False)["dec"]
        assert got["reason"] == expected, moment
        assert got["in_experiment"] is (expected == "assigned")


def test_config_and_the_definition_carry_the_window(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    folder = write(
        tmp_path / "exp",
        experiment("dated", start="2026-12-01", end="2026-12-31"),
        experiment("timed", start="2026-12-01T09:30:00+01:00"),
        experiment("open"),
    )
    client = make_app(experiments_dir=str(folder)).test_client()
    config = {e["key"]: e for e in client.get("/v1/config").json["experiments"]}
    assert (config["dated"]["start"], config["dated"]["end"]) == (
        "2026-12-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )
    assert (config["timed"]["start"], config["timed"]["end"]) == ("2026-12-01T08:30:00+00:00", None)
    assert (config["open"]["start"], config["open"]["end"]) == (None, None)
    summary = client.get("/v1/experiments/dated").json
    assert (summary["start"], summary["end"]) == (
        "2026-12-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )


def test_results_and_page_show_the_planned_and_actual_dates(
    tmp_path: Path, make_app: Callable[..., Flask], now: float
) -> None:
    start = now - 2.5 * DAY
    folder = write(tmp_path / "exp", experiment("runs", start=iso(start)))
    client = make_app(experiments_dir=str(folder)).test_client()
    events = [
        {
            "type": "exposure",
            "experiment": "runs",
            "user_id": f"u-{i}",
            "variant": "control",
            "ts": ts,
        }  # fmt: skip
        # The first exposure at the planned start: its UTC day's midnight is then never later
        # than the start, so running time counts from the start at any hour of the day.
        for i, ts in enumerate((start, now - DAY, now))
    ]
    assert client.post("/v1/events", json={"events": events}).json["accepted"] == 3
    info = client.get("/v1/experiments/runs/results").json["experiment"]
    assert info["start"] == iso(start) and info["end"] is None
    assert info["first_exposure_day"] == iso(start)[:10]
    assert info["last_exposure_day"] == iso(now)[:10]
    assert info["days_running"] == pytest.approx(2.5, abs=0.1)
    markdown = client.get("/v1/experiments/runs/results?format=md").get_data(as_text=True)
    assert "2.5 days running" in markdown and f"exposures {iso(start)[:10]}" in markdown
    page = client.get("/experiments/runs").get_data(as_text=True)
    assert "2.5 days running" in page


def test_a_window_that_is_not_started_shows_no_days_running(
    tmp_path: Path, make_app: Callable[..., Flask], now: float
) -> None:
    folder = write(tmp_path / "exp", experiment("soon", start=iso(now + DAY)))
    client = make_app(experiments_dir=str(folder)).test_client()
    info = client.get("/v1/experiments/soon/results").json["experiment"]
    # running time counts from the first exposure: none yet ("not started" on the page)
    assert info["days_running"] is None and info["first_exposure_day"] is None


@pytest.mark.parametrize(
    ("window", "field", "words"),
    [
        ({"start": "2026-12-02", "end": "2026-12-01"}, "end", "must end after it starts"),
        ({"start": "2026-12-02T10:00:00Z", "end": "2026-12-02T10:00:00Z"}, "end", "end after"),
        ({"start": "2026-12-02T10:00:00Z", "end": "2026-12-02T11:00:00+02:00"}, "end", "after"),
        ({"start": "tomorrow"}, "start", "not a date"),
        ({"end": 20261231}, "end", "must be a date"),
        ({"end": "9999-12-31"}, "end", "outside the years"),
    ],
)
def test_xp_validate_names_the_file_and_field_of_a_bad_window(
    tmp_path: Path, window: dict[str, Any], field: str, words: str
) -> None:
    folder = write(tmp_path / "exp", experiment("bad", **window))
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code != 0
    assert f"bad.yaml: {field}:" in result.output and words in result.output
    assert "Traceback" not in result.output
