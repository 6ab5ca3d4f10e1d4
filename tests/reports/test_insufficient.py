"""Every renderer shows "insufficient data" for a comparison or a look without a verdict."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import Any

from tests.support.sample_results import SAMPLE, sample_results
from xp.reports.charts import lift_chart, lift_series
from xp.reports.csv_report import render_csv
from xp.reports.html import render_html
from xp.reports.markdown import render_markdown
from xp.results.document import ResultsDocument

SVG = "{http://www.w3.org/2000/svg}"
ABSOLUTE = '<td class="lift absolute" data-label="Absolute lift">'
RELATIVE = '<td class="lift relative" data-label="Relative lift">'
OBSERVED = {"estimate": -1.0, "se": None, "ci_low": None, "ci_high": None, "p_value": None}


def _insufficient(first_days: int = 3, everything: bool = False) -> ResultsDocument:
    """The sample with its primary comparison and CUPED insufficient, and its first looks."""
    data: dict[str, Any] = copy.deepcopy(SAMPLE)
    primary, revenue = data["metrics"][0], data["metrics"][1]
    comparison = primary["comparisons"][0]
    comparison.update(
        absolute=dict(OBSERVED, estimate=-0.125),
        relative=dict(OBSERVED),
        reason="insufficient_data",
        p_value_corrected=None,
        significant=False,
    )
    cuped = revenue["comparisons"][0]["cuped"]
    cuped.update(reason="insufficient_data", absolute=dict(OBSERVED), relative=dict(OBSERVED))
    days = len(primary["series"]) if everything else first_days
    for point in primary["series"][:days]:
        point.update(
            p_value=None,
            reason="insufficient_data",
            relative={"estimate": -1.0, "ci_low": None, "ci_high": None},
            absolute={"estimate": -0.125, "ci_low": None, "ci_high": None},
        )
    return ResultsDocument.from_dict(data)


def test_markdown_says_insufficient_data_instead_of_numbers() -> None:
    text = render_markdown(_insufficient())
    row = next(line for line in text.splitlines() if line.startswith("| green | 4,988 | 12.73%"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:5] == ["insufficient data", "insufficient data"]
    assert cells[5:7] == ["—", "—"] and cells[7] == "insufficient data"
    assert "-100.0%" not in row and "-12.50 pp" not in row
    assert "CUPED for green: insufficient data." in text


def test_html_says_insufficient_data_in_tables_and_the_series() -> None:
    page = render_html(_insufficient())
    # the primary comparison, and the sample's one-unit tablet segment
    assert page.count(f"{ABSOLUTE}insufficient data</td>") == 2
    assert page.count(f"{RELATIVE}insufficient data</td>") == 2
    assert page.count('<td colspan="4" class="text insufficient">insufficient data</td>') == 3
    assert "CUPED for green: insufficient data." in page
    assert "-100.0%" not in page
    # the untouched sample shows numbers in the same places: only its segment lacks them
    normal = render_html(sample_results())
    assert normal.count(f"{RELATIVE}insufficient data</td>") == 1
    assert 'class="text insufficient"' not in normal and "CUPED for green: insuff" not in normal


def test_chart_skips_insufficient_days_and_counts_them() -> None:
    document = _insufficient(first_days=3)
    series = lift_series(document.metrics[0].series)
    (green,) = series
    assert [p.insufficient for p in green.points] == [True] * 3 + [False] * 7
    assert all(p.estimate is None and p.low is None for p in green.points[:3])
    root = ET.fromstring(lift_chart(series, title="t"))
    drawn = [c.get("data-day") for c in root.iter(f"{SVG}circle")]
    assert drawn == [p.day.isoformat() for p in green.points[3:]]  # no mark for the first 3
    (line,) = root.iter(f"{SVG}path")
    assert line.get("d", "").count("L") == 6  # seven tested days, one line
    desc = root.findtext(f"{SVG}desc") or ""
    assert "insufficient data on 3 days" in desc
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "day of the look (UTC); 3 days with too little data not drawn" in texts
    assert "-100.0%" not in ET.tostring(root, encoding="unicode")


def test_chart_of_only_insufficient_days_says_so() -> None:
    series = lift_series(_insufficient(everything=True).metrics[0].series)
    svg = lift_chart(series, title="t")
    root = ET.fromstring(svg)
    assert "Too little data on every day so far to draw a lift." in "".join(root.itertext())
    assert "green: insufficient data yet." in (root.findtext(f"{SVG}desc") or "")
    assert not list(root.iter(f"{SVG}path"))
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "y-axis"]  # no empty axis


def test_csv_leaves_numbers_empty_and_names_the_reason() -> None:
    lines = render_csv(_insufficient()).splitlines()
    header = lines[0].split(",")
    green = next(
        dict(zip(header, line.split(","), strict=True))
        for line in lines[1:]
        if ",purchase_rate," in line and ",green," in line and ",false,," not in line
    )
    assert green["reason"] == "insufficient_data"
    assert green["rel_p_value"] == green["rel_ci_low"] == green["p_value_corrected"] == ""
