"""``xp report`` with the results document stubbed: options, formats, output, errors."""

from __future__ import annotations

import csv
import importlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.sample_results import sample_results
from xp.cli import cli
from xp.definitions.model import Definition
from xp.runtime import Runtime

# service.cli.report the module, not the command of the same name that service.cli exports
report_module = importlib.import_module("xp.cli.report")
EXPERIMENTS = str(Path(__file__).resolve().parents[2] / "experiments")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str, float]]:
    seen: list[tuple[str, str, float]] = []

    def fake(definition: Definition, runtime: Runtime, method: str, alpha: float) -> Any:
        seen.append((definition.key, method, alpha))
        return sample_results(method=method, alpha=alpha)

    monkeypatch.setattr(report_module, "experiment_results", fake)
    monkeypatch.setenv("XP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("XP_STORE_URL", raising=False)
    return seen


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["report", *args, "--experiments", EXPERIMENTS])


def test_markdown_by_default(calls: list[tuple[str, str, float]]) -> None:
    result = run("checkout-button")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Green checkout button")
    assert calls == [("checkout-button", "frequentist", 0.05)]


def test_csv_parses(calls: list[tuple[str, str, float]]) -> None:
    result = run("checkout-button", "--format", "csv", "--method", "sequential")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 12 and {r["method"] for r in rows} == {"sequential"}
    assert calls == [("checkout-button", "sequential", 0.05)]


def test_json_and_alpha(calls: list[tuple[str, str, float]]) -> None:
    result = run("checkout-button", "--format", "json", "--alpha", "0.1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["alpha"] == 0.1
    assert calls[0][2] == 0.1


def test_html_to_a_file(calls: list[tuple[str, str, float]], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("checkout-button", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert f"wrote {out}" in result.output


def test_unknown_experiment_lists_the_known_ones(calls: list[tuple[str, str, float]]) -> None:
    result = run("nope")
    assert result.exit_code == 1
    assert "no experiment 'nope'" in result.output and "checkout-button" in result.output
    assert calls == []


@pytest.mark.parametrize(
    "args", [("checkout-button", "--format", "pdf"), ("checkout-button", "--alpha", "1.5")]
)
def test_bad_options_are_usage_errors(
    calls: list[tuple[str, str, float]], args: tuple[str, ...]
) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert calls == []
