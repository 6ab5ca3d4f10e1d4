"""The SDK's local evaluation gives exactly what ``POST /v1/assign`` gives.

The SDK fetches ``/v1/config`` from the real service app (through a transport that calls the
Flask app in process instead of a socket) and evaluates locally; every answer is compared with
the service's own ``/v1/assign``: on the shared vectors, then on 10,000 random units of the
example experiments.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from xp_client import Client
from xp_client.transport import Response

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "assignment_vectors.json").read_text()
)


class AppTransport:
    """The SDK's transport, answered by a Flask test client: real service code, no socket."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Response:
        answer = self.client.open(path, method=method, json=body, headers=headers)
        return Response(answer.status_code, dict(answer.headers), answer.get_data())


@pytest.fixture
def sdk_for(make_app: Callable[..., Flask]) -> Iterator[Callable[..., tuple[Client, FlaskClient]]]:
    clients: list[Client] = []

    def build(**config: Any) -> tuple[Client, FlaskClient]:
        service = make_app(**config).test_client()
        sdk = Client("http://in-process", transport=AppTransport(service), flush_interval=3600)
        clients.append(sdk)
        assert sdk.ready
        return sdk, service

    yield build
    for sdk in clients:
        sdk.close(timeout=5)


def served(service: FlaskClient, attributes: dict[str, Any]) -> dict[str, Any]:
    attrs = dict(attributes)
    body = {"user_id": attrs.pop("user_id"), "attributes": attrs, "log_exposure": False}
    response = service.post("/v1/assign", json=body)
    assert response.status_code == 200, response.json
    assignments: dict[str, Any] = response.json["assignments"]
    return assignments


def same(sdk: Client, key: str, attributes: dict[str, Any], service: dict[str, Any]) -> None:
    got = sdk.get_variant(key, attributes=attributes)
    assert got.to_dict() == service[key], (key, attributes)


def test_the_sdk_passes_the_vectors_as_the_service_does(
    tmp_path: Path, sdk_for: Callable[..., tuple[Client, FlaskClient]]
) -> None:
    experiments: dict[str, dict[str, Any]] = {}
    for case in VECTORS["assignments"]:
        experiments.setdefault(json.dumps(case["experiment"], sort_keys=True), case["experiment"])
    checked = 0
    for n, config in enumerate(experiments.values()):
        folder = tmp_path / f"exp-{n}"
        folder.mkdir()
        (folder / "vec.yaml").write_text(json.dumps({**config, "name": "vector"}))
        sdk, service = sdk_for(experiments_dir=str(folder))
        for case in VECTORS["assignments"]:
            if case["experiment"] != config:
                continue
            answer = served(service, case["attributes"])
            same(sdk, config["key"], case["attributes"], answer)
            expected = case["expected"]
            got = answer[config["key"]]
            assert (got["variant"], got["in_experiment"], got["reason"]) == (
                expected["variant"],
                expected["in_experiment"],
                expected["reason"],
            )
            checked += 1
    assert checked >= 50


def test_10k_random_units_on_the_examples(
    sdk_for: Callable[..., tuple[Client, FlaskClient]],
) -> None:
    sdk, service = sdk_for()
    keys = sorted(e["key"] for e in json.loads(service.get("/v1/config").get_data())["experiments"])
    assert len(keys) >= 4
    rng = random.Random(20261129)
    reasons: set[str] = set()
    for i in range(10_000):
        attributes = {
            "user_id": f"u-{rng.getrandbits(40):x}-{i}",
            "country": rng.choice(["US", "CA", "DE", "FR", "BR"]),
            "app_version": rng.choice(["1.9.0", "2.0.0", "2.4.1", "3.0.0-beta"]),
            "device": rng.choice(["ios", "android", "web"]),
            "plan": rng.choice(["free", "pro"]),
        }
        answer = served(service, attributes)
        for key in keys:
            same(sdk, key, attributes, answer)
            reasons.add(answer[key]["reason"])
    # the sample exercised assignment, targeting, layers and a shipped experiment
    assert {"assigned", "not_targeted", "not_in_layer_range", "shipped"} <= reasons


def test_schedules_agree_at_the_same_now(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    """The 'schedules' vectors through /v1/config (start/end travel in it) and /v1/assign,
    both judged at the case's ``now``: the SDK by its clock, the service by XP_CLOCK."""
    folder = tmp_path / "sched"
    folder.mkdir()
    experiments = {c["experiment"]["key"]: c["experiment"] for c in VECTORS["schedules"]}
    for key, config in experiments.items():
        (folder / f"{key}.yaml").write_text(json.dumps({**config, "name": key}))
    now = {c["now"] for c in VECTORS["schedules"]}
    assert len(now) == 1
    app = make_app(experiments_dir=str(folder))
    app.config["XP_CLOCK"] = lambda: next(iter(now))
    service = app.test_client()
    served_config = {e["key"]: e for e in service.get("/v1/config").json["experiments"]}
    assert served_config["sched-10"]["start"] == "2026-11-01T00:00:00+00:00"
    assert served_config["sched-10"]["end"] == "2027-01-01T00:00:00+00:00"  # through 12-31
    sdk = Client(
        "http://in-process",
        transport=AppTransport(service),
        flush_interval=3600,
        clock=lambda: next(iter(now)),
    )
    try:
        checked = 0
        for case in VECTORS["schedules"]:
            key = case["experiment"]["key"]
            if key == "sched-draft":
                continue  # a draft without overrides is not live: neither side serves it
            expected = case["expected"]
            got = sdk.get_variant(key, attributes=case["attributes"])
            assert (got.key, got.in_experiment, got.reason) == (
                expected["variant"],
                expected["in_experiment"],
                expected["reason"],
            ), (key, case["attributes"])
            answer = served(service, case["attributes"])
            assert answer[key] == got.to_dict(), (key, case["attributes"])
            checked += 1
        assert checked >= 60
    finally:
        sdk.close(timeout=5)


@pytest.mark.parametrize("user_id", ["missing", None, ""])
def test_no_user_id_answers_the_same_locally_remotely_and_served(
    make_app: Callable[..., Flask], user_id: str | None
) -> None:
    """A missing or empty ``user_id``: every experiment's answer for a missing unit (a shipped
    one's winner and payload), every feature's value, identical in the local SDK, the remote
    SDK and the service, and no exposure logged."""
    app = make_app()
    service = app.test_client()
    local = Client("http://in-process", transport=AppTransport(service), flush_interval=3600)
    remote = Client(
        "http://in-process", transport=AppTransport(service), mode="remote", flush_interval=3600
    )
    attributes = {"country": "US", "app_version": "2.4.1", "email": "a@example.com"}
    unit = {} if user_id == "missing" else {"user_id": user_id}
    try:
        assigned = service.post("/v1/assign", json={**unit, "attributes": attributes})
        assert assigned.status_code == 200, assigned.json
        answers = assigned.json["assignments"]
        assert len(answers) >= 4
        reasons = set()
        for key, answer in answers.items():
            reasons.add(answer["reason"])
            for sdk in (local, remote):
                got = sdk.get_variant(key, attributes={**attributes, **unit})
                assert got.to_dict() == answer, (key, sdk.mode)
        assert {"missing_unit", "shipped"} <= reasons
        assert any(a["payload"] is not None for a in answers.values())
        evaluated = service.post("/v1/evaluate", json={**unit, "attributes": attributes})
        assert evaluated.status_code == 200, evaluated.json
        features = evaluated.json["features"]
        assert features
        for key, answer in features.items():
            for sdk in (local, remote):
                got = sdk.evaluate(key, attributes={**attributes, **unit})
                assert got.to_dict() == answer, (key, sdk.mode)
        local.flush(timeout=10)
        assert stored_units(app) == set()
        service.post("/v1/assign", json={"user_id": "u-1", "attributes": attributes})
        assert stored_units(app) == {"u-1"}  # the same path logs a unit that is there
    finally:
        local.close(timeout=5)
        remote.close(timeout=5)


def stored_units(app: Flask) -> set[str]:
    """Every unit exposed to any experiment, as the store holds them."""
    runtime = app.extensions["xp"]
    assert runtime.exposures.flush(timeout=10)
    definitions = runtime.registry.current().definitions.values()
    return {row.unit_id for d in definitions for row in runtime.store.iter_units(d)}
