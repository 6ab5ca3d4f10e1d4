"""``POST /v1/assign`` agrees with the engine on the pinned vectors and the examples."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "assignment_vectors.json").read_text()
)


def configs() -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for case in VECTORS["assignments"]:
        seen.setdefault(json.dumps(case["experiment"], sort_keys=True), case["experiment"])
    return list(seen.values())


@pytest.mark.parametrize("config", configs(), ids=lambda c: json.dumps(c, sort_keys=True)[:60])
def test_endpoint_passes_the_vectors(
    config: dict[str, Any], tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "vec.yaml").write_text(json.dumps({**config, "name": "vector"}))
    client = make_app(experiments_dir=str(tmp_path / "exp")).test_client()
    cases = [c for c in VECTORS["assignments"] if c["experiment"] == config]
    assert cases
    checked = 0
    for case in cases:
        attrs = dict(case["attributes"])
        user_id = attrs.pop("user_id")
        if not user_id:
            continue  # the API refuses an empty user_id before any assignment
        response = client.post(
            "/v1/assign",
            json={"user_id": user_id, "attributes": attrs, "log_exposure": False},
        )
        assert response.status_code == 200, response.json
        got = response.json["assignments"][config["key"]]
        expected = case["expected"]
        assert (got["variant"], got["in_experiment"], got["reason"]) == (
            expected["variant"],
            expected["in_experiment"],
            expected["reason"],
        )
        payloads = {v["key"]: v.get("payload") for v in config["variants"]}
        assert got["payload"] == payloads.get(got["variant"])
        checked += 1
    assert checked


def test_assign_all_live_experiments(client: FlaskClient) -> None:
    response = client.post(
        "/v1/assign",
        json={
            "user_id": "u-1",
            "attributes": {"country": "US", "app_version": "2.3.0"},
            "log_exposure": False,
        },
    )
    assert response.status_code == 200
    assignments = response.json["assignments"]
    assert set(assignments) == {
        "checkout-button",
        "search-ranking",
        "search-autocomplete",
        "onboarding-checklist",
        "pricing-page",
    }
    assert assignments["pricing-page"] == {
        "variant": "annual-first",
        "payload": {"default_period": "annual"},
        "in_experiment": False,
        "reason": "shipped",
    }
    search = [assignments["search-ranking"]["reason"], assignments["search-autocomplete"]["reason"]]
    assert "not_in_layer_range" in search


def test_assign_named_experiments_and_unknown_ones(client: FlaskClient) -> None:
    response = client.post(
        "/v1/assign",
        json={
            "user_id": "qa-user-1",
            "experiments": ["checkout-button", "nope"],
            "log_exposure": False,
        },
    )
    body = response.json
    assert list(body["assignments"]) == ["checkout-button"]
    assert body["assignments"]["checkout-button"]["reason"] == "override"
    assert body["assignments"]["checkout-button"]["variant"] == "green"
    assert body["unknown_experiments"] == ["nope"]
