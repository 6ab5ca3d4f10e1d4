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

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate
from marshmallow.experimental.context import Context

from xp.events.fastpath import FastLoader
from xp.events.model import Conversion, Event, Exposure
from xp.events.values import MAX_FUTURE_SECONDS, MIN_TS, is_unicode_text, ts_problem
from xp.validation import flatten_messages, short
from xp_client.limits import MAX_ABS_VALUE, MAX_EVENT_ID, MAX_EVENT_NAME, MAX_USER_ID
from xp_client.unit_ids import canonical_unit_id, unit_id_problem

MAX_EVENTS = 1000
MAX_NAME = 64
MAX_ATTRIBUTES = 100
MAX_COVARIATES = 100
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


# --- fields: strict JSON types, today's messages -------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):  # a name from a Python caller: JSON names are strings
        raise ValidationError(f"names must be strings, got {short(value)}")
    if not is_unicode_text(value):
        raise ValidationError("is not valid Unicode text (a lone surrogate)")
    return value


def _number(value: Any) -> float | None:
    """A finite float from a JSON number (not a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


NON_EMPTY = "is required: a non-empty string, got None"


class Name(fields.String):
    """A non-empty string of valid Unicode, at most ``max`` characters."""

    def __init__(self, max: int, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": NON_EMPTY, "null": NON_EMPTY})
        super().__init__(validate=validate.Length(min=1, max=max), **kwargs)
        self.max = max

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValidationError(f"is required: a non-empty string, got {short(value)}")
        if len(value) > self.max:
            raise ValidationError(f"is longer than {self.max} characters")
        return _text(value)


class UnitId(Name):
    """A unit id as its canonical string (``xp_client.unit_ids``: 42 and 42.0 are "42")."""

    def __init__(self, **kwargs: Any) -> None:
        biggest, smallest = 10**MAX_USER_ID - 1, -(10 ** (MAX_USER_ID - 1) - 1)
        metadata = {
            "type": ["string", "number"],
            "minimum": smallest,
            "maximum": biggest,
            "description": "the unit; a number is its canonical string (42 and 42.0 are '42')",
        }
        super().__init__(MAX_USER_ID, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if value.__class__ is not str:
            unit = canonical_unit_id(value)
            if unit is None:
                raise ValidationError(unit_id_problem(value, "") or "is not a unit id")
            value = unit
        return super()._deserialize(value, attr, data, **kwargs)


class Bounded(fields.Float):
    """A finite JSON number (not a string, not a bool) within +/-:data:`MAX_ABS_VALUE`."""

    def __init__(self, **kwargs: Any) -> None:
        bounds = validate.Range(min=-MAX_ABS_VALUE, max=MAX_ABS_VALUE)
        super().__init__(allow_nan=False, validate=bounds, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        number = _number(value)
        if number is None:
            raise ValidationError(f"must be a finite number, got {short(value)}")
        if abs(number) > MAX_ABS_VALUE:
            raise ValidationError(f"must be between -{MAX_ABS_VALUE:g} and {MAX_ABS_VALUE:g}")
        return number


class Timestamp(fields.Field):
    """Seconds since the epoch, or an ISO 8601 string (UTC without a zone), as a float."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": ["number", "string"],
            "minimum": MIN_TS,
            "description": "seconds since the epoch or an ISO 8601 string (UTC without a "
            f"zone); missing means now; at most {MAX_FUTURE_SECONDS:.0f} s ahead of the "
            "server clock",
        }
        super().__init__(load_default=None, allow_none=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError(f"is not an ISO 8601 time: {short(value)}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.timestamp()
        number = _number(value)
        if number is None:
            raise ValidationError(
                f"must be seconds since the epoch or an ISO 8601 string, got {short(value)}"
            )
        return number


class Attributes(fields.Dict):
    """An object of at most :data:`MAX_ATTRIBUTES` entries; its names and strings Unicode."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            load_default=None,
            allow_none=True,
            validate=validate.Length(max=MAX_ATTRIBUTES),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(f"must be an object, not {_type_name(value)}")
        if len(value) > MAX_ATTRIBUTES:
            raise ValidationError(f"has more than {MAX_ATTRIBUTES} entries")
        for name, item in value.items():
            _text(name)
            if isinstance(item, str) and not is_unicode_text(item):
                raise ValidationError({name: ["is not valid Unicode text (a lone surrogate)"]})
        return value


class Covariates(fields.Dict):
    """An object of at most :data:`MAX_COVARIATES` metric: bounded number entries."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            values=Bounded(),
            load_default=None,
            allow_none=True,
            validate=validate.Length(max=MAX_COVARIATES),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(f"must be an object of metric: number, not {_type_name(value)}")
        if len(value) > MAX_COVARIATES:
            raise ValidationError(f"has more than {MAX_COVARIATES} entries")
        bounded = Bounded()
        covariates = {}
        for name, x in value.items():
            _text(name)
            try:
                covariates[name] = bounded.deserialize(x)
            except ValidationError as exc:
                raise ValidationError({name: exc.messages}) from None
        return covariates


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
        raise EventError("", f"must be an object, not {_type_name(raw)}")
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
        raise BatchError("", f"the body must be an object with 'events', not {_type_name(body)}")
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
