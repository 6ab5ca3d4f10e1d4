"""End to end, through a real ``xp serve``: the SDK exposes float ids and tracks int ids (and
the other way round), and each unit's exposure meets its conversion; a scheduled experiment
that has not started or has ended logs nothing."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.service_process import running_service
from xp_client import Client

pytestmark = pytest.mark.slow

DAY = 86_400.0


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def experiment(key: str, **window: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
        "metrics": [{"name": "bought", "kind": "binomial", "event": "purchase"}],
        **window,
    }


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_float_and_int_ids_meet_and_windows_log_nothing_outside(tmp_path: Path) -> None:
    now = time.time()
    folder = tmp_path / "experiments"
    folder.mkdir()
    for exp in (
        experiment("ids"),
        experiment("later", start=iso(now + DAY)),
        experiment("over", start=iso(now - 2 * DAY), end=iso(now - DAY)),
    ):
        (folder / f"{exp['key']}.yaml").write_text(json.dumps(exp))
    with running_service(folder, tmp_path / "data") as url:
        with Client(url, flush_interval=0.2) as xp:
            assert xp.ready
            for i in range(1, 101):
                exposed, tracked = (float(i), i) if i % 2 else (i, float(i))
                assert xp.get_variant("ids", user_id=exposed).in_experiment
                assert xp.get_variant("later", user_id=exposed).reason == "not_started"
                assert xp.get_variant("over", user_id=exposed).reason == "ended"
                xp.track("purchase", user_id=tracked)
            assert xp.flush(timeout=30)
            assert xp.stats()["dropped_invalid"] == 0
        results = get_json(f"{url}/v1/experiments/ids/results")
        bought = next(m for m in results["metrics"] if m["name"] == "bought")
        assert sum(results["units"].values()) == 100
        assert sum(row["sum"] for row in bought["variants"]) == 100  # every conversion met
        assert results["diagnostics"].get("not_exposed", 0) == 0
        for key in ("later", "over"):
            assert sum(get_json(f"{url}/v1/experiments/{key}/results")["units"].values()) == 0
