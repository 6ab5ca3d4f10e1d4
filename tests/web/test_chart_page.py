"""The charts as the served page draws them, from a real SQLite store seeded day by day.

With 60 units over five days the first two looks have too few units per arm: the page's lift
chart must leave them out, scale its axis to the three days it draws, and give each drawn day
its exact numbers on hover; with 10 units it says in words that nothing can be drawn yet.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.seed import KEY, seed
from xp.reports.formatting import percent
from xp.runtime import Runtime

SVG = "{http://www.w3.org/2000/svg}"


def served_svgs(make_app: Callable[..., Flask], tmp_path: Path, units: int) -> dict[str, Any]:
    folder = tmp_path / "experiments"
    app = make_app(experiments_dir=str(folder))
    runtime: Runtime = app.extensions["xp"]
    seed(folder, runtime.store, time.time(), units)
    runtime.registry.reload(force=True)
    client = app.test_client()
    page = client.get(f"/experiments/{KEY}").get_data(as_text=True)
    results = client.get(f"/v1/experiments/{KEY}/results").get_json()
    svgs = {
        ident: ET.fromstring(svg)
        for svg, ident in re.findall(r'(<svg [^>]*id="([\w-]+)".*?</svg>)', page, re.S)
        if 'class="bar' not in svg[:120]
    }
    return {"svgs": svgs, "results": results}


def test_the_lift_chart_draws_only_days_with_enough_data(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    served = served_svgs(make_app, tmp_path, 60)
    chart = served["svgs"]["chart-1"]
    (primary,) = [m for m in served["results"]["metrics"] if m["role"] == "primary"]
    series = primary["series"]
    enough = [p for p in series if p["reason"] is None]
    assert 0 < len(enough) < len(series)  # the seed gives both kinds of day
    marks = {c.get("data-day"): c.findtext(f"{SVG}title") or "" for c in chart.iter(f"{SVG}circle")}
    assert sorted(marks) == [p["date"] for p in enough]
    for point in enough:
        relative = point["relative"]
        assert percent(relative["estimate"], 2) in marks[point["date"]]
        assert (
            f"{percent(relative['ci_low'], 2)} to {percent(relative['ci_high'], 2)}"
            in (marks[point["date"]])
        )
    # the axis covers the drawn band (and zero), and not much more
    values = [v for p in enough for v in p["relative"].values() if v is not None] + [0.0]
    axis = next(g for g in chart.iter(f"{SVG}g") if g.get("class") == "y-axis")
    ticks = [
        float((t.text or "").rstrip("%").replace(",", "")) / 100
        for t in axis.iter(f"{SVG}text")
        if t.get("class") != "axis-label"
    ]
    low, high = min(values), max(values)
    assert (
        low - (high - low) / 2 <= ticks[0] <= low and high <= ticks[-1] <= high + (high - low) / 2
    )
    texts = [t.text or "" for t in chart.iter(f"{SVG}text")]
    assert texts[0].startswith("Cumulative relative lift of ")  # the visible title
    assert "relative lift vs control (%)" in texts
    skipped = len(series) - len(enough)
    assert any(t.endswith(f"{skipped} days with too little data not drawn") for t in texts)

    traffic = served["svgs"]["traffic"]
    bars = [r for r in traffic.iter(f"{SVG}rect") if r.get("class") == "day"]
    assert len(bars) == 5 and all(
        "units first exposed" in (b.findtext(f"{SVG}title") or "") for b in bars
    )


def test_a_chart_without_a_drawable_day_says_so(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    chart = served_svgs(make_app, tmp_path, 10)["svgs"]["chart-1"]
    assert "Too little data on every day so far to draw a lift." in "".join(chart.itertext())
    assert not list(chart.iter(f"{SVG}circle")) and not list(chart.iter(f"{SVG}path"))
