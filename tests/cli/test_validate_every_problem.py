"""``xp validate`` lists every problem of a file in one pass, or says which checks wait."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.api.test_features_api import folders

FEATURE = {
    "key": "new-checkout",
    "default": False,
    "colour": "green",  # unknown field
    "prerequisites": [{"feature": "payments-v3", "value": True}],  # no such feature
    "environments": {
        "production": {
            "rules": [
                {"condition": {"email": {"$regex": "(a+)+$"}}, "value": True},  # unsafe
                {"experiment": "checkout-button", "values": {"green": True}},  # no control
            ]
        }
    },
}


def validate(experiments: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(experiments)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    return done.returncode, done.stderr.splitlines()


def test_a_feature_file_gets_its_four_problems_at_once(tmp_path: Path) -> None:
    experiments, features = folders(tmp_path, FEATURE)
    code, lines = validate(experiments)
    assert code == 1
    name = str(features / "new-checkout.yaml")
    paths = sorted(line[len(name) + 2 :].split(":")[0] for line in lines if line.startswith(name))
    assert paths == [
        "colour",
        "environments.production.rules.0.condition.email.$regex",
        "environments.production.rules.1.values",
        "prerequisites.0.feature",
    ], lines
    assert lines[-1] == "1 of 2 files refused, 4 problems"


def test_a_broken_experiment_file_says_which_checks_wait(tmp_path: Path) -> None:
    experiments, _ = folders(tmp_path)
    broken = yaml.safe_load((experiments / "checkout-button.yaml").read_text())
    (experiments / "other.yaml").write_text(yaml.safe_dump({**broken, "colour": 1}))
    code, lines = validate(experiments)
    assert code == 1
    other = str(experiments / "other.yaml")
    assert any(line.startswith(f"{other}: colour") for line in lines), lines
    assert (
        f"{other}: 2 more checks skipped until this file is valid (unique key, layer range)"
        in lines
    )


def test_a_folder_that_is_not_there_reads_no_file(tmp_path: Path) -> None:
    code, lines = validate(tmp_path / "nope")
    assert code == 1
    assert lines == [f"{tmp_path / 'nope'}: is not a directory", "no file read, 1 problem"]


def test_a_feature_on_a_refused_experiment_is_not_called_a_typo(tmp_path: Path) -> None:
    feature = {k: v for k, v in FEATURE.items() if k not in ("colour", "prerequisites")}
    experiments, features = folders(tmp_path, feature)
    broken = yaml.safe_load((experiments / "checkout-button.yaml").read_text())
    (experiments / "checkout-button.yaml").write_text(yaml.safe_dump({**broken, "colour": 1}))
    code, lines = validate(experiments)
    assert code == 1
    where = f"{features / 'new-checkout.yaml'}: environments.production.rules.1.experiment"
    assert f"{where}: no valid experiment has this key (got 'checkout-button')" in lines, lines
