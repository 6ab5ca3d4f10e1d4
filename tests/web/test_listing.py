"""The experiment list: status tabs, a text filter and sorts through query parameters.

Real definitions in a folder, a real SQLite store fed through ``/v1/events``, the real page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

EXPERIMENTS = {
    "alpha-checkout": {"status": "running", "owner": "growth", "start": "2026-10-01"},
    "beta-search": {"status": "running", "owner": "search-team", "start": "2026-11-15"},
    "gamma-draft": {"status": "draft", "owner": "growth"},
    "delta-stopped": {"status": "stopped", "owner": "ads", "start": "2026-09-01"},
    "epsilon-shipped": {
        "status": "shipped",
        "owner": "growth",
        "winner": "green",
        "start": "2026-08-01",
    },
}


@pytest.fixture
def client(make_app: Callable[..., Flask], tmp_path: Path) -> FlaskClient:
    folder = tmp_path / "experiments"
    folder.mkdir()
    for key, extra in EXPERIMENTS.items():
        definition = {
            "key": key,
            "name": key.replace("-", " ").title(),
            "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
            "metrics": [{"name": "bought", "event": "buy", "kind": "binomial", "role": "primary"}],
            **extra,
        }
        (folder / f"{key}.yaml").write_text(yaml.safe_dump(definition))
    client = make_app(experiments_dir=str(folder)).test_client()
    now = time.time()
    events = [
        {"type": "exposure", "experiment": key, "user_id": f"{key}-{i}", "ts": now - 60,
         "variant": "control" if i % 2 else "green"}
        for key, count in (("alpha-checkout", 7), ("beta-search", 3))
        for i in range(count)
    ]  # fmt: skip
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def keys(client: FlaskClient, query: str) -> list[str]:
    response = client.get(f"/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.findall(r'<tr data-key="([^"]+)">', response.get_data(as_text=True))


def test_tabs_filter_by_status_and_count(client: FlaskClient) -> None:
    assert keys(client, "") == sorted(EXPERIMENTS)  # by name, ascending
    assert keys(client, "?status=running") == ["alpha-checkout", "beta-search"]
    assert keys(client, "?status=shipped") == ["epsilon-shipped"]
    assert keys(client, "?status=archived") == []
    page = client.get("/?status=draft").get_data(as_text=True)
    assert re.search(r'aria-current="page">draft <span class="muted">\(1\)</span>', page)
    assert 'running <span class="muted">(2)</span>' in page
    assert 'id="no-match"' in client.get("/?status=archived").get_data(as_text=True)


def test_text_filter_reads_key_name_and_owner(client: FlaskClient) -> None:
    assert keys(client, "?q=SEARCH") == ["beta-search"]  # case-insensitive, key and owner
    assert keys(client, "?q=growth&status=running") == ["alpha-checkout"]
    assert keys(client, "?q=Epsilon") == ["epsilon-shipped"]  # the name
    assert keys(client, "?q=%3Cscript%3E") == []
    assert "&lt;script&gt;" in client.get("/?q=%3Cscript%3E").get_data(as_text=True)


def test_sorts(client: FlaskClient) -> None:
    assert keys(client, "?sort=units&order=desc")[:2] == ["alpha-checkout", "beta-search"]
    # no start date sorts last; ties by key
    assert keys(client, "?sort=start") == [
        "epsilon-shipped",
        "delta-stopped",
        "alpha-checkout",
        "beta-search",
        "gamma-draft",
    ]
    by_decision = keys(client, "?sort=decision")
    assert by_decision[0] == "epsilon-shipped"
    assert by_decision.index("delta-stopped") < by_decision.index("gamma-draft")


def test_shipped_and_stopped_show_their_status_as_the_decision(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    shipped = page[page.index('<tr data-key="epsilon-shipped">') :]
    shipped = shipped[: shipped.index("</tr>")]
    assert 'class="text decision-shipped" data-label="Decision">Shipped: green</td>' in shipped
    assert "Insufficient data" not in shipped
    stopped = page[page.index('<tr data-key="delta-stopped">') :]
    assert (
        'class="text decision-stopped" data-label="Decision">Stopped</td>'
        in stopped[: stopped.index("</tr>")]
    )
    draft = page[page.index('<tr data-key="gamma-draft">') :]
    assert (
        'class="text decision-not_started" data-label="Decision">Not started</td>'
        in draft[: draft.index("</tr>")]
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [("?status=paused", "status"), ("?sort=owner", "sort"), ("?order=up", "order"),
     ("?q=" + "x" * 201, "q")],
)  # fmt: skip
def test_bad_parameters_are_a_422_naming_them(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/{query}")
    assert response.status_code == 422
    assert field in response.get_data(as_text=True)
