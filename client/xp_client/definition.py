"""What the assignment engine needs to know of an experiment, built from its config dict.

The service validates definitions (``service.definitions``) and serves them at ``/v1/config``;
this module turns one such dict into a plain :class:`Experiment` (its targeting condition
compiled, so a bad one fails at load). :mod:`xp_client.engine` compiles it for assignment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xp_client.conditions import ConditionError, Predicate, compile_condition
from xp_client.schedule import ScheduleError, epoch, parse_instant

STATUSES = ("draft", "running", "stopped", "shipped")


def default_salt(key: str, phase: int) -> str:
    """The salt when a definition names none: the key, and ``key:phaseN`` from phase 2 on."""
    return key if phase == 1 else f"{key}:phase{phase}"


class DefinitionError(ValueError):
    """A config dict the engine cannot use."""


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    weight: float
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Layer:
    """Mutual exclusion: units whose layer bucket falls in ``[start, end)`` may enter."""

    name: str
    start: int
    end: int
    salt: str


@dataclass(frozen=True, slots=True)
class Experiment:
    key: str
    variants: tuple[Variant, ...]
    status: str = "running"
    unit: str = "user_id"
    salt: str = ""
    coverage: float = 1.0
    targeting: Mapping[str, Any] | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    layer: Layer | None = None
    winner: str | None = None
    # The schedule, seconds since the epoch: assigns in [start, end) (xp_client.schedule).
    start: float | None = None
    end: float | None = None
    # Whole number from 1: a new phase re-buckets everyone; sticky records are per phase.
    phase: int = 1
    condition: Predicate | None = field(default=None, compare=False, repr=False)
    # The engine's compiled form, filled on first use (xp_client.engine.assigner_for).
    compiled: Callable[..., Any] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.salt:
            object.__setattr__(self, "salt", self.key)
        # Compiled here so a bad condition fails when the config is read, not per request.
        if self.targeting and self.condition is None:
            object.__setattr__(self, "condition", compile_condition(self.targeting))

    @property
    def control(self) -> Variant:
        return self.variants[0]

    def variant(self, key: str) -> Variant | None:
        for v in self.variants:
            if v.key == key:
                return v
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Experiment:
        """Build from a config dict (the shape of ``/v1/config`` and of the YAML files)."""
        try:
            key = str(data["key"])
            variants = tuple(
                Variant(str(v["key"]), float(v["weight"]), v.get("payload"))
                for v in data["variants"]
            )
            if not variants:
                raise DefinitionError(f"experiment {key!r} has no variants")
            layer_data = data.get("layer")
            layer = None
            if layer_data:
                low, high = layer_data["range"]
                name = str(layer_data["name"])
                layer = Layer(name, int(low), int(high), str(layer_data.get("salt") or name))
            coverage = float(data.get("coverage", 1.0))
            targeting = data.get("targeting") or None
            status = str(data.get("status", "running"))
            if status not in STATUSES:
                raise DefinitionError(f"experiment {key!r}: unknown status {status!r}")
            start = epoch(parse_instant(data.get("start")))
            end = epoch(parse_instant(data.get("end"), is_end=True))
            if start is not None and end is not None and end <= start:
                raise DefinitionError(f"experiment {key!r}: end must be after start")
            return cls(
                key=key,
                variants=variants,
                status=status,
                unit=str(data.get("unit") or "user_id"),
                salt=str(data.get("salt") or default_salt(key, int(data.get("phase") or 1))),
                coverage=coverage,
                targeting=targeting,
                overrides={str(k): str(v) for k, v in (data.get("overrides") or {}).items()},
                layer=layer,
                winner=data.get("winner"),
                start=start,
                end=end,
                phase=int(data.get("phase") or 1),
            )
        except (KeyError, TypeError, ValueError, ConditionError, ScheduleError) as exc:
            if isinstance(exc, DefinitionError):
                raise
            raise DefinitionError(
                f"bad experiment config {dict(data).get('key')!r}: {exc}"
            ) from exc
