"""``xp analyze [FILE|-]``: JSON in, JSON out; bad input exits non-zero naming the field."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from xp.cli import cli

REQUEST = {
    "metric": {"kind": "mean"},
    "weights": [0.5, 0.5],
    "variants": [
        {"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"key": "treatment", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}


def test_analyze_a_file(tmp_path: Path) -> None:
    source = tmp_path / "stats.json"
    source.write_text(json.dumps(REQUEST))
    result = CliRunner().invoke(cli, ["analyze", str(source)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    (row,) = document["results"]
    assert row["variant"] == "treatment"
    assert round(row["relative"]["estimate"], 5) == 0.70732
    assert round(row["relative"]["p_value"], 5) == 0.06191
    assert round(row["absolute"]["p_value"], 5) == 0.02016
    assert document["srm"]["observed"] == {"control": 3407, "treatment": 3461}


def test_analyze_stdin_sequential() -> None:
    request = {**REQUEST, "method": "sequential"}
    result = CliRunner().invoke(cli, ["analyze", "-"], input=json.dumps(request))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["method"] == "sequential"


def test_bad_input_names_the_file_and_field(tmp_path: Path) -> None:
    source = tmp_path / "bad.json"
    bad = json.loads(json.dumps(REQUEST))
    bad["variants"][1]["sum_squares"] = -1
    source.write_text(json.dumps(bad))
    result = CliRunner().invoke(cli, ["analyze", str(source)])
    assert result.exit_code == 2
    assert f"{source}: variants.1.sum_squares:" in result.output


def test_not_json_exits_non_zero(tmp_path: Path) -> None:
    source = tmp_path / "broken.json"
    source.write_text("{not json")
    result = CliRunner().invoke(cli, ["analyze", str(source)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output
