"""``XP_STICKY=1``: ``/v1/assign`` keeps each unit's variant in the store (SQLite and Redis).

The rule under test, end to end: weights changed before any data move no assigned unit;
once the experiment has data the guard refuses a weight change; a new phase re-buckets
everyone and its records start afresh; exposures log the variant served.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from xp.runtime import Runtime
from xp.settings import Settings
from xp.sticky import sticky_assignments
from xp.store.base import StoreError
from xp_client.definition import Experiment
from xp_client.engine import assign_variant

UNITS = [f"u-{i}" for i in range(300)]


def write(folder: Path, weights: tuple[float, float], phase: int = 1) -> None:
    definition = {
        "key": "exp",
        "name": "Sticky",
        "status": "running",
        "phase": phase,
        "variants": [
            {"key": "control", "weight": weights[0]},
            {"key": "treatment", "weight": weights[1]},
        ],
        "metrics": [{"name": "converted", "event": "purchase", "kind": "binomial"}],
    }
    (folder / "exp.yaml").write_text(json.dumps(definition))


def plain(weights: tuple[float, float], unit: str, phase: int = 1) -> str:
    experiment = Experiment.from_dict(
        {
            "key": "exp",
            "phase": phase,
            "variants": [
                {"key": "control", "weight": weights[0]},
                {"key": "treatment", "weight": weights[1]},
            ],
        }
    )
    return assign_variant(experiment, {"user_id": unit}).variant


def assign(client: FlaskClient, units: list[str], log_exposure: bool) -> dict[str, str]:
    out = {}
    for unit in units:
        response = client.post(
            "/v1/assign",
            json={"user_id": unit, "experiments": ["exp"], "log_exposure": log_exposure},
        )
        assert response.status_code == 200, response.json
        out[unit] = response.json["assignments"]["exp"]["variant"]
    return out


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {}
    url = str(request.getfixturevalue("redis_url")).rsplit("/", 1)[0] + "/7"
    with redis.Redis.from_url(url) as r:
        r.flushdb()
    return {"store_url": url}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "experiments"
    path.mkdir()
    write(path, (0.5, 0.5))
    return path


def test_weight_change_before_data_moves_no_assigned_unit(
    make_app: Callable[..., Flask], folder: Path, store_config: dict[str, Any]
) -> None:
    app = make_app(experiments_dir=str(folder), sticky=True, **store_config)
    client = app.test_client()
    before = assign(client, UNITS, log_exposure=False)
    assert before == {u: plain((0.5, 0.5), u) for u in UNITS}
    write(folder, (0.9, 0.1))
    after = assign(client, UNITS, log_exposure=True)
    assert after == before
    moved = [u for u in UNITS if plain((0.9, 0.1), u) != before[u]]
    assert len(moved) > 90  # the change would move ~40% without the store
    answer = client.post("/v1/assign", json={"user_id": moved[0], "experiments": ["exp"]})
    assert answer.json["assignments"]["exp"]["reason"] == "sticky"
    # The exposures carry the variant served; the store's units agree.
    rt: Runtime = app.extensions["xp"]
    assert rt.exposures.flush(timeout=10)
    definition = rt.registry.current().definitions["exp"]
    exposed = {row.unit_id: row.variant for row in rt.store.iter_units(definition)}
    assert exposed == before
    # New units follow the new weights.
    new = assign(client, [f"new-{i}" for i in range(300)], log_exposure=False)
    assert new == {u: plain((0.9, 0.1), u) for u in new}


def test_with_data_the_guard_holds_and_a_new_phase_starts_afresh(
    make_app: Callable[..., Flask], folder: Path, store_config: dict[str, Any]
) -> None:
    app = make_app(experiments_dir=str(folder), sticky=True, **store_config)
    client = app.test_client()
    rt: Runtime = app.extensions["xp"]
    before = assign(client, UNITS, log_exposure=True)
    assert rt.exposures.flush(timeout=10)
    write(folder, (0.9, 0.1))  # refused by the guard: phase 1 keeps 50/50
    assert assign(client, [f"new-{i}" for i in range(200)], log_exposure=False) == {
        f"new-{i}": plain((0.5, 0.5), f"new-{i}") for i in range(200)
    }
    write(folder, (0.9, 0.1), phase=2)
    phase2 = assign(client, UNITS, log_exposure=True)
    assert phase2 == {u: plain((0.9, 0.1), u, phase=2) for u in UNITS}
    assert phase2 != before
    # Each phase has its own records: phase 1's stay as they were, unread by phase 2.
    assert rt.store.sticky_variants([("exp@2", u) for u in UNITS[:50]]) == [
        phase2[u] for u in UNITS[:50]
    ]
    assert rt.store.sticky_variants([("exp@1", u) for u in UNITS[:50]]) == [
        before[u] for u in UNITS[:50]
    ]


def test_off_by_default(make_app: Callable[..., Flask], folder: Path) -> None:
    app = make_app(experiments_dir=str(folder))
    assert app.extensions["xp"].settings.sticky is False
    client = app.test_client()
    assign(client, UNITS, log_exposure=False)
    write(folder, (0.9, 0.1))
    assert assign(client, UNITS, log_exposure=False) == {u: plain((0.9, 0.1), u) for u in UNITS}


def test_setting_parses_and_refuses_typos() -> None:
    assert Settings.from_env({"XP_STICKY": "1"}).sticky is True
    assert Settings.from_env({}).sticky is False
    with pytest.raises(Exception, match="XP_STICKY"):
        Settings.from_env({"XP_STICKY": "maybe"})


class DownStore:
    """A store whose sticky calls fail as a Redis outage does (StoreError)."""

    def sticky_variants(self, records: Any, ttl: Any = None) -> Any:
        raise StoreError("Redis is down")

    def remember_variants(self, records: Any, ttl: Any = None) -> Any:
        raise StoreError("Redis is down")


def test_a_store_outage_serves_the_bucketed_variants(
    make_app: Callable[..., Flask], folder: Path
) -> None:
    app = make_app(experiments_dir=str(folder), sticky=True)
    definitions = app.extensions["xp"].registry.current().definitions
    engine = {"exp": assign_variant(definitions["exp"].experiment, {"user_id": "u-1"})}
    down = DownStore()
    got = sticky_assignments(engine, definitions, {"user_id": "u-1"}, lambda: down)  # type: ignore[arg-type,return-value]
    assert got == engine


def test_a_store_that_cannot_open_serves_the_bucketed_variants(
    make_app: Callable[..., Flask], folder: Path, tmp_path: Path
) -> None:
    # A SQLite path under a regular file cannot be opened: the request still answers.
    (tmp_path / "file").write_text("")
    url = f"sqlite:///{tmp_path}/file/store.sqlite3"
    app = make_app(experiments_dir=str(folder), sticky=True, store_url=url)
    got = assign(app.test_client(), ["u-1", "u-2"], log_exposure=False)
    assert got == {u: plain((0.5, 0.5), u) for u in ("u-1", "u-2")}


def test_a_removed_variant_is_bucketed_afresh_and_replaced(
    make_app: Callable[..., Flask], folder: Path, store_config: dict[str, Any]
) -> None:
    app = make_app(experiments_dir=str(folder), sticky=True, **store_config)
    store = app.extensions["xp"].store
    store.remember_variants([("exp@1", "u-1", "gone"), ("exp@1", "u-2", "treatment")])
    got = assign(app.test_client(), ["u-1", "u-2"], log_exposure=False)
    assert got == {"u-1": plain((0.5, 0.5), "u-1"), "u-2": "treatment"}
    assert store.sticky_variants([("exp@1", "u-1"), ("exp@1", "u-2")]) == [got["u-1"], "treatment"]
