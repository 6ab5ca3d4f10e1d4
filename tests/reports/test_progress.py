"""Progress and context: days left, traffic per day, planned sample and today's MDE."""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.support import seed as seeded
from tests.support.sample_results import sample_dict
from xp.definitions.loader import load_directory
from xp.reports.html import render_html
from xp.reports.traffic import traffic_chart
from xp.results.build import experiment_results
from xp.results.document import MetricResult, ResultsDocument, VariantRow
from xp.results.progress import primary_mde
from xp.stats.power import mde_proportion
from xp.store import open_store

SVG = "{http://www.w3.org/2000/svg}"


def test_seeded_experiment_reports_its_progress(tmp_path: Path) -> None:
    now = time.time()
    folder = seeded.write_experiment(tmp_path / "experiments")
    store = open_store(None, tmp_path / "data")
    try:
        units = seeded.make_units(now)
        seeded.ingest(store, seeded.definitions(folder), units, now)
        data = copy.deepcopy(seeded.EXPERIMENT)
        end = dt.datetime.fromtimestamp(now, dt.UTC).date() + dt.timedelta(days=9)
        data.update(planned_sample=2000, end=end.isoformat(), coverage=0.5)
        data["targeting"] = {"country": {"$in": ["US", "CA"]}}
        data["variants"] = [
            {"key": "control", "weight": 0.5, "payload": {"label": "</code><script>x</script>"}},
            {"key": "treatment", "weight": 0.5, "payload": None},
        ]
        (folder / f"{seeded.KEY}.yaml").write_text(yaml.safe_dump(data))
        (definition,) = load_directory(folder).definitions.values()
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        document = experiment_results(definition, store, now=at)
    finally:
        store.close()
    info = document.experiment
    # the end date's whole day is in the window: it closes at 00:00 UTC ten days from today
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert info.days_left == round(
        (midnight + dt.timedelta(days=10) - at) / dt.timedelta(days=1), 1
    )
    assert sum(info.daily_units.values()) == len(units) == 600
    assert len(info.daily_units) == seeded.DAYS and set(info.daily_units.values()) == {120}
    control = [u for u in units if u.variant == "control"]
    rate = sum(1 for u in control if u.purchases) / len(control)
    assert info.mde is not None and abs(info.mde - mde_proportion(rate, 300)) < 1e-9

    assert info.context["coverage"] == 0.5 and info.context["layer"] is None
    assert info.context["payloads"] == {
        "control": {"label": "</code><script>x</script>"},
        "treatment": None,
    }
    page = render_html(document)
    definition_section = page[page.index('id="definition"') :]
    definition_section = definition_section[: definition_section.index("</section>")]
    assert "50% of eligible units" in definition_section
    assert "&#34;$in&#34;: [&#34;US&#34;, &#34;CA&#34;]" in definition_section or (
        '"$in": ["US", "CA"]' in definition_section
    )
    assert "<script>" not in page and "\\u003cscript\\u003e" in definition_section
    assert '<progress id="sample-progress" max="2000" value="600">' in page
    assert "600 of 2,000 planned units" in page and "30%" in page
    assert "days left of the schedule" in page and "MDE</abbr> today:" in page
    start = page.index('<svg xmlns="http://www.w3.org/2000/svg" class="traffic"')
    svg = ET.fromstring(page[start : page.index("</svg>", start) + 6])
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "day"]
    assert len(bars) == seeded.DAYS
    assert all(
        (b.findtext(f"{SVG}title") or "").endswith(": 120 units first exposed") for b in bars
    )
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "units" in texts and "day of first exposure (UTC)" in texts  # axis labels
    assert texts[0] == svg.findtext(f"{SVG}title")  # the visible title is the accessible one


def test_traffic_chart_degenerate_days() -> None:
    assert traffic_chart({}) == ""
    root = ET.fromstring(traffic_chart({"2026-11-01": 0}))  # one empty day: no division by 0
    (bar,) = (r for r in root.iter(f"{SVG}rect") if r.get("class") == "day")
    assert float(bar.get("height", "")) == 0.0
    root = ET.fromstring(traffic_chart({"2026-11-01": 10**12, "2026-11-02": 1}))
    heights = [float(r.get("height", "")) for r in root.iter(f"{SVG}rect")]
    assert heights[0] == 100.0 and 0 <= heights[1] < 0.01  # the plot is 100 units tall
    assert "1,000,000,000,000" in [t.text for t in root.iter(f"{SVG}text")]


def metric(kind: str, mean: float | None, sd: float | None) -> MetricResult:
    row = VariantRow("control", 100, 0.0, mean, sd)
    return MetricResult("m", kind, "primary", "increase", False, "holm", (row,), (), (), ())


def test_mde_is_none_when_it_cannot_be_told() -> None:
    units = {"control": 100, "b": 100}
    assert primary_mde([metric("binomial", 0.0, 0.0)], units, 0.05) is None  # a rate of 0
    assert primary_mde([metric("binomial", 1.0, 0.0)], units, 0.05) is None  # a rate of 1
    assert primary_mde([metric("sum", 5.0, 0.0)], units, 0.05) is None  # zero variance
    assert primary_mde([metric("binomial", 0.1, 0.3)], {"control": 1, "b": 1}, 0.05) is None
    assert primary_mde([], units, 0.05) is None
    found = primary_mde([metric("binomial", 0.1, 0.3)], units, 0.05)
    assert found == mde_proportion(0.1, 100)


def test_the_mde_of_a_metric_that_should_fall_is_the_smallest_drop() -> None:
    units = {"control": 400, "b": 400}
    row = VariantRow("control", 400, 0.0, 0.1, 0.3)
    falling = MetricResult(
        "m", "binomial", "primary", "decrease", False, "holm", (row,), (), (), ()
    )
    found = primary_mde([falling], units, 0.05)
    assert found == mde_proportion(0.1, 400, decrease=True)
    assert found != primary_mde([metric("binomial", 0.1, 0.3)], units, 0.05)


@pytest.mark.parametrize(
    ("units", "planned", "shown", "value"),
    [
        ((30, 30), 20_000, "<1%", 200),  # 0.3%: says <1% and draws a 1% sliver
        ((99, 100), 20_000, "<1%", 200),  # 0.995% would round to "1%"
        ((100, 100), 20_000, "1%", 200),
        ((1, 0), 1_000_000, "<1%", 10_000),
        ((0, 0), 20_000, "0%", 0),  # nothing yet: no sliver
        ((6000, 6000), 10_000, "120%", 10_000),  # past the plan: a full bar
        ((1, 1), 3, "67%", 2),
    ],
)
def test_progress_below_one_percent_reads_less_than_one_with_a_sliver(
    units: tuple[int, int], planned: int, shown: str, value: int
) -> None:
    document = sample_dict(units={"control": units[0], "green": units[1]})
    document["experiment"]["planned_sample"] = planned
    page = render_html(ResultsDocument.from_dict(document))
    (bar,) = re.findall(r'<progress id="sample-progress" max="(\d+)" value="(\d+)">', page)
    assert bar == (str(planned), str(value))
    (text,) = re.findall(r'<span id="sample-share">([^<]*)</span>', page)
    assert html.unescape(text) == shown
    assert f"{sum(units):,} of {planned:,} planned units" in page
