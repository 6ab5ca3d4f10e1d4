"""A holdout's report: exposures logged by ``/v1/assign`` and conversions sent to
``/v1/events`` (the real ingestion path) give ``/v1/experiments/HOLDOUT/results`` and
``xp report HOLDOUT`` a comparison of the held-out units with the comparison group."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask

from xp.cli import cli

KEY = "q4-holdout"
SDK = {"Authorization": "Bearer s"}
ADMIN = {"Authorization": "Bearer a"}
UNITS = [f"r-{i}" for i in range(1200)]
METRIC = {"name": "purchase_rate", "event": "purchase", "kind": "binomial", "role": "primary"}
EXPERIMENT = {
    "key": "ship-exp",
    "name": "Shipped work",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [METRIC],
}
OTHER = {**EXPERIMENT, "key": "other-exp", "name": "Not behind the holdout"}
HOLDOUT = {
    "key": KEY,
    "description": "Everything shipped in Q4",
    "share": 0.25,
    "applies_to": {"experiments": ["ship-exp"]},
    "metrics": [METRIC],
}


@pytest.fixture
def seeded(make_app: Callable[..., Flask], tmp_path: Path) -> tuple[Flask, dict[str, Any]]:
    """Every unit assigned to both experiments; comparison units buy 1 in 3, held-out 1 in 6."""
    for folder, items in (("experiments", [EXPERIMENT, OTHER]), ("holdouts", [HOLDOUT])):
        (tmp_path / folder).mkdir()
        for item in items:
            (tmp_path / folder / f"{item['key']}.yaml").write_text(yaml.safe_dump(item))
    store = f"sqlite:///{tmp_path}/report.sqlite3"
    app = make_app(
        experiments_dir=str(tmp_path / "experiments"),
        store_url=store,
        api_keys={"a": "admin", "s": "sdk"},
    )
    client = app.test_client()
    groups: dict[str, list[str]] = {"holdout": [], "comparison": []}
    events = []
    for i, unit in enumerate(UNITS):
        body = {"user_id": unit, "experiments": ["ship-exp", "other-exp"]}
        answer = client.post("/v1/assign", json=body, headers=SDK).json["assignments"]
        peek = {"user_id": unit, "experiments": [KEY], "log_exposure": False}
        group = client.post("/v1/assign", json=peek, headers=SDK).json["assignments"][KEY]
        held = group["in_experiment"] and group["variant"] == "holdout"
        assert (answer["ship-exp"]["reason"] == "holdout") == held
        assert answer["other-exp"]["reason"] == "assigned"  # opted out: held out or not
        if group["in_experiment"]:
            groups[group["variant"]].append(unit)
        if i % (6 if held else 3) == 0:
            events.append({"type": "conversion", "event": "purchase", "user_id": unit,
                           "event_id": f"p-{unit}", "ts": time.time() + 1})  # fmt: skip
    assert app.extensions["xp"].exposures.flush(timeout=10)
    response = client.post("/v1/events", json={"events": events}, headers=SDK)
    assert response.status_code == 200 and response.json["rejected"] == 0, response.json
    bought = {e["user_id"] for e in events}
    truth = {g: (len(us), sum(u in bought for u in us)) for g, us in groups.items()}
    return app, {"truth": truth, "store": store, "dir": str(tmp_path / "experiments")}


def test_the_results_compare_held_out_units_with_the_comparison_group(
    seeded: tuple[Flask, dict[str, Any]],
) -> None:
    app, seed = seeded
    (n_held, buy_held), (n_cmp, buy_cmp) = seed["truth"]["holdout"], seed["truth"]["comparison"]
    assert 220 < n_held < 380 and 220 < n_cmp < 380  # 25% of 1200 each, sd 15
    document = app.test_client().get(f"/v1/experiments/{KEY}/results", headers=ADMIN).json
    assert document["units"] == {"holdout": n_held, "comparison": n_cmp}
    rate = next(m for m in document["metrics"] if m["name"] == "purchase_rate")
    assert {v["variant"]: v["sum"] for v in rate["variants"]} == {
        "holdout": buy_held,
        "comparison": buy_cmp,
    }
    (comparison,) = rate["comparisons"]
    assert comparison["variant"] == "comparison"  # against the holdout, the control
    lift = (buy_cmp / n_cmp) / (buy_held / n_held) - 1
    assert comparison["relative"]["estimate"] == pytest.approx(lift)
    assert lift > 0.5  # 1 in 3 against 1 in 6, give or take the hash


def test_xp_report_holdout_reads_the_same_numbers(seeded: tuple[Flask, dict[str, Any]]) -> None:
    app, seed = seeded
    args = ["report", KEY, "--experiments", seed["dir"], "--store", seed["store"]]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    truth = seed["truth"]
    assert document["units"] == {g: n for g, (n, _) in truth.items()}
    markdown = CliRunner().invoke(cli, args)
    assert markdown.exit_code == 0, markdown.output
    assert "comparison" in markdown.output and "Everything shipped in Q4" in markdown.output
