"""``POST /v1/events`` and ``DELETE /v1/units/<id>`` over HTTP, on SQLite and on Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

KEY = "checkout-button"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def api(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> FlaskClient:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        app = make_app(store_url=url)
        app.extensions["xp"].store.client.flushdb()  # the session's Redis is shared
        return app.test_client()
    return make_app().test_client()


def exposure(user: str | int, variant: str = "control", **extra: Any) -> dict[str, Any]:
    return {"type": "exposure", "experiment": KEY, "user_id": user, "variant": variant, **extra}


def purchase(user: str, event_id: str, value: float = 10.0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "conversion",
        "event": "purchase",
        "user_id": user,
        "value": value,
        "event_id": event_id,
        **extra,
    }


def stats(api: FlaskClient) -> dict[str, Any]:
    response = api.get(f"/v1/experiments/{KEY}/results")
    assert response.status_code == 200, response.json
    document: dict[str, Any] = response.json
    return document


def arm(document: dict[str, Any], metric: str, variant: str) -> dict[str, Any]:
    found = next(m for m in document["metrics"] if m["name"] == metric)
    row: dict[str, Any] = next(v for v in found["variants"] if v["variant"] == variant)
    return row


def test_a_mixed_batch_keeps_the_good_events_and_names_the_bad_ones(api: FlaskClient) -> None:
    now = time.time()
    body = {
        "events": [
            exposure("u1", "control", ts=now - 60),
            exposure("u2", "green", ts=now - 60, attributes={"country": "US"}),
            exposure("u3", "purple"),  # unknown variant
            {"type": "exposure", "experiment": "nope", "user_id": "u4", "variant": "control"},
            purchase("u2", "e1", 20.0, ts=now),
            purchase("u1", "e2", ts=now + 86_400 * 30),  # far in the future
            {"type": "conversion", "event": "purchase", "user_id": "u1"},  # no event_id
            "not an event",
        ]
    }
    response = api.post("/v1/events", json=body)
    assert response.status_code == 200, response.json
    result = response.json
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["accepted", "accepted"] + ["rejected"] * 2 + ["accepted"] + ["rejected"] * 3
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (3, 0, 5)
    fields = {r["index"]: r["field"] for r in result["results"] if r["status"] == "rejected"}
    assert fields[2] == "events.2.variant"
    assert fields[3] == "events.3.experiment"
    assert fields[5] == "events.5.ts"
    assert fields[6] == "events.6.event_id"
    assert fields[7] == "events.7"
    document = stats(api)
    assert document["units"] == {"control": 1, "green": 1}
    assert arm(document, "revenue_per_user", "green")["sum"] == 20.0
    assert arm(document, "purchase_rate", "control")["sum"] == 0.0


def test_a_replayed_batch_changes_nothing(api: FlaskClient) -> None:
    now = time.time()
    body = {"events": [exposure("u1", "green", ts=now - 10), purchase("u1", "p-1", 5.0, ts=now)]}
    first = api.post("/v1/events", json=body).json
    again = api.post("/v1/events", json=body).json
    assert first["accepted"] == 2
    assert again["accepted"] == 0 and again["duplicates"] == 2
    assert arm(stats(api), "revenue_per_user", "green")["sum"] == 5.0


def test_the_first_exposure_wins(api: FlaskClient) -> None:
    now = time.time()
    api.post("/v1/events", json={"events": [exposure("u1", "green", ts=now - 100)]})
    response = api.post("/v1/events", json={"events": [exposure("u1", "control", ts=now)]})
    assert response.json["results"][0]["status"] == "duplicate"
    document = stats(api)
    assert document["units"] == {"control": 0, "green": 1}
    assert document["diagnostics"]["variant_mismatch"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ([], 400, "(body)"),
        ({}, 400, "events"),
        ({"events": "x"}, 400, "events"),
        ({"events": []}, 400, "events"),
        ({"events": [exposure(f"u{i}") for i in range(1001)]}, 413, "events"),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_whole(
    api: FlaskClient, body: Any, status: int, field: str
) -> None:
    response = api.post("/v1/events", json=body)
    assert response.status_code == status
    assert field in response.json["error"]["details"]
    assert stats(api)["units"] == {"control": 0, "green": 0}


def test_events_need_an_sdk_key(make_app: Callable[..., Flask]) -> None:
    api = make_app(api_keys={"s": "sdk", "a": "admin"}).test_client()
    body = {"events": [exposure("u1")]}
    assert api.post("/v1/events", json=body).status_code == 401
    ok = api.post("/v1/events", json=body, headers={"Authorization": "Bearer s"})
    assert ok.status_code == 200 and ok.json["accepted"] == 1
    assert api.delete("/v1/units/u1", headers={"Authorization": "Bearer s"}).status_code == 403


def test_erasing_a_unit_removes_its_contribution(api: FlaskClient) -> None:
    now = time.time()
    events = [
        exposure("keep", "green", ts=now - 50, attributes={"country": "US"}),
        exposure("gone", "green", ts=now - 50, attributes={"country": "US"}),
        purchase("keep", "k1", 7.0, ts=now),
        purchase("gone", "g1", 100.0, ts=now),
        purchase("gone", "g2", 50.0, ts=now),
    ]
    assert api.post("/v1/events", json={"events": events}).json["accepted"] == 5
    response = api.delete("/v1/units/gone")
    assert response.status_code == 200
    assert response.json == {"unit_id": "gone", "experiments": 1}
    document = stats(api)
    assert document["units"] == {"control": 0, "green": 1}
    revenue = arm(document, "revenue_per_user", "green")
    assert (revenue["units"], revenue["sum"]) == (1, 7.0)
    segment = next(
        s
        for m in document["metrics"]
        if m["name"] == "purchase_rate"
        for s in m["segments"]
        if s["value"] == "US"
    )
    assert segment["units"] == {"control": 0, "green": 1}
    assert api.delete("/v1/units/gone").json["experiments"] == 0


def test_a_store_that_is_down_answers_503(make_app: Callable[..., Flask]) -> None:
    api = make_app(store_url="redis://127.0.0.1:1/0").test_client()
    response = api.post("/v1/events", json={"events": [exposure("u1")]})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"


def test_a_bad_string_or_a_huge_value_rejects_its_event_not_the_batch(api: FlaskClient) -> None:
    now = time.time()
    events = [
        exposure("\ud800"),
        exposure("ok-1", attributes={"country": "\udc00"}),
        exposure("ok-2", ts=now - 5),
        purchase("ok-2", "huge", 1e100, ts=now),
        exposure("ok-3", covariates={"purchase_rate": -1e13}),
        purchase("ok-2", "fine", 1e12, ts=now),
    ]
    result = api.post("/v1/events", json={"events": events}).json
    assert [r["status"] for r in result["results"]] == [
        "rejected",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
    ]
    fields = [r.get("field") for r in result["results"]]
    assert fields[:2] == ["events.0.user_id", "events.1.attributes.country"]
    assert fields[3:5] == ["events.3.value", "events.4.covariates.purchase_rate"]
    document = stats(api)  # the statistics stay finite and readable
    assert arm(document, "revenue_per_user", "control")["sum"] == 1e12


def test_any_unit_id_can_be_erased_and_no_other(api: FlaskClient) -> None:
    now = time.time()
    users = ["lead", "/lead", "a//b"]
    body = {"events": [exposure(u, ts=now - 5) for u in users]}
    assert api.post("/v1/events", json=body).json["accepted"] == 3
    # a path cannot carry "/lead": no redirect to the unit "lead"
    assert api.delete("/v1/units/%2Flead").status_code == 404
    assert api.delete("/v1/units//lead").status_code == 404
    assert stats(api)["units"]["control"] == 3
    assert api.delete("/v1/units", query_string={"unit_id": "/lead"}).json["experiments"] == 1
    assert api.delete("/v1/units/a//b").json == {"unit_id": "a//b", "experiments": 1}
    assert stats(api)["units"]["control"] == 1
    assert api.delete("/v1/units").status_code == 400
    assert api.delete("/v1/units/" + "x" * 300).status_code == 400


def test_an_integer_user_id_obeys_the_length_limit(api: FlaskClient) -> None:
    result = api.post("/v1/events", json={"events": [exposure(10**300)]}).json
    assert result["results"][0]["field"] == "events.0.user_id"
    ok = api.post("/v1/events", json={"events": [exposure(42)]}).json
    assert ok["accepted"] == 1
    assert api.delete("/v1/units/42").json["experiments"] == 1
