"""``xp report --chance-to-win/--risk-threshold``: the Bayesian rule from the command line, on
a real SQLite store seeded with hand-made units, checked like the results API's parameters."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support import seed as seeded
from xp.cli import cli
from xp.store import open_store


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("thresholds")
    store = open_store(None, root / "data")
    try:
        seeded.seed(root / "experiments", store, time.time(), 600)
    finally:
        store.close()
    return root / "experiments", root / "data"


def report(folders: tuple[Path, Path], *args: str) -> Result:
    experiments, data = folders
    return CliRunner().invoke(
        cli,
        ["report", seeded.KEY, "--experiments", str(experiments), *args],
        env={"XP_DATA_DIR": str(data), "XP_STORE_URL": ""},
    )


def test_the_options_set_the_rule_the_document_applies(folders: tuple[Path, Path]) -> None:
    default = json.loads(report(folders, "--method", "bayesian", "--format", "json").output)
    result = report(
        folders,
        "--method",
        "bayesian",
        "--format",
        "json",
        "--chance-to-win",
        "0.6",
        "--risk-threshold",
        "0.5",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["bayesian"]["chance_to_win"] == 0.6
    assert document["bayesian"]["risk_threshold"] == 0.5
    assert default["bayesian"]["chance_to_win"] == 0.95

    # The same comparisons, read against a looser rule: at least as many are significant.
    def significant(doc: dict) -> int:
        return sum(c["significant"] for m in doc["metrics"] for c in m["comparisons"])

    assert significant(document) >= significant(default)


def test_the_markdown_report_states_the_rule_it_used(folders: tuple[Path, Path]) -> None:
    result = report(folders, "--method", "bayesian", "--chance-to-win", "0.9")
    assert result.exit_code == 0, result.output
    assert "chance to win >= 90.0%" in result.output


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (("--method", "bayesian", "--chance-to-win", "1"), "--chance-to-win", "below 1"),
        (("--method", "bayesian", "--chance-to-win", "0.4"), "--chance-to-win", "at least 0.5"),
        (("--method", "bayesian", "--chance-to-win", "nan"), "--chance-to-win", "'nan'"),
        (("--method", "bayesian", "--risk-threshold", "-1"), "--risk-threshold", "0 or more"),
        (("--method", "bayesian", "--risk-threshold", "inf"), "--risk-threshold", "'inf'"),
        (("--method", "bayesian", "--risk-threshold", "lots"), "--risk-threshold", "'lots'"),
        (("--chance-to-win", "0.9"), "--chance-to-win", "method=bayesian only"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option(
    folders: tuple[Path, Path], args: tuple[str, ...], option: str, message: str
) -> None:
    result = report(folders, *args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.output and message in result.output
    assert "Traceback" not in result.output
