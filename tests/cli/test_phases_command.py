"""``xp report --phase`` and ``xp export --phase``: earlier phases and archived experiments,
written through the real service into a real SQLite file and read back by the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from tests.api.test_archived_api import write  # the same old-test experiment file


def expose(app: Flask, users: range, variant: str) -> None:
    events = [
        {"type": "exposure", "experiment": "old-test", "user_id": f"u{i}", "variant": variant}
        for i in users
    ]
    response = app.test_client().post("/v1/events", json={"events": events})
    assert response.json["accepted"] == len(users)


@pytest.fixture
def two_phases(make_app: Callable[..., Flask], experiments: Path, data_dir: Path) -> Flask:
    """Phase 1 with 3 control units, phase 2 with 2 treatment units."""
    experiments.mkdir()
    write(experiments)
    app = make_app(experiments_dir=str(experiments), data_dir=str(data_dir))
    expose(app, range(3), "control")
    write(experiments, phase=2)
    assert app.test_client().get("/healthz").json["status"] == "ok"  # reloads phase 2
    expose(app, range(10, 12), "treatment")
    return app


def units(result: Result) -> dict[str, int]:
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output)["units"])


def test_report_reads_each_phase_and_says_which(
    two_phases: Flask, xp: Callable[..., Result]
) -> None:
    assert units(xp("report", "old-test", "--format", "json")) == {"control": 0, "treatment": 2}
    first = xp("report", "old-test", "--format", "json", "--phase", 1)
    assert units(first) == {"control": 3, "treatment": 0}
    assert json.loads(first.output)["experiment"]["phase"] == 1
    assert json.loads(first.output)["experiment"]["status"] == "archived"
    second = json.loads(xp("report", "old-test", "--format", "json", "--phase", 2).output)
    assert second["experiment"]["phase"] == 2 and second["experiment"]["status"] == "running"

    markdown = xp("report", "old-test", "--phase", 1).output
    assert "| Phase | 1 |" in markdown and "| Status | archived |" in markdown
    rows = list(csv.DictReader(io.StringIO(xp("report", "old-test", "--format", "csv").output)))
    assert rows and {r["phase"] for r in rows} == {"2"}
    html = xp("report", "old-test", "--format", "html", "--phase", 1).output
    assert '<dd id="phase">1</dd>' in html


def test_the_page_says_which_phase(two_phases: Flask) -> None:
    client = two_phases.test_client()
    assert '<dd id="phase">1</dd>' in client.get("/experiments/old-test?phase=1").text
    assert '<dd id="phase">2</dd>' in client.get("/experiments/old-test").text


def test_export_reads_an_earlier_phase(two_phases: Flask, xp: Callable[..., Result]) -> None:
    def exported(*args: Any) -> list[tuple[str, str]]:
        result = xp("export", "old-test", *args)
        assert result.exit_code == 0, result.output
        *lines, trailer = result.output.splitlines()
        assert trailer.startswith("# end: ")  # the trailer the API's units.csv ends with too
        return [
            (row["unit_id"], row["variant"])
            for row in csv.DictReader(io.StringIO("\n".join(lines)))
        ]

    assert exported() == [("u10", "treatment"), ("u11", "treatment")]
    assert exported("--phase", 1) == [("u0", "control"), ("u1", "control"), ("u2", "control")]


def test_an_archived_experiment_is_reachable(
    two_phases: Flask, experiments: Path, xp: Callable[..., Result]
) -> None:
    (experiments / "old-test.yaml").unlink()
    latest = json.loads(xp("report", "old-test", "--format", "json").output)["experiment"]
    assert (latest["phase"], latest["status"]) == (2, "archived")
    assert units(xp("report", "old-test", "--format", "json", "--phase", 1))["control"] == 3
    result = xp("export", "old-test", "--phase", 1)
    assert result.exit_code == 0 and result.output.count("\n") == 5  # header, three units, trailer


@pytest.mark.parametrize("command", ["report", "export"])
def test_an_unknown_phase_names_the_experiment_and_the_phase(
    two_phases: Flask, xp: Callable[..., Result], command: str
) -> None:
    result = xp(command, "old-test", "--phase", 7)
    assert result.exit_code == 1
    assert "'old-test' has no phase 7 (phases: [1, 2])" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("phase", ["0", "-1", "x", "1001"])
def test_a_bad_phase_is_a_usage_error(
    two_phases: Flask, xp: Callable[..., Result], phase: str
) -> None:
    result = xp("report", "old-test", "--phase", phase)
    assert result.exit_code == 2 and "--phase" in result.output


def test_an_unknown_experiment_lists_the_known_ones(
    two_phases: Flask, xp: Callable[..., Result]
) -> None:
    result = xp("report", "nope", "--phase", 1)
    assert result.exit_code == 1 and "no experiment 'nope'" in result.output
    assert "known: old-test" in result.output
