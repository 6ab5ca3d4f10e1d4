"""Holdout YAML files (``XP_HOLDOUTS_DIR``) into validated :class:`HoldoutDefinition` objects.

A holdout is analysed as an experiment: its :class:`~xp.definitions.model.Definition` (built
from :func:`xp_client.holdouts.experiment_config` through the experiments' own parser) has
the variants ``holdout`` (the control) and ``comparison`` and the file's metrics, so
exposures, attribution, ``xp report`` and the results API treat it like any experiment.
Problems use the experiments' style (file, field path, value); cross-file rules (unique keys,
no key shared with an experiment or feature, known names in ``applies_to``) refuse every file
involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xp.definitions.features import KEY, FeatureDefinition, read_folder
from xp.definitions.loader import Problem, parse_definition
from xp.definitions.model import Definition
from xp_client.holdouts import MAX_SHARE, STATUSES, experiment_config

FIELDS = {
    "key",
    "description",
    "owner",
    "share",
    "salt",
    "status",
    "unit",
    "applies_to",
    "metrics",
    "segments",
}
APPLIES_TO = ("experiments", "features")


@dataclass(frozen=True, slots=True)
class HoldoutDefinition:
    key: str
    description: str
    owner: str
    share: float
    # "all", or {"experiments": [...], "features": [...]}
    applies_to: str | Mapping[str, tuple[str, ...]]
    definition: Definition  # the holdout as the experiment results analyse
    source: str

    def served(self) -> dict[str, Any]:
        """The holdout as ``/v1/config`` carries it (:class:`xp_client.holdouts.Holdout`)."""
        experiment = self.definition.experiment
        applies: Any = self.applies_to
        if not isinstance(applies, str):
            applies = {name: list(keys) for name, keys in applies.items()}
        return {
            "key": self.key,
            "share": self.share,
            "salt": experiment.salt,
            "status": experiment.status,
            "unit": experiment.unit,
            "applies_to": applies,
        }


@dataclass(frozen=True, slots=True)
class HoldoutLoad:
    holdouts: dict[str, HoldoutDefinition]
    problems: list[Problem]
    files: int


def load_holdouts(
    directory: str | Path,
    experiments: Mapping[str, Definition],
    features: Mapping[str, FeatureDefinition],
) -> HoldoutLoad:
    """Validate every holdout file in ``directory`` (absent: no holdouts, no problem)."""
    loaded, problems, files = read_folder(directory, parse_holdout, "holdout")
    cross = cross_problems(loaded, experiments, features)
    problems += cross
    refused = {p.file for p in cross}
    return HoldoutLoad(
        {k: h for k, h in loaded.items() if h.source not in refused}, problems, files
    )


def parse_holdout(raw: Any, source: str) -> tuple[HoldoutDefinition | None, list[Problem]]:
    """Validate one holdout document on its own (cross-file rules: :func:`cross_problems`)."""
    if not isinstance(raw, Mapping):
        return None, [Problem(source, "", "must be a mapping of holdout fields", raw)]
    problems: list[Problem] = []

    def bad(path: str, message: str, *value: Any) -> None:
        problems.append(Problem(source, path, message, *value))

    for name in raw:
        if name not in FIELDS:
            bad(str(name), f"unknown field (known: {', '.join(sorted(FIELDS))})")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        bad("key", "must be 1-64 lowercase letters, digits and dashes", key)
    share = raw.get("share")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= MAX_SHARE:
        bad(
            "share",
            f"must be a number above 0 and at most {MAX_SHARE} (the comparison group is as "
            "large as the held-out one)",
            share,
        )
    status = raw.get("status", "running")
    if status not in STATUSES:
        bad("status", f"must be one of {', '.join(STATUSES)}", status)
    for name in ("description", "owner"):
        if not isinstance(raw.get(name, ""), str):
            bad(name, "must be a string", raw.get(name))
    applies = _applies_to(raw.get("applies_to", "all"), bad)
    if problems:
        return None, problems
    config = experiment_config(raw)
    description = str(raw.get("description") or "")
    as_experiment = {
        **config,
        "name": description or f"Holdout {key}",
        "description": description,
        "owner": str(raw.get("owner") or ""),
        "metrics": raw.get("metrics") or [],
        "segments": raw.get("segments") or [],
    }
    # The experiments' parser validates the metrics and segments, with the same field paths.
    definition, found = parse_definition(as_experiment, source)
    if definition is None:
        return None, found
    return HoldoutDefinition(
        key=str(key),
        description=description,
        owner=str(raw.get("owner") or ""),
        share=float(raw["share"]),
        applies_to=applies,
        definition=definition,
        source=source,
    ), []


def _applies_to(value: Any, bad: Any) -> str | dict[str, tuple[str, ...]]:
    shape = "must be 'all' or {experiments: [KEY, ...], features: [KEY, ...]}"
    if value == "all":
        return "all"
    if not isinstance(value, Mapping) or not value or set(value) - set(APPLIES_TO):
        bad("applies_to", shape, value)
        return "all"
    out: dict[str, tuple[str, ...]] = {}
    for name in APPLIES_TO:
        keys = value.get(name) or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            bad(f"applies_to.{name}", f"must be a list of {name[:-1]} keys", keys)
            continue
        out[name] = tuple(keys)
    return out


def cross_problems(
    holdouts: Mapping[str, HoldoutDefinition],
    experiments: Mapping[str, Definition],
    features: Mapping[str, FeatureDefinition],
) -> list[Problem]:
    """Keys apart from every experiment and feature; every key in ``applies_to`` known."""
    out: list[Problem] = []
    known: dict[str, Mapping[str, Any]] = {"experiments": experiments, "features": features}
    for h in holdouts.values():
        for kind, names in known.items():
            if h.key in names:
                out.append(Problem(h.source, "key", f"is also the key of one of the {kind}", h.key))
        if isinstance(h.applies_to, str):
            continue
        for kind, keys in h.applies_to.items():
            for i, name in enumerate(keys):
                if name not in known[kind]:
                    out.append(
                        Problem(
                            h.source,
                            f"applies_to.{kind}.{i}",
                            f"no valid {kind[:-1]} has this key",
                            name,
                        )
                    )
    return out
