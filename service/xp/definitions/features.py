"""Feature YAML files (``XP_FEATURES_DIR``) into validated :class:`FeatureDefinition` objects.

Problems use the experiments' style (:class:`~xp.definitions.loader.Problem`: file, field
path, value). One file's problems refuse that file; cross-file rules (unique keys, known
prerequisites, no prerequisite cycle, known experiments whose every variant is mapped)
refuse every file involved. What a feature serves in one environment is :func:`served`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from xp.definitions.loader import Problem, experiment_files
from xp.definitions.model import Definition
from xp.definitions.yaml_files import DefinitionFileError, read_yaml
from xp_client.conditions import validate_condition
from xp_client.features import TYPES, type_matches

KEY = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
ENVIRONMENT = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$")
FIELDS = {"key", "description", "owner", "type", "default", "prerequisites", "environments"}
# "valid": a key whose own file is refused is missing here too, which is not a typo
NO_SUCH_FEATURE = "no valid feature has this key"
RULE_FIELDS = {"condition", "value", "rollout", "hash_attribute", "experiment", "values"}


@dataclass(frozen=True, slots=True)
class FeatureDefinition:
    key: str
    type: str
    default: Any
    description: str
    owner: str
    prerequisites: tuple[Mapping[str, Any], ...]
    environments: Mapping[str, Mapping[str, Any]]  # name -> {enabled, rules}
    source: str


@dataclass(frozen=True, slots=True)
class FeatureLoad:
    features: dict[str, FeatureDefinition]
    problems: list[Problem]
    files: int


def served(feature: FeatureDefinition, environment: str) -> dict[str, Any]:
    """The feature as an SDK in ``environment`` gets it; an environment the file does not
    name is disabled there (everyone gets the default)."""
    env = feature.environments.get(environment) or {"enabled": False, "rules": []}
    return {
        "key": feature.key,
        "type": feature.type,
        "default": feature.default,
        "prerequisites": [dict(p) for p in feature.prerequisites],
        "enabled": bool(env.get("enabled", True)),
        "rules": [dict(r) for r in env.get("rules") or []],
    }


def load_features(directory: str | Path, experiments: Mapping[str, Definition]) -> FeatureLoad:
    """Validate every feature file in ``directory`` (absent: no features, no problem)."""
    partials: dict[str, FeatureDefinition] = {}  # refused files, for their cross-file checks
    loaded, problems, files = read_folder(directory, parse_feature, "feature", partials)
    cross = cross_problems(loaded, experiments)
    # A refused file's other problems are listed in the same pass, from the parts that parsed.
    sketched = {f.source for f in partials.values()}
    problems += [
        p for p in cross_problems({**partials, **loaded}, experiments) if p.file in sketched
    ]
    problems += cross
    # A feature whose prerequisite is missing (or its file refused) stays: the engine serves
    # its default with source ``prerequisite``, which is what a failed prerequisite means.
    refused = {p.file for p in cross if not _unknown_prerequisite(p)}
    return FeatureLoad(
        {k: f for k, f in loaded.items() if f.source not in refused}, problems, files
    )


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def source(self) -> str: ...


Parsed = TypeVar("Parsed", bound=_Keyed)


def read_folder(
    directory: str | Path,
    parse: Callable[[Any, str], tuple[Parsed | None, list[Problem]]],
    what: str,
    partials: dict[str, FeatureDefinition] | None = None,
) -> tuple[dict[str, Parsed], list[Problem], int]:
    """Every YAML file in ``directory`` through ``parse``, keys unique across files: the
    loaded ones by key, the problems and the number of files (absent folder: none). With
    ``partials``, each refused feature document's well-formed parts land there by key."""
    root = Path(directory)
    if not root.is_dir():
        return {}, [], 0
    files = experiment_files(root)
    loaded: dict[str, Parsed] = {}
    problems: list[Problem] = []
    for path in files:
        try:
            raw = read_yaml(path)
        except DefinitionFileError as exc:
            problems.append(Problem(str(path), "", str(exc)))
            continue
        item, found = parse(raw, str(path))
        problems += found
        if item is None:
            sketch = None if partials is None else _partial(raw, str(path))
            if sketch is not None and partials is not None:
                partials[sketch.key] = sketch
            continue
        if item.key in loaded:
            other = loaded[item.key].source
            problems.append(
                Problem(str(path), "key", f"duplicate {what} key, also in {other}", item.key)
            )
            continue
        loaded[item.key] = item
    return loaded, problems, len(files)


def wrong_type(kind: str, value: Any) -> str:
    """The wrong-type message; a boolean where text is wanted is YAML 1.1's classic trap."""
    if kind == "string" and isinstance(value, bool):
        return (
            f"must be a {kind} value (an unquoted yes, no, on, off, true or false is a "
            'boolean in YAML: quote it, as in "no")'
        )
    return f"must be a {kind} value"


def _partial(raw: Any, source: str) -> FeatureDefinition | None:
    """The well-formed parts of a refused feature document, enough for :func:`cross_problems`
    (prerequisites, experiment rules); ``None`` without a usable key."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str):
        return None
    kind = raw.get("type", "boolean")
    prerequisites = raw.get("prerequisites")
    environments = raw.get("environments")
    rules_by_env: dict[str, dict[str, Any]] = {}
    for env, body in environments.items() if isinstance(environments, Mapping) else ():
        rules = body.get("rules") if isinstance(body, Mapping) else None
        rules_by_env[str(env)] = {
            "rules": [
                r
                for r in (rules if isinstance(rules, list) else [])
                if isinstance(r, Mapping)
                and (
                    "experiment" not in r
                    or (isinstance(r["experiment"], str) and isinstance(r.get("values"), Mapping))
                )
            ]
        }
    return FeatureDefinition(
        key=raw["key"],
        type=kind if kind in TYPES else "json",
        default=raw.get("default"),
        description="",
        owner="",
        prerequisites=tuple(
            dict(p)
            for p in (prerequisites if isinstance(prerequisites, list) else [])
            if isinstance(p, Mapping) and isinstance(p.get("feature"), str)
        ),
        environments=rules_by_env,
        source=source,
    )


def _unknown_prerequisite(problem: Problem) -> bool:
    return problem.message == NO_SUCH_FEATURE and problem.path.startswith("prerequisites.")


def parse_feature(raw: Any, source: str) -> tuple[FeatureDefinition | None, list[Problem]]:
    """Validate one feature document on its own (cross-file rules: :func:`cross_problems`)."""
    if not isinstance(raw, Mapping):
        return None, [Problem(source, "", "must be a mapping of feature fields", raw)]
    problems: list[Problem] = []

    def bad(path: str, message: str, *value: Any) -> None:
        problems.append(Problem(source, path, message, *value))

    for name in raw:
        if name not in FIELDS:
            bad(str(name), f"unknown field (known: {', '.join(sorted(FIELDS))})")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        bad("key", "must be 1-64 lowercase letters, digits and dashes", key)
    kind = raw.get("type", "boolean")
    if kind not in TYPES:
        bad("type", f"must be one of {', '.join(TYPES)}", kind)
        kind = "json"
    if "default" not in raw:
        bad("default", "is required")
    elif not type_matches(kind, raw["default"]):
        bad("default", wrong_type(kind, raw["default"]), raw["default"])
    for name in ("description", "owner"):
        if not isinstance(raw.get(name, ""), str):
            bad(name, "must be a string", raw.get(name))
    prerequisites = raw.get("prerequisites") or []
    if not isinstance(prerequisites, list):
        bad("prerequisites", "must be a list of {feature, value}", prerequisites)
        prerequisites = []
    for i, p in enumerate(prerequisites):
        if (
            not isinstance(p, Mapping)
            or not isinstance(p.get("feature"), str)
            or set(p) - {"feature", "value"}
        ):
            bad(f"prerequisites.{i}", "must be {feature: KEY, value: VALUE}", p)
    environments = raw.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        bad("environments", "must map each environment name to {enabled, rules}", environments)
        environments = {}
    for env, body in environments.items():
        where = f"environments.{env}"
        if not isinstance(env, str) or not ENVIRONMENT.match(env):
            bad(where, "environment names are 1-32 lowercase letters, digits, '-' and '_'", env)
        if not isinstance(body, Mapping) or set(body) - {"enabled", "rules"}:
            bad(where, "must be {enabled: true|false, rules: [...]}", body)
            continue
        if not isinstance(body.get("enabled", True), bool):
            bad(f"{where}.enabled", "must be true or false", body.get("enabled"))
        rules = body.get("rules") or []
        if not isinstance(rules, list):
            bad(f"{where}.rules", "must be a list of rules", rules)
            continue
        for i, rule in enumerate(rules):
            problems += _rule_problems(rule, kind, source, f"{where}.rules.{i}")
    if problems:
        return None, problems
    return FeatureDefinition(
        key=str(key),
        type=str(kind),
        default=raw["default"],
        description=str(raw.get("description") or ""),
        owner=str(raw.get("owner") or ""),
        prerequisites=tuple(dict(p) for p in prerequisites),
        environments={str(e): dict(b) for e, b in environments.items()},
        source=source,
    ), []


def _rule_problems(rule: Any, kind: str, source: str, where: str) -> list[Problem]:
    if not isinstance(rule, Mapping):
        return [Problem(source, where, "must be a mapping (condition, rollout, experiment)", rule)]
    out: list[Problem] = []
    for name in rule:
        if name not in RULE_FIELDS:
            out.append(
                Problem(
                    source,
                    f"{where}.{name}",
                    f"unknown rule field (known: {', '.join(sorted(RULE_FIELDS))})",
                )
            )
    if rule.get("condition") is not None:
        for problem in validate_condition(rule["condition"]):
            path = f"{where}.condition" + (f".{problem.path}" if problem.path else "")
            out.append(Problem(source, path, problem.message))
    if "experiment" in rule:
        if not isinstance(rule["experiment"], str):
            out.append(
                Problem(
                    source, f"{where}.experiment", "must be an experiment key", rule["experiment"]
                )
            )
        values = rule.get("values")
        if "value" in rule or "rollout" in rule:
            out.append(Problem(source, where, "an experiment rule takes values, not value/rollout"))
        if not isinstance(values, Mapping) or not values:
            out.append(
                Problem(source, f"{where}.values", "must map each variant to a value", values)
            )
        else:
            for variant, value in values.items():
                if not type_matches(kind, value):
                    out.append(
                        Problem(source, f"{where}.values.{variant}", wrong_type(kind, value), value)
                    )
        return out
    if "value" not in rule:
        out.append(Problem(source, f"{where}.value", "is required (or name an experiment)"))
    elif not type_matches(kind, rule["value"]):
        out.append(
            Problem(source, f"{where}.value", wrong_type(kind, rule["value"]), rule["value"])
        )
    if "rollout" in rule:
        share = rule["rollout"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            out.append(Problem(source, f"{where}.rollout", "must be a number from 0 to 1", share))
    if "hash_attribute" in rule and not (
        isinstance(rule["hash_attribute"], str) and rule["hash_attribute"]
    ):
        out.append(
            Problem(
                source,
                f"{where}.hash_attribute",
                "must be an attribute name",
                rule["hash_attribute"],
            )
        )
    return out


def cross_problems(
    features: Mapping[str, FeatureDefinition], experiments: Mapping[str, Definition]
) -> list[Problem]:
    """Prerequisites known, of the right type and acyclic; experiment rules mapping every
    variant of a known experiment."""
    out: list[Problem] = []
    for f in features.values():
        for i, p in enumerate(f.prerequisites):
            parent = features.get(p["feature"])
            if parent is None:
                out.append(
                    Problem(f.source, f"prerequisites.{i}.feature", NO_SUCH_FEATURE, p["feature"])
                )
            elif not type_matches(parent.type, p.get("value", True)):
                out.append(
                    Problem(
                        f.source,
                        f"prerequisites.{i}.value",
                        f"must be a {parent.type} value (the type of {parent.key!r})",
                        p.get("value", True),
                    )
                )
        for env, body in f.environments.items():
            for i, rule in enumerate(body.get("rules") or []):
                if "experiment" not in rule:
                    continue
                where = f"environments.{env}.rules.{i}"
                definition = experiments.get(rule["experiment"])
                if definition is None:
                    out.append(
                        Problem(
                            f.source,
                            f"{where}.experiment",
                            "no valid experiment has this key",
                            rule["experiment"],
                        )
                    )
                    continue
                variants = [v.key for v in definition.experiment.variants]
                missing = [v for v in variants if v not in rule["values"]]
                extra = [v for v in rule["values"] if v not in variants]
                if missing or extra:
                    out.append(
                        Problem(
                            f.source,
                            f"{where}.values",
                            f"must map every variant of {definition.key!r} "
                            f"({', '.join(variants)}); missing {missing}, "
                            f"unknown {extra}",
                            sorted(rule["values"]),
                        )
                    )
    out += _cycles(features)
    return out


def _cycles(features: Mapping[str, FeatureDefinition]) -> list[Problem]:
    """A problem for each feature on a prerequisite cycle, naming the cycle."""
    out: list[Problem] = []
    for start in features.values():
        path = [start.key]
        stack = [(start.key, [start.key])]
        seen: set[str] = set()
        while stack:
            key, path = stack.pop()
            node = features.get(key)
            for p in node.prerequisites if node else ():
                nxt = p["feature"]
                if nxt == start.key:
                    cycle = " -> ".join([*path, nxt])
                    out.append(
                        Problem(start.source, "prerequisites", f"cyclic prerequisite: {cycle}")
                    )
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return out
