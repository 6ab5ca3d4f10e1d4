"""The events fast path against the marshmallow schemas it is compiled from.

A generated corpus (every field of both event types set to each value of a pool of plain,
degenerate and hostile values, missing or null; then seeded random combinations of up to
four such changes, unknown fields included) goes through the fast path and through the full
``Schema.load``. Whatever the fast path accepts, the schema accepts as the same event; what
it declines, the schema decides (``load_event`` then answers exactly what the schema alone
answers, message included). Plain events must take the fast path, or it would be dead code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, post_load, validate
from marshmallow.experimental.context import Context

from xp.api.assign import ASSIGN_REQUEST_SCHEMA
from xp.events.fastpath import FastLoader, NotCompilable
from xp.events.model import Conversion, Event, Exposure
from xp.events.parse import (
    EVENT_BATCH_SCHEMA,
    FAST,
    SCHEMAS,
    BatchError,
    EventError,
    load_batch,
    load_event,
)
from xp.validation import flatten_messages

NOW = 1_800_000_000.0
MISSING = object()
EXPOSURE = {
    "type": "exposure",
    "experiment": "checkout-button",
    "user_id": "u-1",
    "variant": "control",
    "ts": NOW - 60,
    "attributes": {"country": "US", "app_version": "2.1.0", "beta": True, "age": 31},
    "covariates": {"purchase_rate": 0.5},
    "event_id": "x-1",
}
CONVERSION = {
    "type": "conversion",
    "event": "purchase",
    "user_id": "u-1",
    "value": 19.99,
    "ts": NOW - 30,
    "event_id": "e-1",
}
TEXT = ["", "a", "u-1", "x" * 64, "x" * 65, "x" * 128, "x" * 129, "x" * 256, "x" * 257]
TEXT += ["é", "ü" * 300, "日本", "\ud800", "a\udc00b", " ", "exposure", "conversion"]
NUMBERS: list[Any] = [0, 1, -1, 0.0, -0.0, 1.5, 19.99, 1e12, -1e12, 1e12 + 1, 1e13, 1e300]
NUMBERS += [10**20, 10**300, -(10**300), math.nan, math.inf, -math.inf, True, False]
NUMBERS += [946_684_800, 946_684_799.9, NOW, NOW + 299, NOW + 301, NOW * 1000, 42, 10**256]
OTHER: list[Any] = [None, MISSING, [], {}, ["a"], [1, 2], {"a": 1}, {"country": "US"}]
OTHER += [{"a": [1]}, {"a": {"b": 1}}, {"é": 1}, {"a": "é"}, {"a": "\ud800"}, {"\udc00": 1}]
OTHER += [{"": 1}, {f"k{i}": i for i in range(100)}, {f"k{i}": i for i in range(101)}]
OTHER += [{"m": 1.0}, {"m": "1"}, {"m": math.nan}, {"m": True}, {"m": 1e13}, {"m": None}]
OTHER += [{"m": 10**400}, {1: 2}, "2026-12-01T00:00:00", "2026-12-01T00:00:00Z", "soon"]
POOL = TEXT + NUMBERS + OTHER
PLAIN: list[Any] = ["a", "u-1", "x" * 64, 0, 3, 1.5, -2.25, 1e12, NOW - 5, NOW, None, MISSING]
PLAIN += [{}, {"a": 1}, {"country": "CA", "n": 2.5, "ok": False, "none": None}]


def with_value(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    raw = dict(base)
    if value is MISSING:
        raw.pop(field, None)
    else:
        raw[field] = value
    return raw


def corpus() -> Iterator[dict[str, Any]]:
    for base in (EXPOSURE, CONVERSION):
        yield base
        names = [*base, "unknown"]
        for field in names:
            for value in POOL:
                yield with_value(base, field, value)
    rng = random.Random(13)
    for _ in range(4000):
        raw = dict(rng.choice((EXPOSURE, CONVERSION)))
        for field in rng.sample([*raw, "unknown", "sdk"], rng.randint(1, 4)):
            raw = with_value(raw, field, rng.choice(POOL if rng.random() < 0.5 else PLAIN))
        yield raw


def full_load(raw: dict[str, Any]) -> Event | tuple[str, str]:
    """The schema alone: the event, or the (field, message) of its first error."""
    try:
        event: Event = SCHEMAS[raw["type"]].load(raw)
    except ValidationError as exc:
        return flatten_messages(exc.messages)[0]
    return event


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def test_whatever_the_fast_path_accepts_the_schema_accepts_as_the_same_event() -> None:
    taken = declined = refused = 0
    with Context(NOW):
        for raw in corpus():
            kind = raw.get("type")
            if not isinstance(kind, str) or kind not in SCHEMAS:
                continue
            fast = FAST[kind].load(raw)
            full = full_load(raw)
            if fast is None:
                declined += 1
                refused += isinstance(full, tuple)
            else:
                taken += 1
                assert same(fast, full), (raw, fast, full)
    # Both branches are exercised, and most refusals are left to the schema.
    assert taken > 700 and declined > 2000 and refused > 2000, (taken, declined, refused)


def test_load_event_answers_what_the_schema_alone_answers() -> None:
    for raw in corpus():
        if not isinstance(raw.get("type"), str) or raw["type"] not in SCHEMAS:
            continue
        with Context(NOW):
            full = full_load(raw)
        try:
            got: Any = load_event(raw, NOW)
        except EventError as exc:
            got = (exc.field, exc.message)
        if isinstance(full, tuple):
            assert got == full, raw
        else:
            assert same(got, full), raw


def test_plain_events_take_the_fast_path() -> None:
    plain = [
        EXPOSURE,
        CONVERSION,
        {k: v for k, v in EXPOSURE.items() if k not in ("ts", "attributes", "covariates")},
        {**CONVERSION, "value": None, "ts": None},
        {**EXPOSURE, "attributes": None, "event_id": None, "sdk": "python/1.0"},
        {**CONVERSION, "value": 3, "ts": int(NOW)},
    ]
    with Context(NOW):
        for raw in plain:
            event = FAST[str(raw["type"])].load(raw)
            assert event is not None, raw
            assert same(event, full_load(raw))
    exposure = load_event(plain[2], NOW)
    assert exposure == Exposure("checkout-button", "u-1", "control", NOW, {}, {}, "x-1")
    assert load_event(plain[3], NOW) == Conversion("purchase", "u-1", 1.0, NOW, "e-1")


def test_the_unusual_forms_are_left_to_the_schema_and_still_load() -> None:
    with Context(NOW):
        for raw in (
            {**CONVERSION, "user_id": 42},  # an integer unit id becomes "42"
            {**CONVERSION, "ts": "2026-12-01T00:00:00Z"},
            {**EXPOSURE, "attributes": {"city": "Zürich"}},
            {**EXPOSURE, "attributes": {"tags": ["a", "b"]}},
        ):
            assert FAST[str(raw["type"])].load(raw) is None
            assert isinstance(full_load(raw), Exposure | Conversion)
    assert load_event({**CONVERSION, "user_id": 42}, NOW).user_id == "42"


def batches() -> Iterator[Any]:
    rng = random.Random(9)
    events = [raw for raw, _ in zip(corpus(), range(600), strict=False)]
    yield {"events": events[:500]}
    for _ in range(60):
        yield {"events": rng.sample(events, rng.randint(1, 40)), "extra": 1}
    for body in ({"events": [None]}, {"events": [EXPOSURE, None]}, {"events": []}, {}):
        yield body
    for body in ({"events": None}, {"events": "x"}, {"events": {"a": 1}}, {"events": [[]]}):
        yield body


def batch_answer(load: Any, body: Any) -> Any:
    try:
        items = load(body)
    except (BatchError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            return ("batch", *flatten_messages(exc.messages)[0])
        return ("batch", exc.field, exc.message)
    return [(i.field, i.message) if isinstance(i, EventError) else i for i in items]


def test_load_batch_answers_what_the_batch_schema_answers() -> None:
    def by_schema(body: Any) -> Any:
        with Context(NOW):
            return EVENT_BATCH_SCHEMA.load(body)["events"]

    for body in batches():
        assert batch_answer(lambda b: load_batch(b, NOW), body) == batch_answer(by_schema, body)


class Unusual(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(validate=validate.Regexp("^[a-z]+$"))  # no fast check for a pattern

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return data


class Keeping(Schema):  # unknown fields are kept: the fast path would have to copy them
    class Meta:
        unknown = INCLUDE

    name = fields.String()


@pytest.mark.parametrize("schema", [Unusual(), Keeping()])
def test_a_schema_the_fast_path_cannot_mirror_is_refused_when_compiled(schema: Schema) -> None:
    with pytest.raises(NotCompilable):
        FastLoader(schema)


ASSIGN = {"user_id": "u-1", "attributes": {"country": "US", "n": 3}, "experiments": ["a", "b"]}


def assign_bodies() -> Iterator[dict[str, Any]]:
    yield ASSIGN
    yield {"user_id": "u-1"}
    for field in [*ASSIGN, "log_exposure", "unknown"]:
        for value in [*POOL, ["x" * 64], ["x" * 65], [""], ["a"] * 500, ["a"] * 501, [None]]:
            yield with_value(ASSIGN, field, value)
    yield {**ASSIGN, "attributes": {"x" * 128: 1}}
    yield {**ASSIGN, "attributes": {"x" * 129: 1}}


def test_the_assign_request_fast_path_matches_its_schema() -> None:
    """The same compiler on a schema that refuses unknown fields, with a list, keyed object
    and strict boolean: what it accepts, the schema accepts as the same data."""
    fast = FastLoader(ASSIGN_REQUEST_SCHEMA)
    taken = declined = 0
    for raw in assign_bodies():
        loaded = fast.load(raw)
        try:
            full: Any = ASSIGN_REQUEST_SCHEMA.load(raw)
        except ValidationError:
            full = "refused"
        if loaded is None:
            declined += 1
        else:
            taken += 1
            assert loaded == full, raw
    assert taken > 30 and declined > 300, (taken, declined)
    assert fast.load({**ASSIGN, "log_exposure": False}) == {**ASSIGN, "log_exposure": False}
    assert fast.load({"user_id": "u"}) == {
        "user_id": "u",
        "attributes": {},
        "experiments": None,
        "log_exposure": True,
    }
