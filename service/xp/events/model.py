"""Exposure and conversion events as plain, already valid data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Exposure:
    """A unit saw a variant of an experiment. Only the first exposure of a unit counts."""

    experiment: str
    user_id: str
    variant: str
    ts: float
    attributes: Mapping[str, Any] = field(default_factory=dict)
    covariates: Mapping[str, float] = field(default_factory=dict)
    event_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", round(self.ts, 3))
        if not self.event_id:
            # Only the first exposure of a unit counts, so one id per (experiment, unit) is
            # enough to make a re-sent exposure without an id idempotent.
            object.__setattr__(self, "event_id", exposure_event_id(self.experiment, self.user_id))

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


@dataclass(frozen=True, slots=True)
class Conversion:
    """A unit did ``event`` (with ``value``, 1.0 unless given) at ``ts``."""

    event: str
    user_id: str
    value: float
    ts: float
    event_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", round(self.ts, 3))


Event = Exposure | Conversion


def exposure_event_id(experiment: str, user_id: str) -> str:
    return f"exposure:{experiment}:{user_id}"
