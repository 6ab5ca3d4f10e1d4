"""Which scale the p-value and the verdict belong to, said in the JSON and the reports."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.api.test_analyze_api import ADMIN, _means
from tests.support.sample_results import sample_results
from xp.reports.markdown import render_markdown


def test_analyze_names_the_tested_scale_on_growthbooks_reference(
    make_app: Callable[..., Flask],
) -> None:
    api = make_app(api_keys={"a": "admin"}).test_client()
    # GrowthBook's reference: absolute p 0.020 (its CI excludes 0), relative p 0.062.
    request = _means((3407, 1396.87, 52377.9767), (3461, 2422.7, 134698.29))
    row = api.post("/v1/analyze", json=request, headers=ADMIN).json["results"][0]
    assert row["tested_scale"] == "relative"
    assert row["absolute"]["ci_low"] > 0 and round(row["absolute"]["p_value"], 3) == 0.020
    assert round(row["relative"]["p_value"], 4) == round(row["p_value_corrected"], 4) == 0.0619


def test_markdown_labels_the_p_value_columns_with_their_scale() -> None:
    text = render_markdown(sample_results())
    assert "| p-value (relative lift) | p-value (relative lift, Holm) |" in text
    assert "p-values test the relative lift" in text
    assert "| p-value |" not in text


def test_the_html_report_labels_the_p_value_columns_with_their_scale() -> None:
    from xp.reports.html import render_html

    page = render_html(sample_results())
    assert "p-value (relative lift)</abbr>" in page and "p (relative lift, Holm)</abbr>" in page
    assert "p-values test the relative lift, not the absolute interval beside them." in page


def test_the_csv_says_which_scale_the_corrected_p_value_tests() -> None:
    import csv
    import io

    from xp.reports.csv_report import render_csv

    rows = list(csv.DictReader(io.StringIO(render_csv(sample_results()))))
    tested = [r for r in rows if r["p_value_corrected"]]
    assert tested and {r["tested_scale"] for r in tested} == {"relative"}
