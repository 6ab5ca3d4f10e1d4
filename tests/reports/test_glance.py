"""The at-a-glance view: verdicts read the metric's direction; bars draw the interval."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

from tests.support.sample_results import SAMPLE
from xp.reports import glance
from xp.reports.html import render_html
from xp.results.document import Comparison, ResultsDocument
from xp.stats.frequentist import Estimate

SVG = "{http://www.w3.org/2000/svg}"


def comparison(
    estimate: float | None,
    low: float | None,
    high: float | None,
    significant: bool,
    reason: str | None = None,
) -> Comparison:
    rel = Estimate(estimate, 0.01, low, high, 0.01 if significant else 0.5)
    return Comparison("b", rel, rel, reason, rel.p_value, significant)


def test_verdict_reads_the_direction() -> None:
    up = comparison(0.1, 0.05, 0.15, True)
    down = comparison(-0.1, -0.15, -0.05, True)
    assert glance.verdict(up, "increase") == "better"
    assert glance.verdict(up, "decrease") == "worse"
    assert glance.verdict(down, "decrease") == "better"
    assert glance.verdict(down, "increase") == "worse"
    assert glance.verdict(comparison(0.1, -0.05, 0.25, False), "increase") == "inconclusive"
    assert glance.verdict(comparison(None, None, None, False, "insufficient_data"), "x") == (
        "insufficient"
    )


def bar(c: Comparison, half_width: float) -> ET.Element:
    return ET.fromstring(glance.interval_bar(c, "increase", half_width, "t <&>"))


def test_bar_places_interval_estimate_and_zero_on_the_shared_scale() -> None:
    c = comparison(0.1, 0.0, 0.2, True)
    root = bar(c, glance.scale([c]))  # half width 0.21
    assert root.get("class") == "bar bar-better" and root.get("aria-hidden") == "true"
    assert root.findtext(f"{SVG}title") == "t <&>"  # escaped in, parsed back as text
    zero = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "zero")
    rect = next(root.iter(f"{SVG}rect"))
    tick = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "estimate")
    assert float(zero.get("x1", "")) == 60.0  # the middle of 120
    # 0.0 -> 60, 0.2 -> 6 + (0.41 / 0.42) * 108 = 111.4
    assert float(rect.get("x", "")) == 60.0
    assert abs(float(rect.get("width", "")) - 51.4) < 0.11
    assert abs(float(tick.get("x1", "")) - (6 + 0.31 / 0.42 * 108)) < 0.06


def test_degenerate_intervals_still_draw() -> None:
    zero_width = comparison(0.0, 0.0, 0.0, False)
    assert glance.scale([zero_width]) > 0  # no division by zero
    rect = next(bar(zero_width, glance.scale([zero_width])).iter(f"{SVG}rect"))
    assert float(rect.get("width", "")) == 1.0  # a visible sliver
    huge = comparison(1e300, -1e300, float("inf"), False)
    root = bar(huge, glance.scale([huge]))
    assert not list(root.iter(f"{SVG}rect"))  # an infinite bound draws no bar
    xs = [float(e.get("x1", "")) for e in root.iter(f"{SVG}line")]
    assert all(0 <= x <= 120 for x in xs)
    insufficient = comparison(None, None, None, False, "insufficient_data")
    root = bar(insufficient, 1.0)
    assert not list(root.iter(f"{SVG}rect")) and root.get("class") == "bar bar-insufficient"
    assert glance.words(insufficient, "increase", "95%") == "Relative lift: insufficient data"


def test_words_for_screen_readers() -> None:
    c = comparison(-0.1, -0.15, -0.05, True)
    assert glance.words(c, "decrease", "95%") == (
        "Relative lift -10.0%, 95% interval -15.0% to -5.0%; significantly better (lower is better)"
    )


def test_page_colours_rows_by_verdict_and_says_it_in_words() -> None:
    data = copy.deepcopy(SAMPLE)
    green = data["metrics"][0]["comparisons"][0]
    green.update(significant=True, p_value_corrected=0.0004)
    page = render_html(ResultsDocument.from_dict(data))
    section = page[page.index('id="metric-purchase_rate"') :]
    section = section[: section.index("</section>")]
    assert '<svg class="bar bar-better"' in section
    assert 'class="text verdict verdict-better significant"' in section
    assert re.search(
        r'<span class="sr-only">Relative lift \+4\.3%, 95% interval [^<]*'
        r"significantly better \(higher is better\)</span>",
        section,
    )
    assert '<abbr title="percentage points">pp</abbr>' in section
    assert "Holm" in section and "p-value (none)" not in page
    assert "p (relative lift, uncorrected)" in page  # the guardrail's column says what it is
