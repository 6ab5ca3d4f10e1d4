"""A broken feature file is refused alone: the other files reload, kill switches included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from flask import Flask

from tests.api.test_features_api import ATTRS, app_with, feature


def evaluate(app: Flask, *keys: str) -> dict[str, Any]:
    body = {"user_id": "u-1", "attributes": ATTRS, "features": list(keys), "log_exposure": False}
    got: dict[str, Any] = app.test_client().post("/v1/evaluate", json=body).json
    return got


def reload(app: Flask) -> None:
    app.extensions["xp"].registry.reload()


def reported(app: Flask) -> list[tuple[str, str]]:
    health = app.test_client().get("/healthz").json
    assert health["status"] == ("degraded" if health["problems"] else "ok")
    return [(Path(p["file"]).name, p["path"]) for p in health["problems"]]


def test_a_broken_file_does_not_block_a_kill_switch_or_a_new_file(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_with(
        make_app, tmp_path, feature(default=False, environments={"production": {"enabled": True}})
    )
    folder = tmp_path / "features"
    assert evaluate(app, "new-checkout")["features"]["new-checkout"]["source"] == "default"
    (folder / "wrongtype.yaml").write_text(yaml.safe_dump(feature(key="wrongtype", default="no")))
    (folder / "new-checkout.yaml").write_text(
        yaml.safe_dump(feature(environments={"production": {"enabled": False}}))
    )
    (folder / "banner.yaml").write_text(
        yaml.safe_dump(
            feature(key="banner", type="string", default="blue", environments={"production": {}})
        )
    )
    reload(app)
    got = evaluate(app, "new-checkout", "banner", "wrongtype")
    assert got["features"]["new-checkout"]["source"] == "disabled"  # the kill switch holds
    assert got["features"]["banner"]["value"] == "blue"
    assert got["unknown_features"] == ["wrongtype"]
    assert reported(app) == [("wrongtype.yaml", "default")]


def test_a_broken_live_feature_keeps_its_last_good_and_a_dependent_serves_its_default(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    parent = feature(key="payments-v2", environments={"production": {"rules": [{"value": True}]}})
    child = feature(
        prerequisites=[{"feature": "payments-v2", "value": True}],
        environments={"production": {"rules": [{"value": True}]}},
    )
    app = app_with(make_app, tmp_path, parent, child)
    assert evaluate(app, "new-checkout")["features"]["new-checkout"]["value"] is True
    folder = tmp_path / "features"
    (folder / "payments-v2.yaml").write_text(yaml.safe_dump({**parent, "default": "no"}))
    reload(app)
    # The parent's file is refused: its last good definition stays, so the child is unchanged.
    got = evaluate(app, "payments-v2", "new-checkout")["features"]
    assert got["payments-v2"]["value"] is True and got["new-checkout"]["value"] is True
    (folder / "payments-v2.yaml").unlink()
    reload(app)
    # The parent is gone: the child is reported and serves its default as a failed prerequisite.
    got = evaluate(app, "new-checkout")["features"]
    assert got["new-checkout"] == {"value": False, "source": "prerequisite", "rule_index": None}
    assert reported(app) == [("new-checkout.yaml", "prerequisites.0.feature")]


def test_a_broken_experiment_file_does_not_block_features(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_with(make_app, tmp_path, feature(environments={"production": {"enabled": True}}))
    (tmp_path / "experiments" / "broken.yaml").write_text("key: [unclosed\n")
    (tmp_path / "features" / "new-checkout.yaml").write_text(
        yaml.safe_dump(feature(environments={"production": {"enabled": False}}))
    )
    reload(app)
    assert evaluate(app, "new-checkout")["features"]["new-checkout"]["source"] == "disabled"
    assert "checkout-button" in app.extensions["xp"].registry.current().definitions
    assert [name for name, _ in reported(app)] == ["broken.yaml"]


def test_an_unquoted_yes_or_no_on_a_string_feature_says_quote_it(tmp_path: Path) -> None:
    from xp.definitions.features import load_features

    (tmp_path / "answer.yaml").write_text(
        "key: answer\ntype: string\ndefault: no\n"
        "environments:\n  production:\n    rules: [{value: on}]\n"
    )
    (tmp_path / "flag.yaml").write_text(
        'key: flag\ndefault: "no"\nenvironments: {production: {enabled: true}}\n'
    )
    found = {
        (p.file.rsplit("/", 1)[-1], p.path): str(p) for p in load_features(tmp_path, {}).problems
    }
    hint = 'is a boolean in YAML: quote it, as in "no")'
    assert (
        hint in found[("answer.yaml", "default")]
        and "(got False)" in found[("answer.yaml", "default")]
    )
    assert hint in found[("answer.yaml", "environments.production.rules.0.value")]
    # Quoted "no" on a boolean feature is the README's example, and needs no YAML hint.
    assert found[("flag.yaml", "default")].endswith("default: must be a boolean value (got 'no')")
