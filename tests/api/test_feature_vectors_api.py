"""The feature vectors through ``POST /v1/evaluate`` and the SDK fed by ``/v1/config``: the
same answers as the engine (tests/client/test_feature_vectors.py), case by case."""

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
from xp_client.features import UNKNOWN_FEATURE

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "feature_vectors.json").read_text()
)
KEYS = {"production": "k-prod", "staging": "k-stage", "dev": "k-dev"}


def write_definitions(root: Path) -> tuple[Path, Path]:
    """The vectors' experiments and features as YAML files, as a user would write them."""
    experiments, features = root / "experiments", root / "features"
    experiments.mkdir()
    features.mkdir()
    for e in VECTORS["experiments"]:
        (experiments / f"{e['key']}.yaml").write_text(yaml.safe_dump(e))
    for f in VECTORS["features"]:
        (features / f"{f['key']}.yaml").write_text(yaml.safe_dump(f))
    return experiments, features


@pytest.fixture
def vector_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    experiments, features = write_definitions(tmp_path)
    keys = ",".join(f"{key}:sdk:{env}" for env, key in KEYS.items())
    return make_app(experiments_dir=str(experiments), features_dir=str(features), api_keys=keys)


def auth(environment: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[environment]}"}


def evaluated(client: FlaskClient, case: dict[str, Any]) -> dict[str, Any]:
    attrs = {k: v for k, v in case["attributes"].items() if k != "user_id"}
    body = {"user_id": case["attributes"]["user_id"], "attributes": attrs, "log_exposure": False}
    response = client.post(
        "/v1/evaluate",
        json={**body, "features": [case["feature"]]},
        headers=auth(case["environment"]),
    )
    assert response.status_code == 200, response.json
    got = response.json["features"].get(case["feature"])
    if got is None:
        assert response.json["unknown_features"] == [case["feature"]]
        return {"value": None, "source": UNKNOWN_FEATURE, "rule_index": None}
    return dict(got)


def test_the_refused_file_is_reported_and_the_rest_served(vector_app: Flask) -> None:
    problems = vector_app.extensions["xp"].registry.problems
    assert [(Path(p.file).name, p.path) for p in problems] == [
        ("bad-type.yaml", "environments.production.rules.0.value"),
        ("bad-type.yaml", "environments.staging.rules.0.value"),
    ]


def test_every_vector_through_the_api_and_the_sdk(vector_app: Flask) -> None:
    client = vector_app.test_client()
    sdks = {}
    for environment in KEYS:
        config = client.get("/v1/config", headers=auth(environment)).json
        assert config["environment"] == environment
        sdks[environment] = Client.offline(config)
    mismatches = []
    for case in VECTORS["cases"]:
        api = evaluated(client, case)
        sdk = sdks[case["environment"]].evaluate(case["feature"], attributes=case["attributes"])
        if not api == sdk.to_dict() == case["expected"]:
            mismatches.append((case, api, sdk.to_dict()))
    assert mismatches == []
    assert len(VECTORS["cases"]) >= 100
