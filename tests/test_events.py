"""Loading and validating raw events; the batch envelope of ``ingest_batch``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from xp.attribution.ops import Outcome
from xp.definitions.model import Definition
from xp.events.model import Conversion, Event, Exposure
from xp.events.parse import (
    MAX_EVENTS,
    BatchError,
    BatchTooLarge,
    EventError,
    load_batch,
    load_event,
)
from xp.ingest import ingest_batch

NOW = 1_800_000_000.0
EXPOSURE = {"type": "exposure", "experiment": "exp", "user_id": "u1", "variant": "control"}
CONVERSION = {"type": "conversion", "event": "purchase", "user_id": "u1", "event_id": "e1"}


def test_exposure_with_defaults() -> None:
    event = load_event(EXPOSURE, NOW)

    assert event == Exposure("exp", "u1", "control", NOW, {}, {}, "exposure:exp:u1")


def test_exposure_with_everything() -> None:
    raw = {
        **EXPOSURE,
        "ts": "2026-11-01T09:30:00.250Z",
        "attributes": {"country": "US"},
        "covariates": {"revenue": 12},
        "event_id": "x-1",
        "sdk": "python/1.0",  # unknown fields are ignored
    }

    event = load_event(raw, NOW)

    assert isinstance(event, Exposure)
    assert event.ts == 1793525400.25
    assert event.attributes == {"country": "US"}
    assert event.covariates == {"revenue": 12.0}
    assert event.event_id == "x-1"


def test_conversion_with_defaults_and_numbers() -> None:
    assert load_event(CONVERSION, NOW) == Conversion("purchase", "u1", 1.0, NOW, "e1")
    event = load_event({**CONVERSION, "user_id": 42, "value": 9.5, "ts": NOW - 1.23456}, NOW)
    assert event == Conversion("purchase", "42", 9.5, round(NOW - 1.23456, 3), "e1")


def test_an_exposure_without_id_gets_one_per_experiment_and_unit() -> None:
    a = load_event({**EXPOSURE, "variant": "control"}, NOW)
    b = load_event({**EXPOSURE, "variant": "treatment", "ts": NOW - 5}, NOW)
    c = load_event({**EXPOSURE, "user_id": "u2"}, NOW)

    assert a.event_id == b.event_id != c.event_id


def test_iso_timestamps_without_a_zone_are_utc() -> None:
    event = load_event({**CONVERSION, "ts": "2026-11-01T00:00:00"}, NOW)
    assert event.ts == 1793491200.0
    event = load_event({**CONVERSION, "ts": "2026-11-01T01:00:00+01:00"}, NOW)
    assert event.ts == 1793491200.0


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ([], "", "must be an object"),
        ({"user_id": "u"}, "type", "is required"),
        ({**EXPOSURE, "type": "click"}, "type", "'exposure' or 'conversion'"),
        ({**EXPOSURE, "experiment": ""}, "experiment", "non-empty string"),
        ({**EXPOSURE, "variant": None}, "variant", "non-empty string"),
        ({**EXPOSURE, "user_id": ""}, "user_id", "non-empty string"),
        ({**EXPOSURE, "user_id": math.nan}, "user_id", "finite number"),
        ({**EXPOSURE, "user_id": True}, "user_id", "not a boolean"),
        ({**EXPOSURE, "user_id": [42]}, "user_id", "got list"),
        ({**EXPOSURE, "user_id": "u" * 257}, "user_id", "longer than 256"),
        ({**EXPOSURE, "ts": NOW + 301}, "ts", "in the future"),
        ({**EXPOSURE, "ts": NOW * 1000}, "ts", "milliseconds?"),
        ({**EXPOSURE, "ts": 946684799}, "ts", "before 2000"),
        ({**EXPOSURE, "ts": "yesterday"}, "ts", "not an ISO 8601 time"),
        ({**EXPOSURE, "ts": True}, "ts", "seconds since the epoch"),
        ({**EXPOSURE, "ts": 10**400}, "ts", "seconds since the epoch"),
        ({**EXPOSURE, "attributes": ["US"]}, "attributes", "must be an object"),
        ({**EXPOSURE, "covariates": {"revenue": "1"}}, "covariates.revenue", "finite number"),
        ({**EXPOSURE, "covariates": {"revenue": math.inf}}, "covariates.revenue", "finite"),
        ({**EXPOSURE, "event_id": 7}, "event_id", "non-empty string"),
        ({**CONVERSION, "event_id": None}, "event_id", "is required"),
        ({**CONVERSION, "event_id": "e" * 129}, "event_id", "longer than 128"),
        ({**CONVERSION, "event": "e" * 129}, "event", "longer than 128"),
        ({**CONVERSION, "value": math.nan}, "value", "finite number"),
        ({**CONVERSION, "value": "3"}, "value", "finite number"),
        ({**CONVERSION, "value": False}, "value", "finite number"),
    ],
)
def test_bad_events_name_the_field(raw: Any, field: str, words: str) -> None:
    with pytest.raises(EventError) as caught:
        load_event(raw, NOW)

    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ([], BatchError, ""),
        ({}, BatchError, "events"),
        ({"events": {}}, BatchError, "events"),
        ({"events": []}, BatchError, "events"),
        ({"events": [{}] * (MAX_EVENTS + 1)}, BatchTooLarge, "events"),
    ],
)
def test_a_body_that_is_not_a_batch(body: Any, error: type[BatchError], field: str) -> None:
    with pytest.raises(error) as caught:
        load_batch(body, NOW)

    assert type(caught.value) is error
    assert caught.value.field == field


class RecordingStore:
    """Answers ``ingest`` from a script, recording what it was given."""

    def __init__(self, answers: list[Outcome]) -> None:
        self.answers = answers
        self.got: list[Event] = []

    def ingest(
        self, events: Sequence[Event], definitions: Mapping[str, Definition], now: float
    ) -> list[Outcome]:
        self.got = list(events)
        return self.answers[: len(events)]


def test_ingest_batch_passes_valid_events_and_merges_the_outcomes() -> None:
    store = RecordingStore(
        [
            Outcome("accepted"),
            Outcome("rejected", "unknown experiment 'x'", "experiment"),
            Outcome("duplicate", "event_id already ingested"),
        ]
    )
    body = {
        "events": [
            EXPOSURE,
            {**EXPOSURE, "user_id": None},
            {**EXPOSURE, "experiment": "x"},
            CONVERSION,
        ]
    }

    result = ingest_batch(store, {}, body, NOW)  # type: ignore[arg-type]

    assert [e.user_id for e in store.got] == ["u1", "u1", "u1"]
    assert result == {
        "results": [
            {"index": 0, "status": "accepted"},
            {
                "index": 1,
                "status": "rejected",
                "reason": "is required: a non-empty string, got None",
                "field": "events.1.user_id",
            },
            {
                "index": 2,
                "status": "rejected",
                "reason": "unknown experiment 'x'",
                "field": "events.2.experiment",
            },
            {"index": 3, "status": "duplicate", "reason": "event_id already ingested"},
        ],
        "accepted": 1,
        "duplicates": 1,
        "rejected": 2,
    }


def test_a_batch_loads_each_bad_event_as_its_error_in_place() -> None:
    body = {"events": [EXPOSURE, {**CONVERSION, "ts": "soon"}, 7], "sdk": "python/1"}

    loaded = load_batch(body, NOW)

    assert isinstance(loaded[0], Exposure)
    assert [(e.field, e.message[:16]) for e in loaded[1:] if isinstance(e, EventError)] == [
        ("ts", "is not an ISO 86"),
        ("", "must be an objec"),
    ]
