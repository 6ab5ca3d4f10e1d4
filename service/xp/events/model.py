"""Exposure and conversion events as plain, already valid data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xp.events.values import round_ms

# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
# building an event ~1.5 us, a tenth of ingesting it. Events are not changed once built.


@dataclass(slots=True)
class Exposure:
    """A unit saw a variant of an experiment. Only the first exposure of a unit counts.

    ``ts`` is kept to the millisecond; no ``event_id`` means the (experiment, unit) one.
    """

    experiment: str
    user_id: str
    variant: str
    ts: float
    attributes: Mapping[str, Any] = field(default_factory=dict)
    covariates: Mapping[str, float] = field(default_factory=dict)
    event_id: str = ""

    def __init__(
        self,
        experiment: str,
        user_id: str,
        variant: str,
        ts: float,
        attributes: Mapping[str, Any] | None = None,
        covariates: Mapping[str, float] | None = None,
        event_id: str = "",
    ) -> None:
        self.experiment = experiment
        self.user_id = user_id
        self.variant = variant
        self.ts = round_ms(ts)
        self.attributes = {} if attributes is None else attributes
        self.covariates = {} if covariates is None else covariates
        # Only the first exposure of a unit counts, so one id per (experiment, unit) is
        # enough to make a re-sent exposure without an id idempotent.
        self.event_id = event_id or exposure_event_id(experiment, user_id)

    @classmethod
    def create(
        cls,
        experiment: str,
        user_id: str,
        variant: str,
        ts: float,
        attributes: Mapping[str, Any] | None = None,
        covariates: Mapping[str, float] | None = None,
        event_id: str = "",
    ) -> Exposure:
        """An exposure built by the service itself (``POST /v1/assign``), already valid."""
        return cls(
            experiment,
            user_id,
            variant,
            ts,
            dict(attributes or {}),
            dict(covariates or {}),
            event_id,
        )


@dataclass(slots=True)
class Conversion:
    """A unit did ``event`` (with ``value``, 1.0 unless given) at ``ts`` (to the ms)."""

    event: str
    user_id: str
    value: float
    ts: float
    event_id: str

    def __init__(self, event: str, user_id: str, value: float, ts: float, event_id: str) -> None:
        self.event = event
        self.user_id = user_id
        self.value = value
        self.ts = round_ms(ts)
        self.event_id = event_id


Event = Exposure | Conversion


def exposure_event_id(experiment: str, user_id: str) -> str:
    return f"exposure:{experiment}:{user_id}"
