"""The event processor: batching, retries, the queue bound, close, fork, never raising."""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.forked import in_forked_child
from xp_client.delivery import PAYLOAD_ID_HEADER
from xp_client.event_processor import EventProcessor
from xp_client.transport import FakeTransport, RecordedRequest, Response, TransportError

MakeProcessor = Callable[..., EventProcessor]


@pytest.fixture
def make_processor() -> Iterator[MakeProcessor]:
    """Processors with a long timer and no real sleeping, closed (threads joined) at the end."""
    made: list[EventProcessor] = []

    def make(transport: FakeTransport, **options: Any) -> EventProcessor:
        options.setdefault("flush_interval", 60.0)
        options.setdefault("sleep", lambda seconds: None)
        processor = EventProcessor(transport, **options)
        made.append(processor)
        return processor

    yield make
    for processor in made:
        processor.close(timeout=5)
        thread = processor._pipeline._thread
        assert thread is None or not thread.is_alive()


@pytest.fixture
def xp_warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="xp.client")
    return caplog


def events(n: int, prefix: str = "e") -> list[dict[str, Any]]:
    return [{"event_id": f"{prefix}{i}", "event": "exposure", "user_id": f"u{i}"} for i in range(n)]


def ids(request: RecordedRequest) -> list[str]:
    return [event["event_id"] for event in request.body["events"]]


def test_sends_a_batch_as_soon_as_batch_size_events_wait(make_processor: MakeProcessor) -> None:
    fake = FakeTransport()
    processor = make_processor(fake, batch_size=3)
    for event in events(7):
        assert processor.put(event)
    assert fake.wait_for_requests(2)
    assert [ids(r) for r in fake.requests[:2]] == [["e0", "e1", "e2"], ["e3", "e4", "e5"]]
    assert processor.flush(timeout=5)
    assert [ids(r) for r in fake.requests] == [["e0", "e1", "e2"], ["e3", "e4", "e5"], ["e6"]]
    request = fake.requests[0]
    assert (request.method, request.path, request.timeout) == ("POST", "/v1/events", 5.0)
    assert processor.stats() == {
        "queued": 0,
        "sent": 7,
        "batches_sent": 3,
        "retries": 0,
        "dropped_queue_full": 0,
        "dropped_4xx": 0,
        "dropped_after_retries": 0,
        "dropped_invalid": 0,
        "rejected_by_service": 0,
    }


def test_sends_on_the_timer(make_processor: MakeProcessor) -> None:
    fake = FakeTransport()
    processor = make_processor(fake, flush_interval=0.05, batch_size=100)
    processor.put(events(1)[0])
    processor.put(events(2)[1])
    assert fake.wait_for_requests(1, timeout=2)
    assert ids(fake.requests[0]) == ["e0", "e1"]
    processor.put({"event_id": "later"})
    assert fake.wait_for_requests(2, timeout=2)
    assert ids(fake.requests[1]) == ["later"]


def test_close_sends_what_is_queued_and_refuses_more(
    make_processor: MakeProcessor, xp_warnings: pytest.LogCaptureFixture
) -> None:
    fake = FakeTransport()
    processor = make_processor(fake, batch_size=100)
    for event in events(5):
        processor.put(event)
    assert fake.requests == []
    assert processor.close() is True
    assert [ids(r) for r in fake.requests] == [["e0", "e1", "e2", "e3", "e4"]]
    assert processor._pipeline._thread is None
    assert processor.put({"event_id": "late"}) is False
    assert processor.put({"event_id": "later"}) is False
    assert processor.close() is True  # idempotent
    assert processor.flush(timeout=1) is True
    assert len(fake.requests) == 1
    assert [r.getMessage() for r in xp_warnings.records] == [
        "xp: the event processor is closed; dropping events"
    ]


def test_with_block_closes() -> None:
    fake = FakeTransport()
    with EventProcessor(fake, flush_interval=60) as processor:
        processor.put({"event_id": "e0"})
    assert ids(fake.requests[0]) == ["e0"]
    assert processor._pipeline._thread is None


def test_flush_with_nothing_queued_returns_at_once_without_a_thread(
    make_processor: MakeProcessor,
) -> None:
    processor = make_processor(FakeTransport())
    assert processor.flush(timeout=0) is True
    assert processor._pipeline._thread is None


def test_event_ids_are_added_when_missing_and_events_are_copied(
    make_processor: MakeProcessor,
) -> None:
    fake = FakeTransport()
    processor = make_processor(fake)
    mine = {"event": "purchase", "user_id": "u1", "value": 9.5}
    processor.put(mine)
    mine["value"] = 0  # the caller reuses its dict after put
    processor.put({"event": "purchase", "user_id": "u2", "event_id": "kept"})
    assert processor.flush(timeout=5)
    first, second = fake.requests[0].body["events"]
    assert first["value"] == 9.5
    assert isinstance(first["event_id"], str) and 20 < len(first["event_id"]) <= 128
    assert "event_id" not in mine
    assert second["event_id"] == "kept"


def test_retries_with_backoff_and_the_same_events(make_processor: MakeProcessor) -> None:
    delays: list[float] = []
    fake = FakeTransport(
        [TransportError("connection refused"), 503, Response(202)],
        default=500,  # would fail the test if a fourth attempt happened
    )
    processor = make_processor(fake, sleep=delays.append, backoff_base=0.5)
    for event in events(3):
        processor.put(event)
    assert processor.flush(timeout=5)
    assert len(fake.requests) == 3
    assert [ids(r) for r in fake.requests] == [["e0", "e1", "e2"]] * 3
    assert len({r.headers[PAYLOAD_ID_HEADER] for r in fake.requests}) == 1
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.5
    assert 0 <= delays[1] <= 1.0
    stats = processor.stats()
    assert (stats["sent"], stats["retries"], stats["batches_sent"]) == (3, 2, 1)


def test_ids_added_by_the_processor_survive_retries(make_processor: MakeProcessor) -> None:
    fake = FakeTransport([503])
    processor = make_processor(fake)
    processor.put({"event": "exposure"})
    assert processor.flush(timeout=5)
    assert ids(fake.requests[0]) == ids(fake.requests[1])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refused_batch_is_dropped_and_not_retried(
    make_processor: MakeProcessor, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    fake = FakeTransport([Response(status, {}, b'{"error": {"code": "bad"}}')])
    processor = make_processor(fake)
    for event in events(2):
        processor.put(event)
    assert processor.flush(timeout=5) is False  # sent, and refused: not delivered
    assert len(fake.requests) == 1
    stats = processor.stats()
    assert (stats["dropped_4xx"], stats["sent"], stats["retries"]) == (2, 0, 0)
    assert f"HTTP {status}" in caplog.text
    assert processor.flush(timeout=5) is True  # the loss is reported once
    processor.put({"event_id": "next"})  # the next batch goes out as usual
    assert processor.flush(timeout=5) is True
    assert processor.stats()["sent"] == 1


@pytest.mark.parametrize("status", [401, 403])
def test_a_wrong_key_is_one_clear_line_and_flush_false(
    make_processor: MakeProcessor, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG, logger="xp.client")
    fake = FakeTransport(default=Response(status, {}, b'{"error": {"code": "unauthorized"}}'))
    processor = make_processor(fake)
    for round_ in range(3):
        processor.put({"event_id": f"e{round_}"})
        assert processor.flush(timeout=5) is False
    assert len(fake.requests) == 3  # one request a batch: never retried
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"xp: the service refused 1 events with HTTP {status}: the api_key is wrong, revoked "
        "or lacks the sdk scope; events are dropped until it is fixed"
    ]
    assert processor.stats()["dropped_4xx"] == 3
    assert processor.close(timeout=5) is True  # nothing left to send: close does not hang


def test_a_loss_before_the_flush_is_still_reported(make_processor: MakeProcessor) -> None:
    fake = FakeTransport([401])
    processor = make_processor(fake, batch_size=1)  # sent at once, before flush is called
    processor.put({"event_id": "e0"})
    assert fake.wait_for_requests(1)
    assert processor.flush(timeout=5) is False


def test_a_batch_too_large_is_halved_until_only_the_oversized_event_is_dropped(
    make_processor: MakeProcessor,
) -> None:
    def answer(request: RecordedRequest) -> Response:
        too_big = any(e["user_id"] == "huge" for e in request.body["events"])
        return Response(413 if too_big else 202)

    fake = FakeTransport(default=answer)
    processor = make_processor(fake)
    batch = events(7)
    batch[5]["user_id"] = "huge"
    for event in batch:
        processor.put(event)
    assert processor.flush(timeout=5) is False  # one event was lost
    stats = processor.stats()
    assert (stats["sent"], stats["dropped_4xx"]) == (6, 1)
    delivered = [e for r in fake.requests if r.path == "/v1/events" for e in ids(r)]
    accepted = {e for r in fake.requests for e in ids(r) if "e5" not in ids(r)}
    assert accepted == {"e0", "e1", "e2", "e3", "e4", "e6"}
    assert delivered.count("e5") == 4  # 7 -> 4 -> 2 -> 1 events per request


def test_events_the_service_rejects_are_counted_and_logged(
    make_processor: MakeProcessor, xp_warnings: pytest.LogCaptureFixture
) -> None:
    answer = {
        "results": [
            {"index": 0, "status": "accepted"},
            {"index": 1, "status": "rejected", "reason": "too big", "field": "events.1.value"},
        ],
        "accepted": 1,
        "duplicates": 0,
        "rejected": 1,
    }
    fake = FakeTransport([Response(200, {}, json.dumps(answer).encode())])
    processor = make_processor(fake)
    for event in events(2):
        processor.put(event)
    assert processor.flush(timeout=5)
    stats = processor.stats()
    assert (stats["sent"], stats["rejected_by_service"], stats["retries"]) == (2, 1, 0)
    assert "rejected 1 events of a batch (first: events.1.value: too big)" in xp_warnings.text


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_server_errors_and_throttling_are_retried(
    make_processor: MakeProcessor, status: int
) -> None:
    fake = FakeTransport([status])
    processor = make_processor(fake)
    processor.put({"event_id": "e0"})
    assert processor.flush(timeout=5)
    assert [ids(r) for r in fake.requests] == [["e0"], ["e0"]]
    assert processor.stats()["sent"] == 1
    assert processor.stats()["dropped_4xx"] == 0


def test_gives_up_after_max_retries(
    make_processor: MakeProcessor, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTransport([503] * 4)
    processor = make_processor(fake, max_retries=3)
    for event in events(2):
        processor.put(event)
    assert processor.flush(timeout=5) is False
    assert len(fake.requests) == 4
    stats = processor.stats()
    assert (stats["dropped_after_retries"], stats["retries"], stats["sent"]) == (2, 3, 0)
    assert "giving up on 2 events after 4 attempts" in caplog.text
    processor.put({"event_id": "next"})
    assert processor.flush(timeout=5)
    assert processor.stats()["sent"] == 1


def test_backoff_is_capped_full_jitter(make_processor: MakeProcessor) -> None:
    delays: list[float] = []
    fake = FakeTransport([503] * 8)
    processor = make_processor(
        fake, sleep=delays.append, max_retries=8, backoff_base=1.0, backoff_max=4.0
    )
    processor.put({"event_id": "e0"})
    assert processor.flush(timeout=5)
    caps = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert len(delays) == len(caps)
    assert all(0 <= delay <= cap for delay, cap in zip(delays, caps, strict=True))


def test_retry_after_sets_a_floor_on_the_delay(make_processor: MakeProcessor) -> None:
    delays: list[float] = []
    fake = FakeTransport(
        [Response(429, {"Retry-After": "3"}), Response(503, {"Retry-After": "99"})]
    )
    processor = make_processor(fake, sleep=delays.append, backoff_base=0.1, backoff_max=10.0)
    processor.put({"event_id": "e0"})
    assert processor.flush(timeout=5)
    assert delays[0] >= 3.0
    assert delays[1] == 10.0  # capped by backoff_max


def test_a_full_queue_drops_and_warns_once_per_episode(
    make_processor: MakeProcessor, xp_warnings: pytest.LogCaptureFixture
) -> None:
    fake = FakeTransport()
    processor = make_processor(fake, capacity=3, batch_size=100)
    accepted = [processor.put(event) for event in events(6)]
    assert accepted == [True, True, True, False, False, False]
    stats = processor.stats()
    assert (stats["queued"], stats["dropped_queue_full"]) == (3, 3)
    assert len(xp_warnings.records) == 1
    assert "queue is full" in xp_warnings.records[0].getMessage()

    assert processor.flush(timeout=5)  # drains below capacity: the next overflow warns again
    accepted = [processor.put(event) for event in events(5, prefix="f")]
    assert accepted == [True, True, True, False, False]
    assert processor.stats()["dropped_queue_full"] == 5
    assert len(xp_warnings.records) == 2
    assert processor.flush(timeout=5)
    assert [event["event_id"] for event in fake.events] == ["e0", "e1", "e2", "f0", "f1", "f2"]


def test_events_that_are_not_json_are_dropped_alone(make_processor: MakeProcessor) -> None:
    fake = FakeTransport()
    processor = make_processor(fake)
    processor.put({"event_id": "good"})
    processor.put({"event_id": "bad", "value": object()})
    processor.put({"event_id": "nan", "value": float("nan")})
    processor.put({"event_id": "also-good"})
    assert processor.flush(timeout=5) is False  # two were lost
    assert [event["event_id"] for event in fake.events] == ["good", "also-good"]
    stats = processor.stats()
    assert (stats["sent"], stats["dropped_invalid"], stats["retries"]) == (2, 2, 0)


def test_flush_times_out_while_the_service_hangs(make_processor: MakeProcessor) -> None:
    release = threading.Event()

    def hang(request: RecordedRequest) -> Response:
        release.wait(5)
        return Response(202)

    fake = FakeTransport([hang])
    processor = make_processor(fake)
    processor.put({"event_id": "e0"})
    assert processor.flush(timeout=0.05) is False
    release.set()
    assert processor.flush(timeout=5) is True
    assert processor.stats()["sent"] == 1


def test_close_gives_up_at_its_deadline(make_processor: MakeProcessor) -> None:
    fake = FakeTransport(default=503)
    # Real (interruptible) waits between retries, far longer than the close deadline.
    processor = EventProcessor(fake, flush_interval=60, backoff_base=60, backoff_max=60)
    processor.put({"event_id": "e0"})
    processor.put({"event_id": "e1"})
    assert processor.close(timeout=0.1) is False
    thread = processor._pipeline._thread
    assert thread is None or not thread.is_alive()
    assert processor.stats()["dropped_after_retries"] == 2


def test_never_raises_into_the_caller(
    make_processor: MakeProcessor, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTransport(default=RuntimeError("bug in a custom transport"))
    processor = make_processor(fake, max_retries=1)
    assert processor.put(None) is False  # type: ignore[arg-type]
    assert processor.put({"event_id": "e0"}) is True
    assert processor.flush(timeout=5) is False  # given up on, without raising
    assert processor.stats()["dropped_after_retries"] == 1
    assert "could not queue an event" in caplog.text
    assert "bug in a custom transport" in caplog.text


def test_a_forgotten_processor_is_collected_and_sends_what_it_had() -> None:
    fake = FakeTransport()
    processor = EventProcessor(fake, flush_interval=60)
    processor.put({"event_id": "e0"})
    thread = processor._pipeline._thread
    assert thread is not None
    del processor
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert [event["event_id"] for event in fake.events] == ["e0"]


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 0},
        {"capacity": 0},
        {"flush_interval": 0},
        {"request_timeout": -1},
        {"max_retries": -1},
        {"backoff_max": -1},
    ],
)
def test_refuses_bad_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EventProcessor(FakeTransport(), **options)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_sends_only_its_own_events(make_processor: MakeProcessor) -> None:
    fake = FakeTransport()
    processor = make_processor(fake, batch_size=100)
    assert processor.put({"event_id": "parent"})  # queued, not sent, when the fork happens
    assert processor._pipeline._thread is not None

    def child() -> dict[str, Any]:
        report: dict[str, Any] = {
            "thread_after_fork": processor._pipeline._thread is not None,
            "queued_after_fork": processor.stats()["queued"],
            "put": processor.put({"event_id": "child"}),
            "flushed": processor.flush(timeout=5),
        }
        report["sent"] = [event["event_id"] for event in fake.events]
        report["closed"] = processor.close(timeout=5)
        return report

    report = in_forked_child(child, timeout=10)
    assert report == {
        "thread_after_fork": False,
        "queued_after_fork": 0,
        "put": True,
        "flushed": True,
        "sent": ["child"],
        "closed": True,
    }
    assert processor.flush(timeout=5)
    assert [event["event_id"] for event in fake.events] == ["parent"]


def test_an_unreachable_service_is_retried_past_max_retries(make_processor: MakeProcessor) -> None:
    delays: list[float] = []
    outage = [TransportError("connection refused")] * 12
    fake = FakeTransport([*outage, Response(202)])
    processor = make_processor(fake, sleep=delays.append, max_retries=3, backoff_max=0.01)
    processor.put({"event_id": "e0"})
    assert processor.flush(timeout=5)
    assert len(fake.requests) == 13
    assert all(r.body["events"][0]["event_id"] == "e0" for r in fake.requests)
    stats = processor.stats()
    assert (stats["sent"], stats["dropped_after_retries"], stats["retries"]) == (1, 0, 12)


def test_flush_without_timeout_ends_when_the_retry_budget_is_spent(
    make_processor: MakeProcessor,
) -> None:
    fake = FakeTransport(default=TransportError("connection refused"))
    processor = make_processor(fake, max_retries=2)
    processor.put({"event_id": "e0"})
    assert processor.flush() is False  # would have waited forever before
    assert len(fake.requests) >= 3  # max_retries + 1 attempts were made first
    assert processor.stats()["dropped_after_retries"] == 0  # still queued for a retry
    fake.push(Response(202))  # the service is back: the background retry delivers it
    assert processor.flush(timeout=5) is True
    assert [event["event_id"] for event in fake.events][-1] == "e0"
    assert processor.stats()["sent"] == 1
    assert processor.flush() is True


def test_close_without_timeout_ends_when_the_retry_budget_is_spent() -> None:
    fake = FakeTransport(default=TransportError("connection refused"))
    processor = EventProcessor(fake, flush_interval=60, max_retries=1, backoff_base=0.01)
    processor.put({"event_id": "e0"})
    assert processor.close(timeout=None) is False
    thread = processor._pipeline._thread
    assert thread is None or not thread.is_alive()


def test_exit_closes_every_processor_within_one_deadline() -> None:
    from xp_client import shutdown

    fakes = [FakeTransport(default=503) for _ in range(3)]
    processors = [
        EventProcessor(fake, flush_interval=60, backoff_base=60, backoff_max=60) for fake in fakes
    ]
    for processor in processors:
        processor.put({"event_id": "e0"})
    start = time.monotonic()
    assert shutdown.close_all(timeout=0.2, grace=0.5) is True  # aborted retries end at once
    assert time.monotonic() - start < 0.2 + 0.5 + 0.5
    for processor in processors:
        thread = processor._pipeline._thread
        assert thread is None or not thread.is_alive()
