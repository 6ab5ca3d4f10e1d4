"""Holdouts: a hashed share of units kept out of every experiment and feature that opts in.

A holdout ``{key, share, salt, status, unit, applies_to}`` is assigned as a two-variant
experiment of the engine, ``holdout`` (the control) and ``comparison``, each owning
``share`` of the bucket range (``[0, share)`` and ``[0.5, 0.5 + share)``, hashed with the
holdout's salt), so raising the share only adds units to both groups. The comparison group
is the same size as the held-out one, as in GrowthBook: equal groups give the report its
best power for the units logged, and the SRM check compares 50/50.

Before an opted-in experiment assigns, or an opted-in feature runs its rules, the unit is
assigned to each of its holdouts through the caller's ``assign`` (the SDK's ``get_variant``,
the service's per-request assigner), which logs the holdout's exposure once per unit like
any experiment's. A held-out unit then gets the experiment's control (``in_experiment:
false``, reason ``holdout``) or the feature's default (source ``holdout``). A stopped
holdout holds nobody out and logs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from xp_client.definition import DefinitionError, Experiment
from xp_client.engine import Assignment

# The holdout's two groups, and the reason (experiments) or source (features) it gives.
HELD_OUT = "holdout"
COMPARISON = "comparison"
HOLDOUT = "holdout"
STATUSES = ("running", "stopped")
# A share above this leaves no room for a comparison group of the same size.
MAX_SHARE = 0.5

# (experiment key, None, attributes) -> the unit's assignment or None: ``get_variant``'s shape.
AssignFn = Callable[[str, None, Mapping[str, Any]], "Assignment | None"]


def experiment_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """The holdout as an experiment config: what the engine assigns and results analyse."""
    share = data["share"]
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise DefinitionError(f"holdout {data.get('key')!r}: share must be a number")
    if not 0 < share <= MAX_SHARE:
        raise DefinitionError(f"holdout {data.get('key')!r}: share must be in (0, {MAX_SHARE}]")
    return {
        "key": str(data["key"]),
        "status": str(data.get("status") or "running"),
        "unit": str(data.get("unit") or "user_id"),
        "salt": str(data.get("salt") or data["key"]),
        "coverage": 2 * float(share),
        "variants": [{"key": HELD_OUT, "weight": 0.5}, {"key": COMPARISON, "weight": 0.5}],
    }


@dataclass(frozen=True, slots=True)
class Holdout:
    """A served holdout: ``experiments``/``features`` None means it applies to all of them."""

    key: str
    experiment: Experiment
    experiments: frozenset[str] | None
    features: frozenset[str] | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Holdout:
        """Build from a served holdout (``/v1/config``); a bad one raises DefinitionError."""
        try:
            config = experiment_config(data)
            if config["status"] not in STATUSES:
                raise DefinitionError(f"holdout {config['key']!r}: status must be running/stopped")
            applies = data.get("applies_to", "all")
            if applies == "all":
                return cls(config["key"], Experiment.from_dict(config), None, None)
            experiments = frozenset(str(k) for k in applies.get("experiments") or ())
            features = frozenset(str(k) for k in applies.get("features") or ())
            return cls(config["key"], Experiment.from_dict(config), experiments, features)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, DefinitionError):
                raise
            raise DefinitionError(f"bad holdout config {dict(data).get('key')!r}: {exc}") from exc

    def covers_experiment(self, key: str) -> bool:
        return self.experiments is None or key in self.experiments

    def covers_feature(self, key: str) -> bool:
        return self.features is None or key in self.features


Holdouts = Mapping[str, Holdout]


def holdouts_of_experiment(holdouts: Holdouts, key: str) -> tuple[str, ...]:
    """Keys of the holdouts ``key`` (an experiment) opts into, in key order."""
    return tuple(k for k in sorted(holdouts) if holdouts[k].covers_experiment(key))


def holdouts_of_feature(holdouts: Holdouts, key: str) -> tuple[str, ...]:
    """Keys of the holdouts ``key`` (a feature) opts into, in key order."""
    return tuple(k for k in sorted(holdouts) if holdouts[k].covers_feature(key))


def held_out(keys: tuple[str, ...], attributes: Mapping[str, Any], assign: AssignFn) -> str | None:
    """The first of the holdouts ``keys`` that holds the unit out, or None. Each is assigned
    (and so logged) in turn until one holds the unit out."""
    for key in keys:
        answer = assign(key, None, attributes)
        if answer is not None and answer[3] and answer[1] == HELD_OUT:
            return key
    return None


def guard(
    assigner: Callable[..., Assignment],
    experiment: Experiment,
    keys: tuple[str, ...],
    assign: AssignFn,
) -> Callable[..., Assignment]:
    """``assigner`` of ``experiment`` behind the holdouts ``keys``; held-out units get the
    control with the reason ``holdout``. No holdout: ``assigner`` itself, at no cost."""
    if not keys:
        return assigner
    control = experiment.variants[0]
    held = Assignment(experiment.key, control.key, control.payload, False, HOLDOUT)

    def assign_behind(attributes: Mapping[str, Any], now: float | None = None) -> Assignment:
        if held_out(keys, attributes, assign) is not None:
            return held
        result: Assignment = assigner(attributes) if now is None else assigner(attributes, now)
        return result

    return assign_behind


Built = TypeVar("Built")


def compile_entries(
    entries: Any, build: Callable[[Any], Built], log: Any, what: str
) -> list[Built]:
    """``build`` of each entry of a config document's list; a bad entry is skipped and
    logged (one bad definition must not hide the others)."""
    out: list[Built] = []
    for entry in entries if isinstance(entries, list) else ():
        try:
            out.append(build(entry))
        except Exception as exc:
            name = entry.get("key") if isinstance(entry, Mapping) else entry
            log.warning("skipping %s config %r: %s", what, name, exc)
    return out


def compile_holdouts(entries: Any, log: Any) -> dict[str, Holdout]:
    """Holdouts of a config document's ``holdouts`` list; a bad entry is skipped and logged."""
    return {h.key: h for h in compile_entries(entries, Holdout.from_dict, log, "holdout")}
