"""Marshmallow schemas for experiment YAML files: the field names here are the contract."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from xp.definitions.model import (
    DIRECTIONS,
    METRIC_FORMATS,
    METRIC_KINDS,
    METRIC_ROLES,
    METRIC_TRAITS,
)
from xp_client.conditions import validate_condition
from xp_client.schedule import ScheduleError, parse_instant

KEY_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
NAME_RULE = validate.Regexp(
    NAME_PATTERN, error="must be 1-64 letters, digits, '_', '.' or '-', not starting with . or -"
)
WEIGHT_TOLERANCE = 1e-6


class VariantSchema(Schema):
    key = fields.String(required=True, validate=NAME_RULE)
    name = fields.String()
    weight = fields.Float(required=True, allow_nan=False, validate=validate.Range(0, 1))
    payload = fields.Raw(allow_none=True, load_default=None)
    description = fields.String()


class LayerSchema(Schema):
    name = fields.String(required=True, validate=NAME_RULE)
    range = fields.List(
        fields.Integer(strict=True, validate=validate.Range(0, 10_000)),
        required=True,
        validate=validate.Length(equal=2),
    )
    salt = fields.String(validate=validate.Length(min=1))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data["range"]
        if start >= end:
            raise ValidationError(f"range start must be below its end, got {[start, end]}", "range")


class WindowField(fields.Field):
    """``window_days``: a number of days (``7``) or a ``[start, end]`` pair of days."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        def days(v: Any) -> float:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValidationError(f"window days must be numbers, got {v!r}")
            if v < 0:
                raise ValidationError(f"window days cannot be negative, got {v!r}")
            return float(v)

        if isinstance(value, list):
            if len(value) != 2:
                raise ValidationError(f"a window is [start, end] in days, got {value!r}")
            start, end = days(value[0]), days(value[1])
            if start >= end:
                raise ValidationError(f"window start must be below its end, got {value!r}")
            return (start, end)
        end = days(value)
        if end == 0:
            raise ValidationError("a window must be longer than 0 days")
        return (0.0, end)


class InstantField(fields.Field):
    """``start``/``end``: a date or an ISO 8601 time, as an aware UTC datetime.

    The reading is :func:`xp_client.schedule.parse_instant`, the SDK's: a date as ``end``
    is the last day of the window, so it becomes 00:00 UTC of the next day (``end`` is
    exclusive).
    """

    def __init__(self, *, is_end: bool = False, **kwargs: Any) -> None:
        super().__init__(allow_none=True, load_default=None, **kwargs)
        self.is_end = is_end

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_instant(value, is_end=self.is_end)
        except ScheduleError as exc:
            raise ValidationError(str(exc)) from None


class MetricSchema(Schema):
    name = fields.String(required=True, validate=NAME_RULE)
    kind = fields.String(required=True, validate=validate.OneOf(METRIC_KINDS))
    role = fields.String(load_default="secondary", validate=validate.OneOf(METRIC_ROLES))
    event = fields.String(validate=validate.Length(min=1, max=128))
    numerator = fields.String(validate=validate.Length(min=1, max=128))
    denominator = fields.String(validate=validate.Length(min=1, max=128))
    window_days = WindowField(allow_none=True, load_default=None)
    direction = fields.String(load_default="increase", validate=validate.OneOf(DIRECTIONS))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    display_name = fields.String(load_default="", validate=validate.Length(max=120))
    format = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(METRIC_FORMATS)
    )
    currency = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Z]{3}\Z", error="must be an ISO 4217 code such as USD"),
    )

    @validates_schema
    def _currency(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("format") == "currency" and not data.get("currency"):
            raise ValidationError(
                "a currency metric needs 'currency' (a code such as USD)", "currency"
            )
        if data.get("currency") and data.get("format") != "currency":
            raise ValidationError("'currency' goes with format: currency", "currency")

    @validates_schema(pass_original=True)
    def _kind_fields(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        kind = data.get("kind")
        traits = METRIC_TRAITS.get(kind) if isinstance(kind, str) else None
        errors: dict[str, list[str]] = {}
        if traits is not None and traits.has_denominator:
            for name in ("numerator", "denominator"):
                if not data.get(name):
                    errors[name] = [f"a {kind} metric needs {name!r} (an event name)"]
            if data.get("event"):
                errors["event"] = [f"a {kind} metric takes numerator and denominator, not event"]
        elif traits is not None:
            if not data.get("event"):
                errors["event"] = [f"a {kind} metric needs 'event'"]
            takers = " and ".join(k for k, t in METRIC_TRAITS.items() if t.has_denominator)
            for name in ("numerator", "denominator"):
                if data.get(name):
                    errors[name] = [f"only {takers} metrics take {name!r}"]
        raw_window = original.get("window_days") if isinstance(original, dict) else None
        if traits is not None and traits.window_pair and not isinstance(raw_window, list):
            errors["window_days"] = [f"a {kind} metric needs window_days: [start, end] in days"]
        if errors:
            raise ValidationError(errors)


class PriorSchema(Schema):
    """A Gaussian prior on the relative lift for ``method=bayesian`` (flat unless proper)."""

    mean = fields.Float(load_default=0.0, allow_nan=False)
    variance = fields.Float(
        load_default=1.0, allow_nan=False, validate=validate.Range(min=0, min_inclusive=False)
    )
    proper = fields.Boolean(load_default=False)


class BayesianSchema(Schema):
    """``bayesian:``: the prior and the decision rule of ``method=bayesian`` (GrowthBook's)."""

    prior = fields.Nested(PriorSchema, load_default=None, allow_none=True)
    chance_to_win = fields.Float(
        load_default=0.95,
        allow_nan=False,
        validate=validate.Range(
            min=0.5, max=1, max_inclusive=False, error="must be at least 0.5 and below 1"
        ),
    )
    risk_threshold = fields.Float(
        load_default=0.0025,
        allow_nan=False,
        validate=validate.Range(min=0, error="must be 0 or more (a share of the control mean)"),
    )


class ExperimentSchema(Schema):
    key = fields.String(
        required=True,
        validate=validate.Regexp(
            KEY_PATTERN, error="must be 1-64 lowercase letters, digits and dashes"
        ),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    hypothesis = fields.String(load_default="")
    description = fields.String(load_default="")
    owner = fields.String(load_default="")
    tags = fields.List(fields.String(), load_default=list)
    status = fields.String(
        required=True, validate=validate.OneOf(("draft", "running", "stopped", "shipped"))
    )
    winner = fields.String(allow_none=True, load_default=None)
    unit = fields.String(load_default="user_id", validate=NAME_RULE)
    salt = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1))
    variants = fields.List(
        fields.Nested(VariantSchema),
        required=True,
        validate=validate.Length(min=2, max=26, error="must list {min} to {max} variants"),
    )
    coverage = fields.Float(load_default=1.0, allow_nan=False, validate=validate.Range(0, 1))
    targeting = fields.Dict(keys=fields.String(), allow_none=True, load_default=None)
    overrides = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    layer = fields.Nested(LayerSchema, allow_none=True, load_default=None)
    metrics = fields.List(fields.Nested(MetricSchema), load_default=list)
    segments = fields.List(
        fields.String(validate=NAME_RULE),
        load_default=list,
        validate=validate.Length(max=10),
    )
    start = InstantField()
    end = InstantField(is_end=True)
    planned_sample = fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=validate.Range(min=2)
    )
    phase = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, 1000))
    bayesian = fields.Nested(BayesianSchema, load_default=None, allow_none=True)
    bayesian_prior = fields.Nested(PriorSchema, load_default=None, allow_none=True)  # older name
    # Replaced by ``phase``: kept so an old file gets a message saying so, not "unknown field".
    allow_rebucket = fields.Boolean()  # gone; kept only to refuse it with a pointer to phase

    @validates_schema(skip_on_field_errors=False)
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        # Runs even when fields failed, so one `xp validate` shows every problem of a file.
        errors: dict[str, Any] = {}
        variants = [v for v in data.get("variants") or [] if "key" in v and "weight" in v]
        keys = [v["key"] for v in variants]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                errors.setdefault("variants", {})[i] = {"key": [f"duplicate variant key {key!r}"]}
        total = sum(v["weight"] for v in variants)
        if variants and abs(total - 1.0) > WEIGHT_TOLERANCE:
            errors.setdefault("variants", {}).setdefault("_schema", []).append(
                f"weights must sum to 1, they sum to {total:g}"
            )
        winner = data.get("winner")
        if data.get("status") == "shipped" and not winner:
            errors["winner"] = ["a shipped experiment needs a winner (one of its variant keys)"]
        if winner is not None and winner not in keys:
            errors["winner"] = [f"winner {winner!r} is not a variant key (one of {keys})"]
        for unit, variant in (data.get("overrides") or {}).items():
            if variant not in keys:
                errors.setdefault("overrides", {})[unit] = [
                    f"override {variant!r} is not a variant key (one of {keys})"
                ]
        targeting = data.get("targeting")
        if targeting:
            for problem in validate_condition(targeting):
                where = f"targeting.{problem.path}" if problem.path else "targeting"
                errors.setdefault(where, []).append(problem.message)
        names = [m["name"] for m in data.get("metrics") or []]
        for i, name in enumerate(names):
            if name in names[:i]:
                errors.setdefault("metrics", {})[i] = {"name": [f"duplicate metric {name!r}"]}
        if data.get("allow_rebucket"):
            errors["allow_rebucket"] = [
                "allow_rebucket is gone: to change salt, variants or weights of an experiment "
                "with data, open a new phase (phase: N+1)"
            ]
        if data.get("bayesian_prior") and (data.get("bayesian") or {}).get("prior"):
            errors["bayesian_prior"] = [
                "give the prior once: bayesian_prior is the older name of bayesian.prior"
            ]
        start, end = data.get("start"), data.get("end")
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime) and end <= start:
            errors["end"] = [
                f"the window must end after it starts: end {end.isoformat()} (exclusive) is "
                f"not after start {start.isoformat()}"
            ]
        if errors:
            raise ValidationError(errors)
