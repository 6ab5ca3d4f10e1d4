"""The SDK client against a fake transport: local evaluation, events, fallbacks, no raising."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.forked import in_forked_child
from xp.definitions.loader import load_directory
from xp.definitions.registry import make_snapshot
from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import assign_variant
from xp_client.transport import FakeTransport, RecordedRequest, Response, TransportError

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    document: dict[str, Any] = make_snapshot(load_directory(EXPERIMENTS).definitions).config
    return document


def router(config: dict[str, Any], etag: str = '"v1"') -> Callable[[RecordedRequest], Response]:
    def answer(request: RecordedRequest) -> Response:
        if request.path == "/v1/config":
            if request.headers.get("If-None-Match") == etag:
                return Response(304, {"ETag": etag})
            return Response(200, {"ETag": etag}, json.dumps(config).encode())
        if request.path == "/v1/events":
            return Response(202, {}, b'{"accepted": 1}')
        return Response(404)

    return answer


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def build(**kwargs: Any) -> Client:
        kwargs.setdefault("flush_interval", 60.0)
        c = Client("http://xp.invalid", **kwargs)
        clients.append(c)
        return c

    yield build
    for c in clients:
        c.close(timeout=2)


ATTRS = {"country": "US", "app_version": "2.4.1", "device": "ios"}


def test_offline_matches_the_engine(config: dict[str, Any]) -> None:
    xp = Client.offline(config)
    experiments = [Experiment.from_dict(e) for e in config["experiments"]]
    for i in range(2_000):
        for exp in experiments:
            v = xp.get_variant(exp.key, user_id=f"u{i}", attributes=ATTRS)
            expected = assign_variant(exp, {**ATTRS, "user_id": f"u{i}"})
            assert (v.key, v.payload, v.in_experiment, v.reason) == (
                expected.variant,
                expected.payload,
                expected.in_experiment,
                expected.reason,
            )
    assert xp.ready


def test_unknown_experiment_and_default(config: dict[str, Any]) -> None:
    xp = Client.offline(config)
    v = xp.get_variant("no-such", user_id="u1")
    assert (v.key, v.in_experiment, v.reason) == ("control", False, "unknown_experiment")
    assert xp.get_variant("no-such", user_id="u1", default="blue").key == "blue"


def test_not_ready_serves_default_until_config_arrives(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport([TransportError("refused")], default=router(config))
    xp = make_client(transport=fake, init_timeout=0.5, poll_interval=3600)
    assert not xp.ready
    v = xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS, default="control")
    assert (v.key, v.reason) == ("control", "not_ready")
    assert xp.refresh()
    assert xp.ready
    assert xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS).reason == "assigned"


def test_exposure_once_per_unit_and_conversions(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake)
    assert xp.ready
    for _ in range(3):
        for i in range(10):
            xp.get_variant("checkout-button", user_id=f"u{i}", attributes=ATTRS)
    xp.track("purchase", user_id="u1", value=19.99)
    xp.track("purchase", user_id="u2")
    assert xp.flush(timeout=5)
    events = fake.events
    exposures = [e for e in events if e["type"] == "exposure"]
    conversions = [e for e in events if e["type"] == "conversion"]
    assert sorted(e["user_id"] for e in exposures) == sorted(f"u{i}" for i in range(10))
    assert all(e["experiment"] == "checkout-button" for e in exposures)
    assert exposures[0]["attributes"] == {"country": "US", "device": "ios"}  # declared segments
    assert [c.get("value") for c in conversions] == [19.99, None]
    assert len({c["event_id"] for c in conversions}) == 2


def test_units_not_in_the_experiment_are_not_exposed(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake)
    v = xp.get_variant("checkout-button", user_id="u1", attributes={"country": "FR"})
    assert v.reason == "not_targeted"
    assert xp.get_variant("pricing-page", user_id="u1").reason == "shipped"
    xp.flush(timeout=5)
    assert fake.events == []


def test_config_polling_uses_etag(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake, poll_interval=3600)
    assert xp.ready
    assert xp.refresh() is False  # 304
    polls = [r for r in fake.requests if r.path == "/v1/config"]
    assert polls[-1].headers.get("If-None-Match") == '"v1"'
    assert xp.stats()["experiments"] == len(config["experiments"])


def test_a_broken_definition_is_skipped_not_fatal(config: dict[str, Any]) -> None:
    broken = {"experiments": [*config["experiments"], {"key": "bad", "variants": "nope"}]}
    xp = Client.offline(broken)
    assert xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS).reason == "assigned"
    assert xp.get_variant("bad", user_id="u1").reason == "unknown_experiment"


class Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq either")

    __hash__ = object.__hash__


@pytest.mark.parametrize(
    "call",
    [
        lambda xp: xp.get_variant("checkout-button", user_id=Hostile()),
        lambda xp: xp.get_variant(
            "checkout-button", user_id="u", attributes={"country": Hostile()}
        ),
        lambda xp: xp.get_variant("checkout-button", user_id="u", attributes="not a mapping"),
        lambda xp: xp.get_variant(None, user_id="u"),
        lambda xp: xp.get_variant(["list"], user_id="u"),
        lambda xp: xp.track("purchase", user_id=Hostile()),
        lambda xp: xp.track("purchase", user_id="u", value=math.nan),
        lambda xp: xp.track(None, user_id=None, value="x"),
    ],
)
def test_never_raises(config: dict[str, Any], call: Callable[[Client], Any]) -> None:
    fake = FakeTransport(default=router(config))
    xp = Client(config=config, transport=fake, init_timeout=0, flush_interval=60)
    try:
        call(xp)
        xp.flush(timeout=2)
    finally:
        xp.close(timeout=2)


def test_network_failures_never_raise(config: dict[str, Any]) -> None:
    fake = FakeTransport(default=TransportError("down"))
    xp = Client(config=config, transport=fake, init_timeout=0, flush_interval=60)
    xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS)
    xp.track("purchase", user_id="u1")
    assert xp.flush(timeout=0.2) in (True, False)
    xp.close(timeout=0.5)


def test_override(config: dict[str, Any]) -> None:
    xp = Client.offline(config)
    xp.override("checkout-button", "u1", "green")
    v = xp.get_variant("checkout-button", user_id="u1", attributes={"country": "FR"})
    assert (v.key, v.payload, v.reason) == ("green", {"color": "green"}, "override")
    xp.override("checkout-button", "u1", None)
    assert (
        xp.get_variant("checkout-button", user_id="u1", attributes={"country": "FR"}).key
        == "control"
    )


def test_an_override_outlives_a_new_config_and_logs_no_exposure(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport([TransportError("refused")], default=router(config))
    xp = make_client(transport=fake, init_timeout=0, poll_interval=3600)
    xp.override("checkout-button", "u1", "green")  # before the config: kept for it
    xp.override("not-in-config", 7, "b")
    assert xp.get_variant("checkout-button", user_id="u1").reason == "override"
    assert xp.refresh()  # the config arrives: entries are built with the overrides
    v = xp.get_variant("checkout-button", user_id="u1", attributes={"country": "FR"})
    assert (v.key, v.payload, v.in_experiment, v.reason) == (
        "green",
        {"color": "green"},
        False,
        "override",
    )
    assert xp.get_variant("checkout-button", attributes={"user_id": "u1"}).key == "green"
    assert xp.get_variant("not-in-config", user_id="7").key == "b"
    other = xp.get_variant("checkout-button", user_id="u2", attributes=ATTRS)
    assert other.reason == "assigned"  # other units are assigned as always
    xp.override("checkout-button", "u1", None)
    assert xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS).reason == "assigned"
    assert xp.flush(timeout=2)
    exposed = [
        e["user_id"]
        for r in fake.requests
        if r.path == "/v1/events"
        for e in r.body["events"]
        if e["type"] == "exposure"
    ]
    assert sorted(exposed) == ["u1", "u2"]  # u1 only once its override was removed


def test_remote_mode(config: dict[str, Any]) -> None:
    def answer(request: RecordedRequest) -> Response:
        assert request.path == "/v1/assign"
        assert request.body["experiments"] == ["checkout-button"]
        assert request.timeout == 0.5
        body = {
            "assignments": {
                "checkout-button": {
                    "variant": "green",
                    "payload": {"color": "green"},
                    "in_experiment": True,
                    "reason": "assigned",
                }
            }
        }
        return Response(200, {}, json.dumps(body).encode())

    xp = Client(mode="remote", transport=FakeTransport(default=answer), flush_interval=60)
    try:
        v = xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS)
        assert (v.key, v.in_experiment, v.reason) == ("green", True, "assigned")
    finally:
        xp.close(timeout=1)


@pytest.mark.parametrize("failure", [TransportError("timeout"), 500, Response(200, {}, b"{oops")])
def test_remote_mode_falls_back(failure: Any) -> None:
    xp = Client(mode="remote", transport=FakeTransport(default=failure), flush_interval=60)
    try:
        v = xp.get_variant("checkout-button", user_id="u1", default="control")
        assert (v.key, v.in_experiment, v.reason) == ("control", False, "remote_error")
    finally:
        xp.close(timeout=1)


def test_context_manager_flushes_on_exit(config: dict[str, Any]) -> None:
    fake = FakeTransport(default=router(config))
    with Client("http://xp.invalid", transport=fake, flush_interval=60) as xp:
        xp.track("purchase", user_id="u9", value=5)
    assert [e["user_id"] for e in fake.events] == ["u9"]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda xp: xp.track("purchase", user_id=None), "user_id is required"),
        (lambda xp: xp.track("purchase", user_id=True), "not a boolean"),
        (lambda xp: xp.track("purchase", user_id=float("inf")), "finite number"),
        (lambda xp: xp.track("purchase", user_id="x" * 2_000_000), "longer than 256"),
        (lambda xp: xp.track("purchase", user_id="u", value=float("nan")), "value must be"),
        (lambda xp: xp.track("purchase", user_id="u", value=1e13), "value must be"),
        (lambda xp: xp.track("purchase", user_id="u", value=10**400), "value must be"),
        (lambda xp: xp.track("purchase", user_id="u", value="3"), "value must be a number"),
        (lambda xp: xp.track("", user_id="u"), "event must be"),
        (lambda xp: xp.track("purchase", user_id="u", event_id="e" * 200), "event_id must"),
    ],
)
def test_events_the_service_would_refuse_are_dropped_alone(
    config: dict[str, Any],
    make_client: Callable[..., Client],
    caplog: pytest.LogCaptureFixture,
    call: Callable[[Client], Any],
    words: str,
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake)
    xp.track("purchase", user_id="good-1", value=2.0)
    call(xp)
    xp.track("purchase", user_id="good-2")
    assert xp.flush(timeout=5)
    assert [e["user_id"] for e in fake.events] == ["good-1", "good-2"]
    assert xp.stats()["dropped_invalid"] == 1
    assert words in caplog.text


def test_a_unit_id_the_service_would_refuse_is_not_assigned(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake)
    for bad in ("x" * 257, True, float("nan"), ""):
        got = xp.get_variant("checkout-button", attributes={**ATTRS, "user_id": bad})
        assert (got.key, got.in_experiment, got.reason) == ("control", False, "missing_unit")
    assert xp.flush(timeout=5)
    assert fake.events == []
    assert xp.stats()["dropped_invalid"] == 0


def test_the_exposure_cache_is_least_recently_used(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake, exposure_cache_size=3)
    for unit in ("hot", "a", "b", "hot", "c", "hot", "d", "hot", "e"):
        xp.get_variant("checkout-button", user_id=unit, attributes=ATTRS)
    assert xp.flush(timeout=5)
    # "hot" keeps coming back, so it is never the least recent and never exposed twice
    assert [e["user_id"] for e in fake.events] == ["hot", "a", "b", "c", "d", "e"]
    xp.get_variant("checkout-button", user_id="a", attributes=ATTRS)  # evicted long ago
    assert xp.flush(timeout=5)
    assert [e["user_id"] for e in fake.events][-1] == "a"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_client_restarts_its_threads(
    config: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    fake = FakeTransport(default=router(config))
    xp = make_client(transport=fake, poll_interval=0.05)
    xp.track("purchase", user_id="parent")
    assert xp.flush(timeout=5)

    def child() -> dict[str, Any]:
        before = len([r for r in fake.requests if r.path == "/v1/config"])
        time.sleep(0.5)  # several poll intervals
        after = len([r for r in fake.requests if r.path == "/v1/config"])
        xp.track("purchase", user_id="child")
        return {
            "threads": sorted(t.name for t in threading.enumerate()),
            "polled": after > before,
            "variant": xp.get_variant("checkout-button", user_id="u1", attributes=ATTRS).reason,
            "flushed": xp.flush(timeout=5),
            "sent": [e["user_id"] for e in fake.events],
        }

    report = in_forked_child(child)
    assert report.get("polled") is True, report
    assert "xp-config" in report["threads"] and "xp-events" in report["threads"]
    assert report["variant"] == "assigned" and report["flushed"] is True
    assert report["sent"].count("child") == 1 and report["sent"].count("parent") == 1
