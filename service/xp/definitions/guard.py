"""The assignment guard: definitions checked against the fingerprints the store recorded.

A definition is refused when the store holds data of its phase under another fingerprint
(it would move units that already have data), when a later phase of it already has data
(phases only go up), or when it opens a new phase with the salt of an earlier one (the units
would keep their buckets, so the "fresh" phase would inherit the old one's assignment).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from xp.definitions.fingerprint import Recorded, changed_fields, fingerprint
from xp.definitions.loader import Problem, parse_definition
from xp.definitions.model import Definition
from xp.definitions.phases import split_store_key, store_key

STORE_SOURCE = "store"  # the source of a definition read back from the store


@dataclass(frozen=True, slots=True)
class History:
    """The recorded side: every phase with data, its fingerprint and its last definition."""

    recorded: Mapping[str, Recorded] = field(default_factory=dict)
    # Store id -> the last definition that took data (None when it no longer parses).
    definitions: Mapping[str, Definition | None] = field(default_factory=dict)

    @classmethod
    def of(cls, recorded: Mapping[str, Recorded]) -> History:
        return cls(recorded, {e: _parse(r) for e, r in recorded.items()})

    def phases(self, key: str) -> dict[int, str]:
        """Phase -> store id of each phase of ``key`` with data."""
        found = {}
        for experiment in self.recorded:
            k, phase = split_store_key(experiment)
            if k == key:
                found[phase] = experiment
        return found

    def last_definition(self, key: str, phase: int) -> Definition | None:
        return self.definitions.get(store_key(key, phase))


def guard_problems(definition: Definition, history: History) -> list[Problem]:
    """Why ``definition`` may not go live given what the store recorded; empty when it may."""
    key, phase, source = definition.key, definition.phase, definition.source
    phases = history.phases(key)
    later = sorted(p for p in phases if p > phase)
    if later:
        return [
            Problem(
                source,
                "phase",
                f"phase {later[-1]} of {key!r} already has data; phases only go up "
                f"(set phase: {later[-1]} or higher)",
                phase,
            )
        ]
    problems = []
    recorded = history.recorded.get(store_key(key, phase))
    if recorded is not None and recorded.fingerprint != fingerprint(definition.experiment):
        before = history.last_definition(key, phase)
        changes = changed_fields(before.experiment, definition.experiment) if before else []
        hint = (
            f"experiment {key!r} phase {phase} has data under another assignment; this change "
            f"would move its units to other variants. Revert it, or open a new phase "
            f"(phase: {max(phases, default=phase) + 1}) to start afresh with a new salt"
        )
        if not changes:  # the hashing scheme changed, or the recorded definition is unreadable
            problems.append(Problem(source, "", f"assignment changed: {hint}"))
        for path, change in changes:
            problems.append(Problem(source, path, f"{change}: {hint}"))
    if phase > 1:
        for earlier, experiment in sorted(phases.items()):
            old = history.definitions.get(experiment)
            if (
                earlier < phase
                and old is not None
                and old.experiment.salt == definition.experiment.salt
            ):
                problems.append(
                    Problem(
                        source,
                        "salt",
                        f"phase {phase} reuses the salt of phase {earlier}, so units keep their "
                        "buckets; leave salt out (it becomes key:phaseN) or choose a new one",
                        definition.experiment.salt,
                    )
                )
    return problems


def check(
    definitions: Mapping[str, Definition], history: History
) -> tuple[dict[str, Definition], list[Problem]]:
    """The definitions that pass the guard, and the problems of those that do not."""
    passed: dict[str, Definition] = {}
    problems: list[Problem] = []
    for key, definition in definitions.items():
        found = guard_problems(definition, history)
        if found:
            problems.extend(found)
        else:
            passed[key] = definition
    return passed, problems


def _parse(recorded: Recorded) -> Definition | None:
    try:
        raw = json.loads(recorded.definition)
    except ValueError:
        return None
    definition, problems = parse_definition(raw, f"{STORE_SOURCE}:{recorded.experiment}")
    return None if problems else definition
