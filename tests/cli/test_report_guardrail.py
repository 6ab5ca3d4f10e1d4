"""A guardrail with too little data is reported as not assessed, never as cleared."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from flask import Flask

from tests.support.seed import KEY, definitions, ingest, make_units, write_experiment
from xp.store import open_store

NOT_ASSESSED = "refunds: guardrail cannot be assessed yet for treatment (insufficient data)"


def seed_without_refunds(experiments: Path, data_dir: Path) -> None:
    """The seeded experiment with no refund at all: the guardrail has zero variance."""
    now = time.time()
    units = make_units(now)
    for unit in units:
        unit.refunds = 0
    store = open_store(None, data_dir)
    try:
        ingest(store, definitions(write_experiment(experiments)), units, now)
    finally:
        store.close()


def test_xp_report_says_the_guardrail_cannot_be_assessed_and_does_not_ship(
    xp: Callable[..., Result], experiments: Path, data_dir: Path
) -> None:
    seed_without_refunds(experiments, data_dir)
    done = xp("report", KEY, "--format", "json")
    assert done.exit_code == 0, done.output
    decision = json.loads(done.output)["decision"]
    assert decision["decision"] == "keep_running", decision
    assert any(r.startswith(NOT_ASSESSED) for r in decision["reasons"]), decision
    assert not any("no guardrail breached" in r for r in decision["reasons"]), decision
    markdown = xp("report", KEY).output
    assert NOT_ASSESSED in markdown and "no guardrail breached" not in markdown


def test_the_results_api_says_the_same(
    make_app: Callable[..., Flask], experiments: Path, data_dir: Path
) -> None:
    seed_without_refunds(experiments, data_dir)
    app = make_app(experiments_dir=str(experiments), data_dir=str(data_dir))
    got = app.test_client().get(f"/v1/experiments/{KEY}/results").json
    assert got["decision"]["decision"] == "keep_running"
    assert any(r.startswith(NOT_ASSESSED) for r in got["decision"]["reasons"])
    page = app.test_client().get(f"/v1/experiments/{KEY}/results?format=html").text
    assert NOT_ASSESSED in page and "no guardrail breached" not in page
