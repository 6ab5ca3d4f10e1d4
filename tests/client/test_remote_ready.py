"""Remote mode's ``ready``: false once the service refuses the API key, with one log line."""

from __future__ import annotations

import json
import logging

import pytest

from xp_client import Client
from xp_client.transport import FakeTransport, RecordedRequest, Response

ASSIGNED = {
    "assignments": {
        "checkout-button": {
            "variant": "green",
            "payload": None,
            "in_experiment": True,
            "reason": "assigned",
        }
    }
}


def test_a_wrong_key_makes_remote_ready_false_with_one_clear_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    replies: list[int] = [401] * 5 + [500, 200]

    def answer(request: RecordedRequest) -> Response:
        status = replies.pop(0)
        body = ASSIGNED if request.path == "/v1/assign" else {"features": {}}
        return Response(status, {}, json.dumps(body).encode() if status == 200 else b"")

    xp = Client(mode="remote", transport=FakeTransport(default=answer), flush_interval=60)
    try:
        assert xp.ready  # nothing refused yet
        with caplog.at_level(logging.INFO, logger="xp.client"):
            for _ in range(4):
                v = xp.get_variant("checkout-button", user_id="u1")
                assert v.reason == "remote_error"
            assert xp.evaluate("new-checkout", user_id="u1", default=False).source == (
                "remote_error"
            )
            assert not xp.ready
            refusals = [r for r in caplog.records if "API key is not accepted (401" in r.message]
            assert len(refusals) == 1 and refusals[0].levelno == logging.ERROR
            assert "/v1/assign" in refusals[0].message
            assert not [r for r in caplog.records if "answered 401" in r.message]
            xp.get_variant("checkout-button", user_id="u1")  # a 500 says nothing of the key
            assert not xp.ready
            assert xp.get_variant("checkout-button", user_id="u1").key == "green"
            assert xp.ready  # the key was fixed on the service: accepted again
    finally:
        xp.close(timeout=1)


def test_a_forbidden_scope_is_named(caplog: pytest.LogCaptureFixture) -> None:
    xp = Client(mode="remote", transport=FakeTransport(default=403), flush_interval=60)
    try:
        with caplog.at_level(logging.ERROR, logger="xp.client"):
            xp.get_variant("checkout-button", user_id="u1")
        assert not xp.ready
        assert any("not allowed (403" in r.message for r in caplog.records)
    finally:
        xp.close(timeout=1)
