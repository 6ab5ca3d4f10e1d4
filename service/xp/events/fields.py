"""The fields of the event schemas (:mod:`xp.events.parse`): strict JSON types, each with the
message an event is rejected with."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from marshmallow import ValidationError, fields, validate

from xp.events.values import MAX_FUTURE_SECONDS, MIN_TS, is_unicode_text
from xp.validation import short
from xp_client.limits import MAX_ABS_VALUE, MAX_USER_ID
from xp_client.unit_ids import canonical_unit_id, unit_id_problem

MAX_NAME = 64
MAX_ATTRIBUTES = 100
MAX_COVARIATES = 100


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


def type_name(value: Any) -> str:
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
            raise ValidationError(f"must be an object, not {type_name(value)}")
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
            raise ValidationError(f"must be an object of metric: number, not {type_name(value)}")
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
