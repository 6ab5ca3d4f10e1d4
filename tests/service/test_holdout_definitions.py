"""Holdout files: validation problems name the file, the field and the value; ``xp validate``
exits non-zero with them; the registry picks a new holdout file up on reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from xp.cli import cli
from xp.definitions.features import load_features
from xp.definitions.holdouts import load_holdouts
from xp.definitions.loader import load_directory
from xp.definitions.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "key": "q4-holdout",
    "share": 0.05,
    "applies_to": {"experiments": ["checkout-button"], "features": ["new-checkout"]},
    "metrics": [{"name": "purchase_rate", "event": "purchase", "kind": "binomial"}],
}


def problems(tmp_path: Path, *documents: Any) -> list[tuple[str, str, Any]]:
    folder = tmp_path / "holdouts"
    folder.mkdir()
    for i, document in enumerate(documents):
        (folder / f"h{i}.yaml").write_text(yaml.safe_dump(document))
    experiments = load_directory(ROOT / "experiments").definitions
    features = load_features(ROOT / "features", experiments).features
    found = load_holdouts(folder, experiments, features).problems
    return [(Path(p.file).name, p.path, p.to_dict().get("value")) for p in found]


def test_the_repository_holdout_is_valid() -> None:
    experiments = load_directory(ROOT / "experiments").definitions
    features = load_features(ROOT / "features", experiments).features
    load = load_holdouts(ROOT / "holdouts", experiments, features)
    assert load.problems == [] and list(load.holdouts) == ["global-holdout"]
    definition = load.holdouts["global-holdout"].definition
    assert definition.variant_keys == ("holdout", "comparison")
    assert definition.experiment.coverage == pytest.approx(0.1)
    assert [m.name for m in definition.metrics] == ["purchase_rate", "revenue_per_user"]


@pytest.mark.parametrize(
    ("change", "path", "value"),
    [
        ({"share": 0}, "share", 0),
        ({"share": 1}, "share", 1),
        ({"share": 0.6}, "share", 0.6),
        ({"share": "5%"}, "share", "5%"),
        ({"share": True}, "share", True),
        ({"status": "shipped"}, "status", "shipped"),
        ({"applies_to": "some"}, "applies_to", "some"),
        ({"applies_to": {"flags": ["x"]}}, "applies_to", {"flags": ["x"]}),
        ({"applies_to": {"experiments": "checkout-button"}}, "applies_to.experiments",
         "checkout-button"),
        ({"applies_to": {"experiments": ["nope"]}}, "applies_to.experiments.0", "nope"),
        ({"applies_to": {"features": ["checkout-button"]}}, "applies_to.features.0",
         "checkout-button"),
        ({"key": "Bad Key"}, "key", "Bad Key"),
        ({"key": "checkout-button"}, "key", "checkout-button"),
        ({"key": "new-checkout"}, "key", "new-checkout"),
        ({"metrics": [{"name": "m", "kind": "median", "event": "e"}]}, "metrics.0.kind", "median"),
        ({"colour": "red"}, "colour", None),
    ],
)  # fmt: skip
def test_each_problem_names_the_field(
    tmp_path: Path, change: dict[str, Any], path: str, value: Any
) -> None:
    assert problems(tmp_path, {**GOOD, **change}) == [("h0.yaml", path, value)]


def test_duplicate_keys_and_a_non_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD, GOOD, ["a", "list"]) == [
        ("h1.yaml", "key", "q4-holdout"),
        ("h2.yaml", "", ["a", "list"]),
    ]


def test_xp_validate_names_file_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "holdouts"
    folder.mkdir()
    (folder / "bad.yaml").write_text(yaml.safe_dump({**GOOD, "share": 0.9}))
    args = ["validate", str(ROOT / "experiments"), "--features", str(ROOT / "features")]
    result = CliRunner().invoke(cli, [*args, "--holdouts", str(folder)])
    assert result.exit_code == 1
    assert f"{folder / 'bad.yaml'}: share: must be a number above 0" in result.output
    good = CliRunner().invoke(cli, args)  # the holdouts folder beside experiments/
    assert good.exit_code == 0, good.output
    assert "1 holdouts OK" in good.output


def test_the_registry_serves_and_reloads_holdouts(tmp_path: Path) -> None:
    folder = tmp_path / "holdouts"
    folder.mkdir()
    registry = Registry(
        ROOT / "experiments",
        reload_interval=0,
        features_dir=ROOT / "features",
        holdouts_dir=folder,
    )
    assert registry.holdout_for_experiment("checkout-button") is None
    (folder / "h.yaml").write_text(yaml.safe_dump(GOOD))
    snapshot = registry.current()
    assert registry.holdout_for_experiment("checkout-button") == "q4-holdout"
    assert registry.holdout_for_experiment("pricing-page") is None
    assert registry.holdout_for_feature("new-checkout") == "q4-holdout"
    assert registry.holdout_for_feature("payments-v2") is None
    assert "q4-holdout" in snapshot.definitions  # analysed as an experiment
    document, _ = snapshot.config_for("production")
    assert [h["key"] for h in document["holdouts"]] == ["q4-holdout"]
    assert "q4-holdout" not in {e["key"] for e in document["experiments"]}
    (folder / "h.yaml").write_text(yaml.safe_dump({**GOOD, "share": 7}))
    registry.current()  # a broken file keeps the last good set
    assert registry.holdout_for_experiment("checkout-button") == "q4-holdout"
    assert [p.path for p in registry.problems] == ["share"]
