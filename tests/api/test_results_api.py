"""``GET /v1/experiments/<key>/results`` and ``POST /v1/analyze`` over HTTP."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from xp.stats.frequentist import frequentist_lift
from xp.stats.sufficient import ProportionStats

KEY = "checkout-button"
ADMIN = {"Authorization": "Bearer a"}


@pytest.fixture
def api(make_app: Callable[..., Flask]) -> FlaskClient:
    """300 units per arm; green converts 1 in 4, control 1 in 5."""
    client = make_app(api_keys={"a": "admin", "s": "sdk"}).test_client()
    now = time.time()
    events: list[dict[str, Any]] = []
    for i in range(600):
        variant = "green" if i % 2 else "control"
        user = f"u{i}"
        events.append(
            {
                "type": "exposure",
                "experiment": KEY,
                "user_id": user,
                "variant": variant,
                "ts": now - 3600,
                "attributes": {"country": "US" if i % 3 else "CA"},
            }
        )
        if (i // 2) % (4 if variant == "green" else 5) == 0:
            events.append(
                {
                    "type": "conversion",
                    "event": "purchase",
                    "user_id": user,
                    "value": 10.0,
                    "event_id": f"p{i}",
                    "ts": now - 60,
                }
            )
    for start in range(0, len(events), 500):
        answer = client.post(
            "/v1/events",
            json={"events": events[start : start + 500]},
            headers={"Authorization": "Bearer s"},
        ).json
        assert answer["rejected"] == 0
    return client


def test_json_results_hold_the_engines_numbers(api: FlaskClient) -> None:
    response = api.get(f"/v1/experiments/{KEY}/results", headers=ADMIN)
    assert response.status_code == 200
    document = response.json
    assert document["units"] == {"control": 300, "green": 300}
    assert document["srm"]["alarm"] is False
    rate = next(m for m in document["metrics"] if m["name"] == "purchase_rate")
    sums = {v["variant"]: v["sum"] for v in rate["variants"]}
    assert sums == {"control": 60.0, "green": 75.0}
    truth = frequentist_lift(ProportionStats(300, 60), ProportionStats(300, 75), 0.05)
    comparison = rate["comparisons"][0]
    assert comparison["relative"]["estimate"] == pytest.approx(0.25)
    assert comparison["relative"]["p_value"] == pytest.approx(truth.relative.p_value)
    assert comparison["absolute"]["ci_low"] == pytest.approx(truth.absolute.ci_low)
    # the only primary comparison: Holm leaves it as it is
    assert comparison["p_value_corrected"] == pytest.approx(truth.relative.p_value)
    assert truth.relative.p_value is not None and truth.relative.p_value > 0.05
    assert document["decision"]["decision"] == "keep_running"
    assert any(
        r.startswith("purchase_rate: green is +25.0%") for r in document["decision"]["reasons"]
    )
    assert [p["date"] for p in rate["series"]] == sorted(p["date"] for p in rate["series"])
    countries = {s["value"]: s["units"] for s in rate["segments"] if s["segment"] == "country"}
    assert countries == {"US": {"control": 200, "green": 200}, "CA": {"control": 100, "green": 100}}
    devices = {s["value"] for s in rate["segments"] if s["segment"] == "device"}
    assert devices == {"(none)"}  # no exposure carried a device


def test_sequential_intervals_are_wider(api: FlaskClient) -> None:
    url = f"/v1/experiments/{KEY}/results"
    fixed = api.get(url, headers=ADMIN).json
    always = api.get(f"{url}?method=sequential", headers=ADMIN).json
    assert always["method"] == "sequential"

    def width(document: dict[str, Any]) -> float:
        metric = next(m for m in document["metrics"] if m["name"] == "purchase_rate")
        rel = metric["comparisons"][0]["relative"]
        return float(rel["ci_high"] - rel["ci_low"])

    assert width(always) > width(fixed)


@pytest.mark.parametrize(
    ("fmt", "mimetype", "needle"),
    [
        ("md", "text/markdown", "## Decision: "),
        ("csv", "text/csv", "purchase_rate"),
        ("html", "text/html", "<svg"),
        ("json", "application/json", '"srm"'),
    ],
)
def test_every_format(api: FlaskClient, fmt: str, mimetype: str, needle: str) -> None:
    response = api.get(f"/v1/experiments/{KEY}/results?format={fmt}", headers=ADMIN)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["Content-Type"].count("charset") <= 1
    assert needle in response.get_data(as_text=True)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert {r["variant"] for r in rows} == {"control", "green"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("method=bayes", "method"),
        ("format=pdf", "format"),
        ("alpha=2", "alpha"),
        ("alpha=nan", "alpha"),
        ("alpha=x", "alpha"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(api: FlaskClient, query: str, field: str) -> None:
    response = api.get(f"/v1/experiments/{KEY}/results?{query}", headers=ADMIN)
    assert response.status_code == 422
    assert field in response.json["error"]["details"]


def test_results_need_an_admin_key_and_a_known_experiment(api: FlaskClient) -> None:
    url = f"/v1/experiments/{KEY}/results"
    assert api.get(url).status_code == 401
    assert api.get(url, headers={"Authorization": "Bearer s"}).status_code == 403
    assert api.get("/v1/experiments/nope/results", headers=ADMIN).status_code == 404


GROWTHBOOK = {
    "metric": {"kind": "mean"},
    "variants": [
        {"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"key": "treatment", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}


def test_analyze_reproduces_growthbooks_reference(api: FlaskClient) -> None:
    response = api.post("/v1/analyze", json=GROWTHBOOK, headers=ADMIN)
    assert response.status_code == 200
    relative = response.json["results"][0]["relative"]
    # gbstats' TwoSidedTTest test values (../shared/DESIGN.md)
    assert round(relative["estimate"], 5) == 0.70732
    assert (round(relative["ci_low"], 5), round(relative["ci_high"], 5)) == (-0.03526, 1.44989)
    assert round(relative["p_value"], 5) == 0.06191


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": {"kind": "median"}}, "metric.kind"),
        ({"alpha": 1.5}, "alpha"),
        ({"variants": [GROWTHBOOK["variants"][0]]}, "variants"),
    ],
)
def test_analyze_bad_input_is_422_naming_the_field(
    api: FlaskClient, change: dict[str, Any], field: str
) -> None:
    response = api.post("/v1/analyze", json={**GROWTHBOOK, **change}, headers=ADMIN)
    assert response.status_code == 422
    assert field in response.json["error"]["details"]
    assert field in response.json["error"]["message"]


def test_analyze_names_a_nested_field(api: FlaskClient) -> None:
    variants = json.loads(json.dumps(GROWTHBOOK["variants"]))
    variants[1]["n"] = -3
    response = api.post("/v1/analyze", json={**GROWTHBOOK, "variants": variants}, headers=ADMIN)
    assert response.status_code == 422
    assert "variants.1.n" in response.json["error"]["details"]
