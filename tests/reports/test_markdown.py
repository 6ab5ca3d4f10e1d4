from __future__ import annotations

import re

from tests.support.sample_results import sample_dict, sample_results, srm_results
from xp.reports.markdown import render_markdown
from xp.results.document import ResultsDocument


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells (escaped pipes kept inside their cell)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            current.append(cells)
        elif current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


def row(table: list[list[str]], first: str) -> dict[str, str]:
    header = table[0]
    for cells in table[2:]:
        if cells[0] == first:
            return dict(zip(header, cells, strict=True))
    raise AssertionError(f"no row {first!r} in {table}")


def test_summary_has_status_hypothesis_dates_and_units() -> None:
    text = render_markdown(sample_results())
    assert text.startswith("# Green checkout button (`checkout-button`)\n")
    summary = tables(text)[0]
    assert row(summary, "Status")["checkout-button"] == "running"
    assert row(summary, "Hypothesis")["checkout-button"].startswith("A green checkout button")
    assert row(summary, "Dates")["checkout-button"] == (
        "2026-11-01 to ongoing · 14.5 days running · exposures 2026-11-01 to 2026-11-14"
    )
    assert row(summary, "Units")["checkout-button"] == "control 5,012 · green 4,988"
    assert "frequentist" in row(summary, "Method")["checkout-button"]


def test_decision_with_every_reason() -> None:
    results = sample_results()
    text = render_markdown(results)
    assert "## Decision: Keep running" in text
    for reason in results.decision.reasons:
        assert f"- {reason}" in text


def test_metric_table_numbers() -> None:
    text = render_markdown(sample_results())
    purchase = next(t for t in tables(text) if "p-value (relative lift, Holm)" in t[0])
    green = row(purchase, "green")
    assert green["Units"] == "4,988"
    assert green["Rate"] == "12.73%"
    assert green["Absolute lift (95% CI)"] == "+0.52 pp (-0.78 pp to +1.82 pp)"
    assert green["Relative lift (95% CI)"] == "+4.3% (-6.6% to +15.1%)"
    assert green["p-value (relative lift)"] == "0.441"
    assert green["p-value (relative lift, Holm)"] == "0.441"
    assert green["Significant"] == "no"
    assert row(purchase, "control")["Rate"] == "12.21%"

    revenue = next(t for t in tables(text) if "Mean" in t[0])
    assert row(revenue, "green")["Absolute lift (95% CI)"] == "+0.5379 (-0.3995 to +1.475)"
    assert "p-value (relative lift, Benjamini-Hochberg)" in revenue[0]
    assert "CUPED for green (variance reduced by 31.0%)" in text


def test_significant_comparison_says_yes() -> None:
    results = sample_dict()
    results["metrics"][0]["comparisons"][0].update(significant=True, p_value_corrected=0.0004)
    text = render_markdown(ResultsDocument.from_dict(results))
    purchase = next(t for t in tables(text) if "p-value (relative lift, Holm)" in t[0])
    assert row(purchase, "green")["Significant"] == "yes"
    assert row(purchase, "green")["p-value (relative lift, Holm)"] == "<0.001"


def test_srm_and_diagnostics() -> None:
    text = render_markdown(sample_results())
    assert "p = 0.810 (alarm below 0.001): no mismatch." in text
    srm = next(t for t in tables(text) if t[0][0] == "Variant" and "Observed units" in t[0])
    assert row(srm, "control") == {
        "Variant": "control",
        "Observed units": "5,012",
        "Expected units": "5,000.0",
    }
    diagnostics = next(t for t in tables(text) if t[0][0] == "Counter")
    assert row(diagnostics, "not_exposed")["Events"] == "120"
    assert "> **Sample ratio mismatch**" not in text


def test_srm_alarm_is_called_out_under_the_decision() -> None:
    text = render_markdown(srm_results())
    assert "## Decision: Sample ratio mismatch" in text
    assert "> **Sample ratio mismatch** (p < 0.001)" in text
    assert ": **mismatch**." in text


def test_segments_are_exploratory_and_cells_stay_in_their_columns() -> None:
    text = render_markdown(sample_results())
    assert "## Segments (exploratory)" in text
    segments = next(t for t in tables(text) if t[0][0] == "Segment")
    assert all(len(cells) == len(segments[0]) for cells in segments)
    us = next(dict(zip(segments[0], c, strict=True)) for c in segments if c[1] == "US")
    assert us["Relative lift (95% CI)"] == "+6.3% (-7.8% to +20.4%)"
    assert us["p-value (relative lift, Benjamini-Hochberg)"] == "0.763"
    tablet = next(c for c in segments if c[1] == "tablet|kiosk")
    assert tablet[-1] == "insufficient data"
    assert tablet[4] == tablet[5] == "insufficient data"  # no number in the lift cells
    assert "tablet\\|kiosk" in text


def test_sequential_method_is_named_with_its_tuning() -> None:
    text = render_markdown(sample_results(method="sequential", sequential_tuning=20000))
    assert "sequential, always valid (alpha 0.05, tuned for 20,000 units)" in text


def test_newlines_in_text_do_not_break_tables() -> None:
    results = sample_dict()
    results["experiment"]["hypothesis"] = "line one\nline two | with a pipe"
    summary = tables(render_markdown(ResultsDocument.from_dict(results)))[0]
    assert row(summary, "Hypothesis")["checkout-button"] == "line one line two | with a pipe"


def test_every_abbreviation_is_explained_under_its_table() -> None:
    text = render_markdown(sample_results())
    headers = [t[0] for t in tables(text)]
    assert "Absolute lift (95% CI)" in headers[1]
    assert text.count("CI: confidence interval.") == len(sample_results().metrics)
    assert "pp: percentage points" in text and "Corrected p-values use Holm." in text

    bayesian = render_markdown(sample_results(method="bayesian"))
    first = next(t for t in tables(bayesian) if "Chance to win" in t[0])
    assert first[0][3:5] == ["Absolute lift (95% CrI)", "Relative lift (95% CrI)"]
    assert "CrI: credible interval of the posterior. Chance to win:" in bayesian
    assert "CI: confidence interval." not in bayesian
