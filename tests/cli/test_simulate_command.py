from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from xp.cli.simulate import event_plans, targeting_values
from xp.definitions.loader import load_directory
from xp.store import open_store

EXPERIMENT = {
    "key": "sim",
    "name": "Simulated",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
    "coverage": 0.5,
    "targeting": {"country": {"$in": ["US", "CA"]}, "app_version": {"$vgte": "2.0.0"}},
    "metrics": [
        {"name": "purchased", "event": "purchase", "kind": "binomial", "role": "primary",
         "window_days": 7},
        {"name": "revenue", "event": "purchase", "kind": "sum"},
        {"name": "clicks_per_search", "kind": "ratio", "numerator": "click",
         "denominator": "search"},
    ],
    "segments": ["country", "device"],
}  # fmt: skip


@pytest.fixture
def folder(experiments: Path) -> Path:
    experiments.mkdir(parents=True, exist_ok=True)
    (experiments / "sim.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return experiments


def stats(data_dir: Path, folder: Path) -> Any:
    definition = load_directory(folder).definitions["sim"]
    store = open_store(None, data_dir)
    try:
        return store.experiment_stats(definition), list(store.iter_units(definition))
    finally:
        store.close()


def test_units_rates_and_days(data_dir: Path, folder: Path, xp: Callable[..., Result]) -> None:
    result = xp("simulate", "sim", "--units", 4000, "--lift", 0.5, "--baseline", 0.2,
                "--seed", 7, "--days", 10)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sim: 4000 units" in result.output and "0 rejected" in result.output
    assert "true rate of 'purchase': control 20.00%, green 30.00%" in result.output

    data, units = stats(data_dir, folder)
    assert sum(data.units.values()) == 4000
    assert abs(data.units["control"] - 2000) < 4 * math.sqrt(1000)
    for variant, rate in (("control", 0.2), ("green", 0.3)):
        s = data.metrics["purchased"][variant]
        sd = math.sqrt(rate * (1 - rate) / s.n)
        assert abs(s.sum / s.n - rate) < 4.5 * sd, (variant, s.sum / s.n)
    assert 10 <= len(data.days) <= 11
    # Written in time order at each event's time: one daily snapshot (look) per day, growing.
    assert 10 <= len(data.looks) <= 11
    seen = [sum(look.units.values()) for look in data.looks.values()]
    assert seen == sorted(seen) and seen[0] > 0 and seen[-1] == 4000
    assert list(data.looks.values())[-1] == data.overall
    assert set(data.segments["country"]) <= {"US", "CA"}
    assert set(data.segments["device"]) == {"a", "b", "c"}
    # A click only ever follows a search: no unit has more clicks than searches.
    assert all(u.metrics["clicks_per_search"] <= u.denominators["clicks_per_search"] for u in units)
    assert sum(u.denominators["clicks_per_search"] for u in units) > 0


def test_same_seed_sends_the_same_events(
    data_dir: Path, folder: Path, xp: Callable[..., Result]
) -> None:
    first = xp("simulate", "sim", "--units", 300, "--seed", 3)
    again = xp("simulate", "sim", "--units", 300, "--seed", 3)
    assert first.exit_code == again.exit_code == 0, again.output
    assert " 0 accepted" in again.output and "0 rejected" in again.output
    data, _ = stats(data_dir, folder)
    assert sum(data.units.values()) == 300


def test_export_after_simulate_has_one_row_per_unit(
    data_dir: Path, folder: Path, xp: Callable[..., Result]
) -> None:
    assert xp("simulate", "sim", "--units", 250, "--seed", 1).exit_code == 0
    result = xp("export", "sim")
    body, trailer = result.output.rsplit("# end:", 1)  # the API's trailer ends the file
    assert trailer.strip() == "250 rows"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 250 and len({r["unit_id"] for r in rows}) == 250
    assert "clicks_per_search_denominator" in rows[0]


def test_only_running_experiments(data_dir: Path, folder: Path, xp: Callable[..., Result]) -> None:
    (folder / "sim.yaml").write_text(yaml.safe_dump({**EXPERIMENT, "status": "draft"}))
    result = xp("simulate", "sim", "--units", 10)
    assert result.exit_code == 1 and "'sim' is draft" in result.output


def test_a_lift_past_certainty_is_refused(
    data_dir: Path, folder: Path, xp: Callable[..., Result]
) -> None:
    result = xp("simulate", "sim", "--baseline", 0.6, "--lift", 1.0)
    assert result.exit_code == 2 and "outside (0, 1]" in result.output


@pytest.mark.parametrize(
    ("condition", "values"),
    [
        (None, {}),
        ({"country": "US"}, {"country": ["US"]}),
        ({"country": {"$in": ["US", "CA"]}}, {"country": ["US", "CA"]}),
        ({"$and": [{"days": {"$lte": 7}}, {"plan": {"$ne": "x"}}]}, {"days": [7]}),
        ({"$or": [{"a": 1}, {"a": {"$gt": 3}}]}, {"a": [1, 4]}),
        ({"v": {"$vgte": "2.0.0"}, "e": {"$exists": True}}, {"v": ["2.0.0"], "e": ["yes"]}),
    ],
)
def test_targeting_values(condition: Any, values: dict[str, list[Any]]) -> None:
    assert targeting_values(condition) == values


def test_event_plans(folder: Path) -> None:
    definition = load_directory(folder).definitions["sim"]
    plans = {p.name: p for p in event_plans(definition)}
    assert plans["purchase"].lifted and plans["purchase"].window == (0.0, 7.0)
    assert plans["click"].follows == "search" and not plans["click"].lifted
    assert [p.name for p in event_plans(definition)][-1] == "click"
