from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from tests.support.sample_results import sample_dict, sample_results, srm_results
from xp.reports.html import Nav, ReportLinks, render_html
from xp.results.document import ResultsDocument


class Collector(HTMLParser):
    """Text by element id, and every inline <svg> as a string."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.text: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in {"meta", "input", "br", "link"}:
            return
        self.stack.append(dict(attrs).get("id"))

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        for ident in self.stack:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data


def collect(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    return collector


def test_decision_summary_and_lift() -> None:
    page = render_html(sample_results())
    found = collect(page)
    assert "Decision: Keep running" in " ".join(found.text["decision"].split())
    assert "not significant yet" in found.text["decision"]
    assert found.text["status"] == "running"
    metric = " ".join(found.text["metric-purchase_rate"].split())
    assert "+4.3% (-6.6% to +15.1%)" in metric
    assert "12.73%" in metric
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_primary_metric_has_a_chart_and_its_numbers_in_a_table() -> None:
    page = render_html(sample_results())
    start = page.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart"')
    svg = ET.fromstring(page[start : page.index("</svg>", start) + len("</svg>")])
    assert any(e.get("class") == "line" for e in svg.iter())
    assert page.count('class="chart"') == 2  # only the primary metric has a chart (figure, svg)
    series = page[page.index('<table class="series results"') :]
    assert "2026-11-10" in series and "+4.3%" in series and "-6.6%" in series


def test_srm_banner_only_when_it_fires() -> None:
    assert 'id="srm-banner"' not in render_html(sample_results())
    page = render_html(srm_results())
    assert "Sample ratio mismatch." in collect(page).text["srm-banner"]
    assert "p &lt; 0.001" in page


def test_segments_are_marked_exploratory() -> None:
    found = collect(render_html(sample_results()))
    assert "exploratory" in found.text["segments"]
    assert "tablet|kiosk" in found.text["segments"]


def test_sequential_band_is_named() -> None:
    page = render_html(sample_results(method="sequential"))
    assert "always-valid confidence sequence" in page


def test_standalone_page_has_no_links_and_a_served_page_has_them() -> None:
    standalone = render_html(sample_results())
    assert "<a " not in standalone and "<form" not in standalone
    assert "<link" not in standalone  # CSS is inline: nothing is fetched
    served = render_html(
        sample_results(),
        Nav(home="/", logout="/logout"),
        ReportLinks(
            methods={"frequentist": "/e?method=frequentist", "sequential": "/e?method=sequential"},
            downloads=[("CSV", "/csv")],
        ),
    )
    tags = collect(served).tags
    hrefs = [a.get("href") for tag, a in tags if tag == "a"]
    assert "/e?method=sequential" in hrefs and "/csv" in hrefs and "/" in hrefs
    assert ("form", {"method": "post", "action": "/logout"}) in tags
    current = [a for tag, a in tags if tag == "a" and "aria-current" in a]
    assert [a["href"] for a in current] == ["/e?method=frequentist"]


def test_text_from_definitions_is_escaped() -> None:
    results = sample_dict()
    results["experiment"]["hypothesis"] = "<script>alert(1)</script>"
    results["metrics"][0]["segments"][0]["value"] = "<img src=x onerror=alert(1)>"
    page = render_html(ResultsDocument.from_dict(results))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


ABBREVIATION = re.compile(r"\b(CI|CrI|MDE|SRM|pp|p)\b")
TITLED = re.compile(r"<(abbr|span)[^>]*title=\"[^\"]+\"[^>]*>.*?</\1>", re.S)


def test_every_abbreviated_column_header_has_a_tooltip() -> None:
    for method in ("frequentist", "sequential", "bayesian"):
        page = render_html(sample_results(method=method))
        headers = re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", page, re.S)
        assert len(headers) > 20
        for header in headers:
            # each abbreviation stands inside an <abbr title="..."> (or a titled span)
            bare = TITLED.sub("", header)
            assert not ABBREVIATION.search(re.sub(r"<[^>]+>", "", bare)), (method, header)
