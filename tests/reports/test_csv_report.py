from __future__ import annotations

import csv
import io

import pytest

from tests.support.sample_results import sample_dict, sample_results
from xp.reports.csv_report import COLUMNS, render_csv, safe_text
from xp.results.document import ResultsDocument


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_header_and_one_row_per_metric_variant_segment() -> None:
    text = render_csv(sample_results())
    assert next(csv.reader(io.StringIO(text))) == list(COLUMNS)
    rows = parse(text)
    keys = [(r["metric"], r["segment"], r["segment_value"], r["variant"]) for r in rows]
    assert len(keys) == len(set(keys))
    # purchase_rate: 2 overall + 3 segments x 2 variants; revenue and refund: 2 each
    assert len(rows) == 12
    assert {r["metric"] for r in rows} == {"purchase_rate", "revenue_per_user", "refund_rate"}


def test_numbers_round_trip_at_full_precision() -> None:
    rows = parse(render_csv(sample_results()))
    green = next(
        r
        for r in rows
        if r["metric"] == "purchase_rate" and not r["segment"] and r["variant"] == "green"
    )
    assert int(green["units"]) == 4988
    assert float(green["mean"]) == 0.127306
    assert float(green["rel_estimate"]) == 0.042574
    assert float(green["rel_ci_low"]) == -0.065733
    assert float(green["abs_p_value"]) == 0.431474
    assert float(green["p_value_corrected"]) == 0.441043
    assert green["significant"] == "false"
    assert green["is_control"] == "false"
    assert green["exploratory"] == "false"
    control = next(
        r
        for r in rows
        if r["metric"] == "purchase_rate" and not r["segment"] and r["variant"] == "control"
    )
    assert control["is_control"] == "true"
    assert control["rel_estimate"] == "" and control["significant"] == ""


def test_segment_rows_are_exploratory_with_units() -> None:
    rows = parse(render_csv(sample_results()))
    us = [r for r in rows if r["segment"] == "country" and r["segment_value"] == "US"]
    assert {r["variant"]: int(r["units"]) for r in us} == {"control": 3000, "green": 2990}
    assert all(r["exploratory"] == "true" for r in us)
    green = next(r for r in us if r["variant"] == "green")
    assert float(green["p_value_corrected"]) == 0.76308
    tablet = next(
        r for r in rows if r["segment_value"] == "tablet|kiosk" and r["variant"] == "green"
    )
    assert tablet["reason"] == "insufficient_data" and tablet["rel_estimate"] == ""


def test_cuped_columns() -> None:
    rows = parse(render_csv(sample_results()))
    green = next(r for r in rows if r["metric"] == "revenue_per_user" and r["variant"] == "green")
    assert float(green["cuped_variance_reduction"]) == 0.31
    assert float(green["cuped_rel_estimate"]) == 0.084


def test_formula_like_segment_values_are_defused() -> None:
    results = sample_dict()
    results["metrics"][0]["segments"][0]["value"] = '=HYPERLINK("http://evil.example")'
    rows = parse(render_csv(ResultsDocument.from_dict(results)))
    assert any(r["segment_value"] == '\'=HYPERLINK("http://evil.example")' for r in rows)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("US", "US"),
        ("", ""),
        ("=1+2", "'=1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-cmd", "'-cmd"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("\tx", "'\tx"),
    ],
)
def test_safe_text(text: str, expected: str) -> None:
    assert safe_text(text) == expected
