"""The holdout vectors through ``POST /v1/assign``, ``POST /v1/evaluate`` and the SDK fed by
``/v1/config``: the engine's answers (tests/client/test_holdout_vectors.py), and the holdout
exposures the service logs are exactly the ones the cases pin, once per unit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from xp_client import Client
from xp_client.transport import FakeTransport

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "holdout_vectors.json").read_text()
)
AUTH = {"Authorization": "Bearer k-prod"}


def write_definitions(root: Path) -> dict[str, str]:
    """The vectors' definitions as YAML files in three folders; their settings."""
    folders = {}
    for name in ("experiments", "features", "holdouts"):
        folder = root / name
        folder.mkdir()
        for item in VECTORS[name]:
            (folder / f"{item['key']}.yaml").write_text(yaml.safe_dump(item))
        folders[f"{name}_dir"] = str(folder)
    return folders


@pytest.fixture
def vector_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(**write_definitions(tmp_path), api_keys="k-prod:sdk:production")


def answer(client: FlaskClient, case: dict[str, Any], log: bool) -> dict[str, Any]:
    route, field, out = (
        ("/v1/assign", "experiments", "assignments")
        if case["kind"] == "experiment"
        else ("/v1/evaluate", "features", "features")
    )
    body = {"user_id": case["user_id"], field: [case["key"]], "log_exposure": log}
    response = client.post(route, json=body, headers=AUTH)
    assert response.status_code == 200, response.json
    return dict(response.json[out][case["key"]])


def test_every_vector_through_the_api_and_the_sdk(vector_app: Flask) -> None:
    assert vector_app.extensions["xp"].registry.problems == []
    client = vector_app.test_client()
    config = client.get("/v1/config", headers=AUTH).json
    assert [h["key"] for h in config["holdouts"]] == ["vec-holdout", "vec-stopped"]
    assert {e["key"] for e in config["experiments"]} == {"ho-exp", "free-exp"}
    transport = FakeTransport()
    sdk = Client.offline(config, transport=transport)
    mismatches = []
    for case in VECTORS["cases"]:
        api = answer(client, case, log=True)
        if case["kind"] == "experiment":
            local = sdk.get_variant(case["key"], case["user_id"]).to_dict()
        else:
            local = sdk.evaluate(case["key"], case["user_id"]).to_dict()
        if not api == local == case["expected"]:
            mismatches.append((case, api, local))
    assert mismatches == []

    # Every unit the cases log for a holdout is exposed once, in its group, nowhere else.
    pinned: dict[str, dict[str, str]] = {}
    for case in VECTORS["cases"]:
        for holdout, group in case["holdout_exposures"].items():
            pinned.setdefault(holdout, {})[case["user_id"]] = group
    rt = vector_app.extensions["xp"]
    assert rt.exposures.flush(timeout=10)
    definition = rt.registry.current().definitions["vec-holdout"]
    stored = {row.unit_id: row.variant for row in rt.store.iter_units(definition)}
    assert stored == pinned["vec-holdout"] and "vec-stopped" not in pinned
    assert sdk.flush(timeout=5)
    sent = [
        (e["experiment"], e["user_id"], e["variant"])
        for r in transport.requests
        if r.path == "/v1/events" and r.body
        for e in r.body["events"]
        if e["experiment"] in ("vec-holdout", "vec-stopped")
    ]
    assert sorted(sent) == sorted(("vec-holdout", u, g) for u, g in pinned["vec-holdout"].items())


def test_assign_without_a_list_leaves_the_holdouts_out(vector_app: Flask) -> None:
    client = vector_app.test_client()
    response = client.post("/v1/assign", json={"user_id": "h-1"}, headers=AUTH)
    assert set(response.json["assignments"]) == {"ho-exp", "free-exp"}
