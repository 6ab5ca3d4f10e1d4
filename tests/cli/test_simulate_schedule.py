"""``xp simulate`` keeps to the schedule: exposures never before ``start``, none after ``end``."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import Result

from xp.definitions.loader import load_directory
from xp.store import open_store

DAY = 86_400.0


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write(experiments: Path, **window: Any) -> None:
    experiments.mkdir(parents=True, exist_ok=True)
    experiment = {
        "key": "sim",
        "name": "Simulated",
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
        "metrics": [{"name": "purchased", "event": "purchase", "kind": "binomial"}],
        **window,
    }
    (experiments / "sim.yaml").write_text(yaml.safe_dump(experiment))


def test_exposures_start_no_earlier_than_the_start(
    xp: Callable[..., Result], experiments: Path, data_dir: Path
) -> None:
    start = time.time() - 2 * DAY
    write(experiments, start=iso(start))
    result = xp("simulate", "sim", "--units", 300, "--days", 14, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert ", 0 rejected" in result.output
    store = open_store(None, data_dir)
    try:
        units = list(store.iter_units(load_directory(experiments).definitions["sim"]))
    finally:
        store.close()
    assert len(units) == 300
    assert min(u["first_exposure"] for u in units) >= int(start)


def test_an_ended_or_future_experiment_is_refused(
    xp: Callable[..., Result], experiments: Path, data_dir: Path
) -> None:
    now = time.time()
    for window, words in (({"end": iso(now - DAY)}, "has ended"),
                          ({"start": iso(now + DAY)}, "has not started")):  # fmt: skip
        write(experiments, **window)
        result = xp("simulate", "sim", "--units", 10)
        assert result.exit_code != 0 and words in result.output, result.output
        assert "Traceback" not in result.output
