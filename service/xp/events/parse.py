"""Exposure and conversion events: parsed from raw dicts, validated, ingested in batches.

An event that fails validation is rejected with the path of the field at fault
(``events.3.ts``); the good events beside it are still ingested. Checks that need the live
definitions (unknown experiment or variant, experiment not running) happen in
:meth:`service.store.base.Store.ingest`, the one path every event takes into the store.

Choices worth knowing:

- ``user_id`` is a non-empty string of at most 256 characters; an integer is accepted and
  turned into its decimal string (``42`` and ``"42"`` are the same unit). Floats, booleans
  and anything else are rejected.
- ``ts`` is seconds since the epoch (a number) or an ISO 8601 string (without a zone it is
  UTC); missing means the server's clock. It is kept to the millisecond. More than 5 minutes
  ahead of the server clock, or before 2000, is rejected.
- Fields this module does not know are ignored, so newer SDKs can send more.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from xp.events.model import Conversion, Event, Exposure
from xp_client.limits import MAX_ABS_VALUE, MAX_EVENT_ID, MAX_EVENT_NAME, MAX_USER_ID

MAX_EVENTS = 1000
MAX_FUTURE_SECONDS = 300.0
MIN_TS = 946_684_800.0  # 2000-01-01T00:00:00Z
MAX_NAME = 64
MAX_ATTRIBUTES = 100
MAX_COVARIATES = 100


class EventError(ValueError):
    """One event that cannot be used; ``field`` is its path inside the event."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class BatchError(ValueError):
    """A request body that is not a batch of 1 to :data:`MAX_EVENTS` events (a 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class BatchTooLarge(BatchError):
    """More than :data:`MAX_EVENTS` events in one batch (a 413)."""


def parse_event(raw: Any, now: float) -> Event:
    """One raw event dict as an :class:`Exposure` or :class:`Conversion`, or :class:`EventError`."""
    if not isinstance(raw, dict):
        raise EventError("", f"must be an object, not {_type_name(raw)}")
    kind = raw.get("type")
    if kind == "exposure":
        return Exposure(
            experiment=_name(raw, "experiment"),
            user_id=_user_id(raw),
            variant=_name(raw, "variant"),
            ts=_ts(raw, now),
            attributes=_attributes(raw),
            covariates=_covariates(raw),
            event_id=_event_id(raw, required=False),
        )
    if kind == "conversion":
        return Conversion(
            event=_name(raw, "event", MAX_EVENT_NAME),
            user_id=_user_id(raw),
            value=_value(raw),
            ts=_ts(raw, now),
            event_id=_event_id(raw, required=True),
        )
    if kind is None:
        raise EventError("type", "is required: 'exposure' or 'conversion'")
    raise EventError("type", f"must be 'exposure' or 'conversion', got {_short(kind)}")


def ts_problem(ts: float, now: float) -> str | None:
    """Why ``ts`` cannot be an event time, or None."""
    if not math.isfinite(ts):
        return f"must be a finite number of seconds, got {ts!r}"
    if ts > now + MAX_FUTURE_SECONDS:
        hint = " (milliseconds? send seconds)" if ts > now * 100 else ""
        return f"{ts!r} is more than {MAX_FUTURE_SECONDS:.0f} s in the future{hint}"
    if ts < MIN_TS:
        return f"{ts!r} is before 2000-01-01"
    return None


def batch_events(body: Any) -> Sequence[Any]:
    """The list of raw events in a request body, or :class:`BatchError`."""
    if not isinstance(body, dict):
        raise BatchError("", f"the body must be an object with 'events', not {_type_name(body)}")
    events = body.get("events")
    if events is None:
        raise BatchError("events", "is required: a list of 1 to 1000 events")
    if not isinstance(events, list):
        raise BatchError("events", f"must be a list of events, not {_type_name(events)}")
    if not events:
        raise BatchError("events", "must hold at least one event")
    if len(events) > MAX_EVENTS:
        raise BatchTooLarge(
            "events", f"holds {len(events)} events; send at most {MAX_EVENTS} per request"
        )
    return events


def rejected(index: int, field: str, reason: str) -> dict[str, Any]:
    path = f"events.{index}.{field}" if field else f"events.{index}"
    return {"index": index, "status": "rejected", "reason": reason, "field": path}


def _name(raw: dict[str, Any], key: str, limit: int = MAX_NAME) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise EventError(key, f"is required: a non-empty string, got {_short(value)}")
    if len(value) > limit:
        raise EventError(key, f"is longer than {limit} characters")
    return _text(key, value)


def _text(field: str, value: str) -> str:
    if not is_unicode_text(value):
        raise EventError(field, "is not valid Unicode text (a lone surrogate)")
    return value


def is_unicode_text(value: str) -> bool:
    """Whether ``value`` can be stored as UTF-8 (JSON's surrogate escapes can make strings
    that cannot)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _user_id(raw: dict[str, Any]) -> str:
    value = raw.get("user_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise EventError("user_id", f"is required: a non-empty string, got {_short(value)}")
    if len(value) > MAX_USER_ID:
        raise EventError("user_id", f"is longer than {MAX_USER_ID} characters")
    return _text("user_id", value)


def _event_id(raw: dict[str, Any], required: bool) -> str:
    value = raw.get("event_id")
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise EventError("event_id", f"is required: a non-empty string, got {_short(value)}")
    if len(value) > MAX_EVENT_ID:
        raise EventError("event_id", f"is longer than {MAX_EVENT_ID} characters")
    return _text("event_id", value)


def _number(value: Any) -> float | None:
    """A finite float from a JSON number (not a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _value(raw: dict[str, Any]) -> float:
    if "value" not in raw or raw["value"] is None:
        return 1.0
    return _bounded("value", raw["value"])


def _bounded(field: str, value: Any) -> float:
    number = _number(value)
    if number is None:
        raise EventError(field, f"must be a finite number, got {_short(value)}")
    if abs(number) > MAX_ABS_VALUE:
        raise EventError(field, f"must be between -{MAX_ABS_VALUE:g} and {MAX_ABS_VALUE:g}")
    return number


def _ts(raw: dict[str, Any], now: float) -> float:
    value = raw.get("ts")
    if value is None:
        return now
    if isinstance(value, str):
        ts = _iso_ts(value)
    else:
        number = _number(value)
        if number is None:
            raise EventError(
                "ts", f"must be seconds since the epoch or an ISO 8601 string, got {_short(value)}"
            )
        ts = number
    problem = ts_problem(ts, now)
    if problem:
        raise EventError("ts", problem)
    return ts


def _iso_ts(text: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise EventError("ts", f"is not an ISO 8601 time: {_short(text)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    value = raw.get("attributes")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError("attributes", f"must be an object, not {_type_name(value)}")
    if len(value) > MAX_ATTRIBUTES:
        raise EventError("attributes", f"has more than {MAX_ATTRIBUTES} entries")
    for name, item in value.items():
        _text("attributes", name)
        if isinstance(item, str):
            _text(f"attributes.{name}", item)
    return value


def _covariates(raw: dict[str, Any]) -> dict[str, float]:
    value = raw.get("covariates")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(
            "covariates", f"must be an object of metric: number, not {_type_name(value)}"
        )
    if len(value) > MAX_COVARIATES:
        raise EventError("covariates", f"has more than {MAX_COVARIATES} entries")
    covariates = {}
    for name, x in value.items():
        covariates[_text("covariates", name)] = _bounded(f"covariates.{name}", x)
    return covariates


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
