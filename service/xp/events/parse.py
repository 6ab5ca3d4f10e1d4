"""Exposure and conversion events: validated by marshmallow schemas, loaded in batches.

:data:`EXPOSURE_SCHEMA` and :data:`CONVERSION_SCHEMA` load one raw event into an
:class:`~xp.events.model.Exposure` or :class:`~xp.events.model.Conversion`;
:data:`EVENT_BATCH_SCHEMA` loads ``{"events": [...]}``. The same schemas describe the
events in the OpenAPI document. An event that fails validation is rejected with the path of
the field at fault (``events.3.ts``); the good events beside it are still ingested. Checks
that need the live definitions (unknown experiment or variant, experiment not running) happen
in :meth:`xp.store.base.Store.ingest`, the one path every event takes into the store.

Choices worth knowing:

- ``user_id``: a string of 1 to 256 characters or a number, as its canonical string
  (``xp_client.unit_ids``: ``42``, ``42.0`` and ``"42"`` are one unit; booleans are not).
- ``ts`` is seconds since the epoch (a number) or an ISO 8601 string (without a zone it is
  UTC); missing means the server's clock. It is kept to the millisecond. More than 5 minutes
  ahead of the server clock, or before 2000, is rejected.
- Fields these schemas do not know are ignored, so newer SDKs can send more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate
from marshmallow.experimental.context import Context

from xp.events.fastpath import FastLoader
from xp.events.fields import (
    MAX_NAME,
    Attributes,
    Bounded,
    Covariates,
    Name,
    Timestamp,
    UnitId,
    type_name,
)
from xp.events.model import Conversion, Event, Exposure
from xp.events.values import MAX_FUTURE_SECONDS, MIN_TS, ts_problem
from xp.validation import flatten_messages, short
from xp_client.limits import MAX_EVENT_ID, MAX_EVENT_NAME

MAX_EVENTS = 1000
KINDS = ("exposure", "conversion")


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class EventError(_FieldError):
    """One event that cannot be used; ``field`` is its path inside the event."""


class BatchError(_FieldError):
    """A request body that is not a batch of 1 to :data:`MAX_EVENTS` events (a 400)."""


class BatchTooLarge(BatchError):
    """More than :data:`MAX_EVENTS` events in one batch (a 413)."""


# --- schemas --------------------------------------------------------------------------------


class _EventSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # newer SDKs may send more

    user_id = UnitId(required=True)
    ts = Timestamp()

    def _when(self, data: Mapping[str, Any]) -> float:
        """The event's time: its ``ts`` checked against the clock of :func:`load_event`."""
        now: float = Context.get()  # Context[float].get() builds a generic alias per call
        ts = now if data["ts"] is None else data["ts"]
        if MIN_TS <= ts <= now + MAX_FUTURE_SECONDS:  # what ts_problem accepts (nan fails)
            return ts
        raise ValidationError(ts_problem(ts, now) or "is not a valid time", field_name="ts")


def _kind(name: str) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf([name]))


class ExposureSchema(_EventSchema):
    type = _kind("exposure")
    experiment = Name(MAX_NAME, required=True)
    variant = Name(MAX_NAME, required=True)
    attributes = Attributes()
    covariates = Covariates()
    event_id = Name(MAX_EVENT_ID, load_default=None, allow_none=True)  # none: one is made

    @post_load
    def _exposure(self, data: dict[str, Any], **kwargs: Any) -> Exposure:
        return Exposure(  # positional: keywords cost a third of the call
            data["experiment"],
            data["user_id"],
            data["variant"],
            self._when(data),
            data["attributes"] or {},  # null: none
            data["covariates"] or {},
            data["event_id"] or "",
        )


class ConversionSchema(_EventSchema):
    type = _kind("conversion")
    event = Name(MAX_EVENT_NAME, required=True)
    value = Bounded(load_default=None, allow_none=True, metadata={"default": 1.0})
    event_id = Name(MAX_EVENT_ID, required=True)

    @post_load
    def _conversion(self, data: dict[str, Any], **kwargs: Any) -> Conversion:
        return Conversion(
            data["event"],
            data["user_id"],
            1.0 if data["value"] is None else data["value"],
            self._when(data),
            data["event_id"],
        )


EXPOSURE_SCHEMA = ExposureSchema()
CONVERSION_SCHEMA = ConversionSchema()
SCHEMAS: dict[str, Schema] = {"exposure": EXPOSURE_SCHEMA, "conversion": CONVERSION_SCHEMA}
FAST = {kind: FastLoader(schema) for kind, schema in SCHEMAS.items()}  # plain events; see fastpath
FAST_LOAD = {kind: loader.load for kind, loader in FAST.items()}


def load_event(raw: Any, now: float) -> Event:
    """One raw event as an :class:`Exposure` or :class:`Conversion`, or :class:`EventError`
    naming its first bad field."""
    with Context(now):
        return _load_event(raw)


def _load_event(raw: Any) -> Event:
    """:func:`load_event` inside the clock's :class:`Context` (a batch enters it once)."""
    if type(raw) is dict:  # the plain event, in as few steps as can be
        kind = raw.get("type")
        if type(kind) is str:
            load = FAST_LOAD.get(kind)
            if load is not None:
                event: Event | None = load(raw)
                if event is not None:
                    return event
                return _load_by_schema(raw, SCHEMAS[kind])
    return _check_and_load(raw)


def _check_and_load(raw: Any) -> Event:
    """An event that is not a plain dict with a known type: refused, or loaded the long way."""
    if not isinstance(raw, dict):
        raise EventError("", f"must be an object, not {type_name(raw)}")
    kind = raw.get("type")
    if kind is None:
        raise EventError("type", "is required: 'exposure' or 'conversion'")
    schema = SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise EventError("type", f"must be 'exposure' or 'conversion', got {short(kind)}")
    event: Event | None = FAST[kind].load(raw)
    if event is not None:
        return event
    return _load_by_schema(raw, schema)


def _load_by_schema(raw: dict[str, Any], schema: Schema) -> Event:
    """What the fast path declined, by the full schema: the event, or the schema's error."""
    try:
        event: Event = schema.load(raw)
    except ValidationError as exc:
        field, message = flatten_messages(exc.messages)[0]
        raise EventError(field, message) from None
    return event


class EventField(fields.Field):
    """One event of a batch, loaded by its type's schema. A bad event is not an error of the
    batch: it loads as its :class:`EventError`, to be rejected alone."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> Event | EventError:
        return _event_or_error(value)


def _event_or_error(raw: Any) -> Event | EventError:
    try:
        return _load_event(raw)
    except EventError as exc:
        return exc


class EventBatchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    events = fields.List(
        EventField(),
        required=True,
        validate=validate.Length(min=1, max=MAX_EVENTS),
        error_messages={
            "required": f"is required: a list of 1 to {MAX_EVENTS} events",
            "null": f"is required: a list of 1 to {MAX_EVENTS} events",
        },
    )


EVENT_BATCH_SCHEMA = EventBatchSchema()


def load_batch(body: Any, now: float) -> list[Event | EventError]:
    """The events of ``{"events": [...]}``, each loaded or its :class:`EventError`; raises
    :class:`BatchError` (:class:`BatchTooLarge`) when the body is not a batch at all."""
    if not isinstance(body, dict):
        raise BatchError("", f"the body must be an object with 'events', not {type_name(body)}")
    events = body.get("events")
    # Before the schema: refusing 100,000 events should not load them first.
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise BatchTooLarge(
            "events", f"holds {len(events)} events; send at most {MAX_EVENTS} per request"
        )
    try:
        with Context(now):
            if isinstance(events, list) and events and None not in events:
                return [_event_or_error(raw) for raw in events]  # what List(EventField) does
            batch: list[Event | EventError] = EVENT_BATCH_SCHEMA.load(body)["events"]
    except ValidationError as exc:
        field, message = flatten_messages(exc.messages)[0]
        raise BatchError(field, message) from None
    return batch


def rejected(index: int, field: str, reason: str) -> dict[str, Any]:
    path = f"events.{index}.{field}" if field else f"events.{index}"
    return {"index": index, "status": "rejected", "reason": reason, "field": path}
