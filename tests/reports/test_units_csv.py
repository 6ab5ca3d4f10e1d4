from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

from xp.definitions.loader import load_directory
from xp.definitions.model import Definition
from xp.reports import units_csv as module
from xp.reports.units_csv import iso_utc, unit_columns, units_csv
from xp.store import UnitRow


@pytest.fixture
def definition(tmp_path: Path) -> Definition:
    document = {
        "key": "r",
        "name": "Ratio export",
        "status": "running",
        "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
        "metrics": [
            {"name": "cps", "kind": "ratio", "numerator": "click", "denominator": "search"},
            {"name": "spend", "event": "buy", "kind": "sum"},
        ],
        "segments": ["platform"],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(document))
    return load_directory(tmp_path).definitions["r"]


def test_ratio_metrics_carry_their_denominator(definition: Definition) -> None:
    assert unit_columns(definition) == [
        "unit_id", "variant", "first_exposure", "platform", "cps", "cps_denominator", "spend"
    ]  # fmt: skip
    row = UnitRow("u1", "b", 1_795_000_000.25, {"platform": "ios"},
                  {"cps": 2.0, "spend": 12.5}, {"cps": 3.0})  # fmt: skip
    text = "".join(units_csv(definition, [row]))
    (parsed,) = csv.DictReader(io.StringIO(text))
    assert parsed == {
        "unit_id": "u1",
        "variant": "b",
        "first_exposure": "2026-11-18T11:06:40.250Z",
        "platform": "ios",
        "cps": "2",
        "cps_denominator": "3",
        "spend": "12.5",
    }


def test_missing_totals_are_zero_and_formula_ids_defused(definition: Definition) -> None:
    row = UnitRow("=cmd|' /C calc'!A0", "a", 1_795_000_000.0)
    (parsed,) = csv.DictReader(io.StringIO("".join(units_csv(definition, [row]))))
    assert parsed["unit_id"] == "'=cmd|' /C calc'!A0"
    assert parsed["cps"] == parsed["cps_denominator"] == parsed["spend"] == "0"
    assert parsed["platform"] == ""


def test_rows_come_in_chunks(definition: Definition, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "CHUNK_ROWS", 10)
    rows = [UnitRow(f"u{i}", "a", 1_795_000_000.0 + i) for i in range(25)]
    chunks = list(units_csv(definition, iter(rows)))
    assert len(chunks) == 3
    assert len(list(csv.DictReader(io.StringIO("".join(chunks))))) == 25


@pytest.mark.parametrize(
    ("ts", "text"),
    [(0.0, "1970-01-01T00:00:00.000Z"), (1_795_000_000.5, "2026-11-18T11:06:40.500Z")],
)
def test_iso_utc(ts: float, text: str) -> None:
    assert iso_utc(ts) == text
