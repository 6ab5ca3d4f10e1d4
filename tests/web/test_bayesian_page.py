"""Every label on the Bayesian results page fits the method, and its rule comes from the URL.

A real SQLite store seeded with hand-made units (few enough per segment that some rows are
insufficient data), served by the app; the page is read as a person would: cell labels,
headers, tooltips, footnotes, the chart's title.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.seed import KEY, seed
from xp.runtime import Runtime

# What belongs to the frequentist reading only.
FREQUENTIST = ("p-value", "Corrected p", "confidence interval", "significant after correction")


def seeded_client(make_app: Callable[..., Flask], tmp_path: Path, units: int) -> FlaskClient:
    folder = tmp_path / "experiments"
    app = make_app(experiments_dir=str(folder))
    runtime: Runtime = app.extensions["xp"]
    seed(folder, runtime.store, time.time(), units)
    runtime.registry.reload(force=True)
    return app.test_client()


@pytest.fixture
def client(make_app: Callable[..., Flask], tmp_path: Path) -> FlaskClient:
    return seeded_client(make_app, tmp_path, 600)


def get(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def visible(page: str) -> str:
    """The page's main content with its markup's attributes kept (labels live in them)."""
    return page[page.index("<main>") : page.index("</main>")]


@pytest.mark.parametrize("units", [600, 16])  # 16: 8 units an arm, every comparison insufficient
def test_no_frequentist_label_on_the_bayesian_page(
    make_app: Callable[..., Flask], tmp_path: Path, units: int
) -> None:
    page = visible(
        get(seeded_client(make_app, tmp_path, units), f"/experiments/{KEY}?method=bayesian")
    )
    for words in FREQUENTIST:
        assert words not in page, words
    labels = set(re.findall(r'data-label="([^"]*)"', page))
    assert {"Chance to win", "Risk", "Verdict"} <= labels
    assert "credible interval" in page and "CrI" in page
    assert "the verdict reads the chance to win and the risk" in page
    assert "chance-to-win and risk rule" in page  # the Verdict header's tooltip
    # each table's cells carry as many labels as its header has columns
    for table in re.findall(r"<table class=\"results\">.*?</table>", page, re.S):
        header = len(re.findall(r"<th scope=\"col\"", table.split("</thead>")[0]))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S):
            cells = len(re.findall(r"<t[dh][ >]", row))
            if "colspan" not in row:
                assert cells == header, row


def test_the_insufficient_rows_are_labelled_for_the_method(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    page = visible(
        get(seeded_client(make_app, tmp_path, 16), f"/experiments/{KEY}?method=bayesian")
    )
    rows = re.findall(r'<tr data-variant="treatment">(.*?)</tr>', page, re.S)
    assert rows and all("insufficient data" in row for row in rows)
    for row in rows:
        assert re.findall(r'data-label="([^"]*)"', row)[-3:] == ["Chance to win", "Risk", "Verdict"]


def test_the_frequentist_page_keeps_its_own_labels(client: FlaskClient) -> None:
    page = visible(get(client, f"/experiments/{KEY}"))
    assert 'data-label="p-value"' in page and 'data-label="Corrected p"' in page
    assert "Chance to win" not in page and "credible interval" not in page


def test_the_rule_comes_from_the_url_and_travels_into_the_downloads(client: FlaskClient) -> None:
    query = "method=bayesian&chance_to_win=0.9&risk_threshold=0.01"
    page = get(client, f"/experiments/{KEY}?{query}")
    assert "chance to win is at least 90.0% and its risk at most 1.00%" in page
    (md,) = re.findall(r'href="([^"]*results\.md[^"]*)"', page)
    md = md.replace("&amp;", "&")
    assert "chance_to_win=0.9" in md and "risk_threshold=0.01" in md
    assert "chance to win >= 90.0% and risk <= 1.00%" in get(client, md)
    switch = dict(
        re.findall(
            r'<a href="([^"]*)"[^>]*>(\w+)</a>',
            page.split('aria-label="Analysis method"')[1].split("</nav>")[0],
        )
    )
    by_method = {name: href.replace("&amp;", "&") for href, name in switch.items()}
    assert (
        "chance_to_win=0.9" in by_method["bayesian"]
        and "risk_threshold=0.01" in by_method["bayesian"]
    )
    assert "chance_to_win" not in by_method["frequentist"] + by_method["sequential"]
    get(client, by_method["sequential"])  # not a 422: the rule stays off other methods
    api = client.get(f"/v1/experiments/{KEY}/results?{query}").get_json()
    shown = re.findall(r'class="text verdict verdict-(\w+)', page)
    assert len(shown) == sum(len(m["comparisons"]) for m in api["metrics"]) + sum(
        len(s["comparisons"]) for m in api["metrics"] for s in m["segments"]
    )


@pytest.mark.parametrize(
    ("query", "name", "message"),
    [
        ("method=bayesian&chance_to_win=1", "chance_to_win", "below 1"),
        ("method=bayesian&chance_to_win=abc", "chance_to_win", "&#39;abc&#39;"),
        ("method=bayesian&risk_threshold=-0.1", "risk_threshold", "0 or more"),
        ("method=bayesian&risk_threshold=nan", "risk_threshold", "&#39;nan&#39;"),
        ("chance_to_win=0.9", "chance_to_win", "method=bayesian only"),
    ],
)
def test_bad_thresholds_are_a_422_page_naming_the_parameter(
    client: FlaskClient, query: str, name: str, message: str
) -> None:
    for path in (f"/experiments/{KEY}?{query}", f"/experiments/{KEY}/results.md?{query}"):
        page = get(client, path, 422)
        assert name in page and message in page and "Traceback" not in page
