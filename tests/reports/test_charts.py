from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from tests.support.sample_results import sample_results
from xp.reports.charts import LiftPoint, LiftSeries, lift_chart, lift_series, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # also proves the SVG is well-formed XML


def sample_chart(**kwargs: object) -> ET.Element:
    series = lift_series(sample_results().metrics[0].series)
    return parse(lift_chart(series, title="Lift of purchase_rate", **kwargs))  # type: ignore[arg-type]


def path_points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (-0.331988, 0.379966, [-0.4, -0.2, 0.0, 0.2, 0.4]),
        (0.0, 0.0004, [0.0, 0.0001, 0.0002, 0.0003, 0.0004]),
        (-0.03, 0.12, [-0.05, 0.0, 0.05, 0.1, 0.15]),
        (0.0, 0.0, [-0.01, -0.005, 0.0, 0.005, 0.01]),
    ],
)
def test_nice_ticks(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(ticks)


def test_lift_series_groups_by_variant_in_date_order() -> None:
    entries = sample_results().metrics[0].series
    (green,) = lift_series(reversed(entries))
    assert green.label == "green"
    assert [p.day for p in green.points] == sorted(p.day for p in green.points)
    assert green.points[-1] == LiftPoint(
        dt.date(2026, 11, 10), 0.042574, -0.065733, 0.150881, units=4988, control_units=5012
    )


def test_chart_has_title_band_line_zero_line_and_dates() -> None:
    root = sample_chart(chart_id="c1")
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Lift of purchase_rate"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "green: +4.3% (-6.6% to +15.1%) on 2026-11-10" in desc

    (line,) = root.iter(f"{SVG}path")
    points = path_points(line.get("d", ""))
    assert len(points) == 10
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and len(set(xs)) == 10

    (band,) = root.iter(f"{SVG}polygon")
    assert len(band.get("points", "").split()) == 20  # upper edge, then lower edge back

    (zero,) = [e for e in root.iter(f"{SVG}line") if e.get("class") == "zero"]
    y_zero = float(zero.get("y1", "nan"))
    # The estimate +4.3% on the last day sits above the zero line, -4.1% on day 5 below it.
    assert points[-1][1] < y_zero < points[4][1]
    # Each band edge brackets the line: upper edge above (smaller y), lower edge below.
    coords = [tuple(map(float, p.split(","))) for p in band.get("points", "").split()]
    upper, lower = coords[:10], coords[10:][::-1]
    assert all(u[1] < p[1] < low[1] for u, p, low in zip(upper, points, lower, strict=True))

    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Nov 1" in labels and "Nov 10" in labels
    assert {"+40%", "0%", "-40%"} <= set(labels)


def test_line_breaks_at_a_day_without_an_estimate() -> None:
    days = [dt.date(2026, 11, d) for d in range(1, 6)]
    points = tuple(
        LiftPoint(day, None if i == 2 else 0.01 * i, -0.1, 0.1) for i, day in enumerate(days)
    )
    root = parse(lift_chart([LiftSeries("b", points)], title="t"))
    (line,) = root.iter(f"{SVG}path")
    assert line.get("d", "").count("M") == 2


def test_single_day_draws_a_bar_and_a_dot() -> None:
    point = LiftPoint(dt.date(2026, 11, 1), 0.05, -0.2, 0.3)
    root = parse(lift_chart([LiftSeries("b", (point,))], title="t"))
    assert [r.get("class") for r in root.iter(f"{SVG}rect")] == ["swatch", "band"]
    (dot,) = root.iter(f"{SVG}circle")
    assert dot.findtext(f"{SVG}title") == "b, 2026-11-01: +5.00% (interval -20.00% to +30.00%)"


def test_no_data_says_so() -> None:
    root = parse(lift_chart([], title="t"))
    assert [t.text for t in root.iter(f"{SVG}text")] == ["t", "No daily data yet."]


def test_several_variants_get_a_legend_and_distinct_colours() -> None:
    day = dt.date(2026, 11, 1)
    series = [
        LiftSeries(
            name,
            (LiftPoint(day, 0.01, -0.1, 0.1), LiftPoint(day + dt.timedelta(1), 0.02, -0.05, 0.1)),
        )
        for name in ("ltr-small", "ltr-large")
    ]
    root = parse(lift_chart(series, title="t"))
    colours = {p.get("stroke") for p in root.iter(f"{SVG}path")}
    assert len(colours) == 2
    legend = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend" for t in g]
    assert "ltr-small" in legend and "ltr-large" in legend


def test_text_is_escaped() -> None:
    day = dt.date(2026, 11, 1)
    series = [LiftSeries('<b onload="x">', (LiftPoint(day, 0.1, 0.0, 0.2),))]
    svg = lift_chart(series, title="</title><script>alert(1)</script>", chart_id='"x')
    assert "<script>" not in svg and "<b " not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == "</title><script>alert(1)</script>"  # type: ignore[union-attr]


def y_ticks(root: ET.Element) -> list[float]:
    """The y-axis tick values, read back from their labels ("+2.5%", "-1,000%")."""
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "y-axis")
    labels = [t.text or "" for t in axis.iter(f"{SVG}text") if t.get("class") != "axis-label"]
    return [float(label.rstrip("%").replace(",", "")) / 100 for label in labels]


def within(ticks: list[float], low: float, high: float) -> bool:
    """The axis covers [low, high], and no more than it plus half its span on either side."""
    margin = (high - low) / 2
    return low - margin <= ticks[0] <= low and high <= ticks[-1] <= high + margin


def test_axis_is_scaled_to_the_drawn_days_not_an_insufficient_minus_100() -> None:
    days = [dt.date(2026, 11, d) for d in range(1, 8)]
    points = (
        LiftPoint(days[0], None, None, None, insufficient=True),  # the -100% day, not drawn
        *(LiftPoint(day, 0.10 + 0.01 * i, 0.06 + 0.01 * i, 0.14) for i, day in enumerate(days[1:])),
    )
    root = parse(lift_chart([LiftSeries("b", points)], title="t"))
    ticks = y_ticks(root)
    # drawn: 6% to 15%; zero lies within one span (9 points) of it, so the axis reaches it
    assert within(ticks, 0.0, 0.15), ticks
    assert [c.get("data-day") for c in root.iter(f"{SVG}circle")] == [
        d.isoformat() for d in days[1:]
    ]


def test_axis_leaves_a_far_away_zero_out() -> None:
    points = tuple(
        LiftPoint(dt.date(2026, 11, d), 2.0 + 0.01 * d, 1.95 + 0.01 * d, 2.05 + 0.01 * d)
        for d in range(1, 6)
    )
    root = parse(lift_chart([LiftSeries("b", points)], title="t"))
    assert within(y_ticks(root), 1.96, 2.1)
    assert not [e for e in root.iter(f"{SVG}line") if e.get("class") == "zero"]


@pytest.mark.parametrize("value", [0.0, 0.031, -0.5, 123.0])
def test_a_zero_width_interval_on_one_day_still_gets_a_scale(value: float) -> None:
    point = LiftPoint(dt.date(2026, 11, 1), value, value, value)
    root = parse(lift_chart([LiftSeries("b", (point,))], title="t"))
    ticks = y_ticks(root)
    assert len(ticks) >= 3 and ticks[0] < value < ticks[-1]
    (band,) = (r for r in root.iter(f"{SVG}rect") if r.get("class") == "band")
    assert float(band.get("height", "")) == 0.5  # drawn as a hairline, not a gap
    (dot,) = root.iter(f"{SVG}circle")
    assert 14 < float(dot.get("cy", "")) < 300 - 46


def test_huge_lifts_get_readable_ticks_and_absurd_ones_words() -> None:
    points = (
        LiftPoint(dt.date(2026, 11, 1), 40.0, 10.0, 90.0),
        LiftPoint(dt.date(2026, 11, 2), 60.0, 30.0, 95.0),
    )
    root = parse(lift_chart([LiftSeries("b", points)], title="t"))
    assert within(y_ticks(root), 0.0, 95.0)
    labels = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "+10,000%" in labels  # thousands separated
    absurd = LiftPoint(dt.date(2026, 11, 3), 1e300, 1e299, 1e301)
    svg = lift_chart([LiftSeries("b", (*points, absurd))], title="t")
    assert "Lifts beyond ±1,000,000% are not drawn: see the numbers." in svg
    assert "<path" not in svg


def test_every_drawn_day_has_its_exact_numbers_on_hover() -> None:
    root = sample_chart(band="95% CI")
    series = lift_series(sample_results().metrics[0].series)
    titles = [c.findtext(f"{SVG}title") for c in root.iter(f"{SVG}circle")]
    assert len(titles) == len(series[0].points) == 10
    last = series[0].points[-1]
    assert titles[-1] == (
        f"green, 2026-11-10: +4.26% (95% CI -6.57% to +15.09%); "
        f"{last.units:,} vs {last.control_units:,} units in the control"
    )
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "axis-label"]
    assert labels == ["relative lift vs control (%)", "day of the look (UTC)"]
    assert next(root.iter(f"{SVG}text")).text == "Lift of purchase_rate"  # the visible title


def test_many_long_arm_names_wrap_the_legend_inside_the_chart() -> None:
    day = dt.date(2026, 11, 1)
    names = [f"variant-with-a-long-name-{i}" for i in range(5)]
    series = [LiftSeries(n, (LiftPoint(day, 0.01 * i, -0.1, 0.1),)) for i, n in enumerate(names)]
    root = parse(lift_chart(series, title="t"))
    swatches = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "swatch"]
    assert len(swatches) == 5
    assert len({s.get("y") for s in swatches}) > 1  # more than one row
    assert all(float(s.get("x", "")) + 30 + 8 * len(names[0]) <= 560 for s in swatches)
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "y-axis")
    top_line = min(float(line.get("y1", "")) for line in axis.iter(f"{SVG}line"))
    assert top_line > max(float(s.get("y", "")) for s in swatches) + 10  # plot below legend
