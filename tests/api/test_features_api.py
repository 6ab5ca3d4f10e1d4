"""``POST /v1/evaluate``, ``GET /v1/features``, feature exposures and ``xp validate``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from tests.conftest import EXPERIMENTS_DIR

ATTRS = {"country": "US", "app_version": "2.4.1", "email": "x@y.z"}
RULES = [
    {"condition": {"email": {"$regex": "@example\\.com$"}}, "value": True},
    {"experiment": "checkout-button", "values": {"control": False, "green": True}},
]


def feature(**changes: Any) -> dict[str, Any]:
    return {
        "key": "new-checkout",
        "type": "boolean",
        "default": False,
        "environments": {"production": {"enabled": True, "rules": RULES}},
        **changes,
    }


def folders(root: Path, *features: dict[str, Any]) -> tuple[Path, Path]:
    experiments, feature_dir = root / "experiments", root / "features"
    experiments.mkdir()
    feature_dir.mkdir()
    shutil.copy(EXPERIMENTS_DIR / "checkout-button.yaml", experiments)
    for f in features:
        (feature_dir / f"{f['key']}.yaml").write_text(yaml.safe_dump(f))
    return experiments, feature_dir


def app_with(make_app: Callable[..., Flask], root: Path, *features: dict[str, Any]) -> Flask:
    experiments, feature_dir = folders(root, *features)
    return make_app(experiments_dir=str(experiments))  # features beside experiments: default


def stored_units(app: Flask) -> dict[str, str]:
    runtime = app.extensions["xp"]
    assert runtime.exposures.flush(timeout=10)
    definition = runtime.registry.current().definitions["checkout-button"]
    return {row.unit_id: row.variant for row in runtime.store.iter_units(definition)}


def test_an_experiment_rule_logs_one_exposure_per_unit(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_with(make_app, tmp_path, feature())
    client = app.test_client()
    answers = {}
    for _ in range(2):
        for i in range(120):
            body = {"user_id": f"u-{i}", "attributes": ATTRS, "features": ["new-checkout"]}
            answers[f"u-{i}"] = client.post("/v1/evaluate", json=body).json["features"]
    staff = {"user_id": "staff", "attributes": {**ATTRS, "email": "a@example.com"}}
    assert client.post("/v1/evaluate", json=staff).json["features"]["new-checkout"] == {
        "value": True,
        "source": "force",
        "rule_index": 0,
    }
    units = stored_units(app)
    assert units == {u: a["new-checkout"]["variant"] for u, a in answers.items()}
    assert all(a["new-checkout"]["value"] is (units[u] == "green") for u, a in answers.items())
    results = client.get("/v1/experiments/checkout-button/results").json
    assert sum(results["units"].values()) == 120  # each unit once, though evaluated twice


def test_a_kill_switch_serves_the_default_and_logs_nothing(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    killed = feature(default=True, environments={"production": {"enabled": False, "rules": RULES}})
    app = app_with(make_app, tmp_path, killed)
    client = app.test_client()
    for i in range(100):
        got = client.post("/v1/evaluate", json={"user_id": f"u-{i}", "attributes": ATTRS}).json
        assert got["features"]["new-checkout"] == {
            "value": True,
            "source": "disabled",
            "rule_index": None,
        }
    assert stored_units(app) == {}


def test_log_exposure_false_and_units_outside_log_nothing(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_with(make_app, tmp_path, feature())
    client = app.test_client()
    body = {"user_id": "u-1", "attributes": ATTRS, "log_exposure": False}
    assert client.post("/v1/evaluate", json=body).json["features"]["new-checkout"]["source"] == (
        "experiment"
    )
    untargeted = {"user_id": "u-2", "attributes": {"country": "DE", "app_version": "2.4.1"}}
    got = client.post("/v1/evaluate", json=untargeted).json["features"]["new-checkout"]
    assert got == {"value": False, "source": "default", "rule_index": None}
    assert stored_units(app) == {}


def test_bad_bodies_are_422_with_the_field(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    client = app_with(make_app, tmp_path, feature()).test_client()
    cases: list[tuple[Any, str]] = [
        ({"user_id": True}, "user_id"),
        ({"user_id": [1]}, "user_id"),
        ({"user_id": "u", "features": "new-checkout"}, "features"),
        ({"user_id": "u", "features": ["x" * 65]}, "features"),
        ({"user_id": "u", "attributes": [1]}, "attributes"),
        ({"user_id": "u", "log_exposure": "yes"}, "log_exposure"),
        ([1, 2], ""),
    ]
    for body, field in cases:
        response = client.post("/v1/evaluate", json=body)
        assert response.status_code == 422, body
        assert field in str(response.json), (body, response.json)
    unknown = client.post("/v1/evaluate", json={"user_id": "u", "features": ["nope"]}).json
    assert unknown == {"features": {}, "unknown_features": ["nope"]}
    huge = {"user_id": "u", "attributes": {"email": "x" * 50_000, "n": 1e308}}
    assert client.post("/v1/evaluate", json=huge).status_code == 200


def test_the_listing_shows_every_environment(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    both = feature(environments={"production": {"rules": RULES}, "staging": {"enabled": False}})
    client = app_with(make_app, tmp_path, both).test_client()
    listed = client.get("/v1/features").json["features"]
    assert [f["key"] for f in listed] == ["new-checkout"]
    assert listed[0]["environments"] == {
        "production": {"enabled": True, "rules": RULES},
        "staging": {"enabled": False, "rules": []},
    }
    page = client.get("/").get_data(as_text=True)
    assert "new-checkout" in page and "staging" in page and "checkout-button" in page
    assert (
        'experiment <a href="/experiments/checkout-button">checkout-button</a>'
        " (control → false, green → true)" in page
    )
    assert "off (kill switch" in page  # staging is disabled


BAD = {
    "cycle-a": feature(key="cycle-a", prerequisites=[{"feature": "cycle-b", "value": True}]),
    "cycle-b": feature(key="cycle-b", prerequisites=[{"feature": "cycle-a", "value": True}]),
    "wrong-type": feature(key="wrong-type", default="no"),
    "unknown-exp": feature(
        key="unknown-exp",
        environments={"production": {"rules": [{"experiment": "nope", "values": {"a": True}}]}},
    ),
    "unmapped": feature(
        key="unmapped",
        environments={
            "production": {"rules": [{"experiment": "checkout-button", "values": {"green": True}}]}
        },
    ),
}


def test_xp_validate_names_file_and_field_of_each_error(tmp_path: Path) -> None:
    experiments, features = folders(tmp_path, *BAD.values())
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(experiments)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()

    def line(name: str) -> str:
        found = [x for x in lines if x.startswith(str(features / f"{name}.yaml"))]
        assert len(found) == 1, (name, lines)
        return found[0]

    assert "prerequisites: cyclic prerequisite: cycle-a -> cycle-b -> cycle-a" in line("cycle-a")
    assert "cyclic prerequisite: cycle-b -> cycle-a -> cycle-b" in line("cycle-b")
    assert "default: must be a boolean value (got 'no')" in line("wrong-type")
    unknown = "environments.production.rules.0.experiment: no valid experiment has this key"
    assert f"{unknown} (got 'nope')" in line("unknown-exp")
    assert "environments.production.rules.0.values: must map every variant of 'checkout-button'"
    assert "missing ['control']" in line("unmapped")
    assert lines[-1] == "5 of 6 files refused, 5 problems"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"key": "x", "default": 1, "type": "boolean", "environments": {"p": {}}}, "default"),
        ({"key": "x", "default": False, "environments": {"p": {"rules": [{}]}}}, "rules.0.value"),
        (
            {
                "key": "x",
                "default": False,
                "environments": {"p": {"rules": [{"rollout": 2, "value": True}]}},
            },
            "rules.0.rollout",
        ),
        (
            {
                "key": "x",
                "default": False,
                "environments": {
                    "p": {"rules": [{"condition": {"a": {"$regex": "(a+)+"}}, "value": True}]}
                },
            },
            "rules.0.condition.a.$regex",
        ),
        ({"key": "x", "default": False, "environments": {}}, "environments"),
        ({"key": "X!", "default": False, "environments": {"p": {}}}, "key"),
        ({"key": "x", "default": False, "environments": {"p": {}}, "colour": 1}, "colour"),
        ({"key": "x", "type": "date", "default": 1, "environments": {"p": {}}}, "type"),
        ([1], ""),
    ],
)
def test_each_bad_field_is_named(raw: Any, path: str) -> None:
    from xp.definitions.features import parse_feature

    definition, problems = parse_feature(raw, "f.yaml")
    assert definition is None
    assert any(p.path.endswith(path) for p in problems), problems


def test_a_changed_file_reloads_and_a_broken_one_keeps_the_last_good(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_with(make_app, tmp_path, feature())
    client = app.test_client()
    first = client.get("/v1/config")
    assert first.json["features"][0]["rules"] == RULES
    path = tmp_path / "features" / "new-checkout.yaml"
    path.write_text(yaml.safe_dump(feature(environments={"production": {"enabled": False}})))
    second = client.get("/v1/config", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    assert second.json["features"][0]["enabled"] is False
    path.write_text("key: new-checkout\ndefault: [unclosed\n")
    third = client.get("/v1/config", headers={"If-None-Match": second.headers["ETag"]})
    assert third.status_code == 304  # the last good set stays
    health = client.get("/healthz").json
    assert health["status"] == "degraded"
    assert "new-checkout.yaml" in str(health)
