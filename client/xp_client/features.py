"""Feature evaluation: ordered rules, the first that matches decides (next to experiments).

A served feature (one environment's part of a feature file, as ``/v1/config`` carries it) is
``{key, type, default, prerequisites, enabled, rules}``. Rules are tried in order:

- ``{condition, value}`` forces ``value`` for units that match (source ``force``);
- ``{rollout, hash_attribute, value}`` serves ``value`` to ``[0, rollout)`` of the bucket
  range, hashed ``mmh3(feature_key:unit)`` like an experiment, so raising a rollout only adds
  units (source ``rollout``);
- ``{experiment, values}`` assigns through the experiment (targeting, layer, coverage,
  schedule) and maps its variant to a value; a unit outside it falls through (``experiment``);
- ``{value}`` alone matches everyone (``force``).

A disabled feature (the kill switch) serves ``default`` and assigns nothing (``disabled``);
a prerequisite whose value differs serves ``default`` (``prerequisite``); no rule matching
serves ``default`` (``default``). A feature behind a holdout (:mod:`xp_client.holdouts`)
serves held-out units its ``default`` (``holdout``, naming the holdout as ``experiment``)
before any prerequisite or rule. Each feature is compiled once into a closure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import mmh3

from xp_client import safe_regex
from xp_client.conditions import ConditionError, compile_condition
from xp_client.definition import DefinitionError
from xp_client.engine import Assignment
from xp_client.hashing import BUCKETS
from xp_client.holdouts import (
    HELD_OUT,
    HOLDOUT,
    Holdouts,
    compile_entries,
    held_out,
    holdouts_of_feature,
)
from xp_client.unit_ids import MAX_USER_ID, canonical_unit_id

TYPES = ("boolean", "string", "number", "json")
DEFAULT = "default"
FORCE = "force"
ROLLOUT = "rollout"
EXPERIMENT = "experiment"
PREREQUISITE = "prerequisite"
DISABLED = "disabled"
UNKNOWN_FEATURE = "unknown_feature"
ERROR = "error"
# Prerequisite chains deeper than this are refused at runtime (validation refuses cycles).
MAX_DEPTH = 16

# (experiment key, None, attributes) -> the unit's assignment, None when the experiment is
# unknown: the shape of the SDK's ``get_variant(experiment, user_id, attributes)``, so the SDK
# passes it bound, with no wrapper call on the hot path.
AssignFn = Callable[[str, None, Mapping[str, Any]], "Assignment | None"]


class FeatureResult(NamedTuple):
    """A feature's value for one unit and why."""

    key: str
    value: Any
    source: str
    rule_index: int | None = None
    experiment: str | None = None
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "source": self.source,
            "rule_index": self.rule_index,
        }
        if self.experiment is not None:
            out["experiment"] = self.experiment
            out["variant"] = self.variant
        return out


def type_matches(kind: str, value: Any) -> bool:
    """Whether ``value`` is a value of feature type ``kind`` (json takes anything)."""
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind == "json"


@dataclass(frozen=True, slots=True)
class Feature:
    key: str
    type: str
    default: Any
    enabled: bool = True
    rules: tuple[Mapping[str, Any], ...] = ()
    prerequisites: tuple[tuple[str, Any], ...] = ()
    holdouts: tuple[str, ...] = ()  # keys of the holdouts it opts into, checked in order
    compiled: Callable[..., FeatureResult] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], holdouts: tuple[str, ...] = ()) -> Feature:
        """Build from a served feature dict, behind the holdouts ``holdouts`` (keys); a bad
        one raises :class:`DefinitionError`."""
        try:
            key = str(data["key"])
            kind = str(data.get("type", "boolean"))
            if kind not in TYPES:
                raise DefinitionError(f"feature {key!r}: unknown type {kind!r}")
            rules = tuple(dict(r) for r in data.get("rules") or ())
            _check_types(key, kind, data.get("default"), rules)
            prerequisites = tuple(
                (str(p["feature"]), p.get("value", True)) for p in data.get("prerequisites") or ()
            )
            feature = cls(
                key,
                kind,
                data.get("default"),
                bool(data.get("enabled", True)),
                rules,
                prerequisites,
                holdouts,
            )
            object.__setattr__(feature, "compiled", _compile(feature))
            return feature
        except (KeyError, TypeError, ValueError, ConditionError) as exc:
            if isinstance(exc, DefinitionError):
                raise
            raise DefinitionError(f"bad feature config {dict(data).get('key')!r}: {exc}") from exc


Features = Mapping[str, Feature]


def _check_types(key: str, kind: str, default: Any, rules: tuple[dict[str, Any], ...]) -> None:
    """A value of another type than the feature's refuses the feature (the service's
    validation refuses such a file too, so both answer ``unknown_feature``)."""
    values = [default]
    for rule in rules:
        values += list(dict(rule["values"]).values()) if "experiment" in rule else [rule["value"]]
    for value in values:
        if not type_matches(kind, value):
            raise DefinitionError(f"feature {key!r}: {value!r} is not a {kind} value")


def evaluate_feature(
    feature: Feature,
    attributes: Mapping[str, Any],
    features: Features,
    assign: AssignFn,
    depth: int = 0,
) -> FeatureResult:
    """``feature``'s value for the unit in ``attributes``; prerequisites are looked up in
    ``features`` and experiment rules assigned through ``assign``."""
    compiled = feature.compiled
    assert compiled is not None  # set by from_dict
    result: FeatureResult = compiled(attributes, features, assign, depth)
    return result


# A compiled rule: the unit's result when the rule decides, None when it falls through.
_Rule = Callable[[Mapping[str, Any], AssignFn], "FeatureResult | None"]


def _compile(feature: Feature) -> Callable[..., FeatureResult]:
    """One closure trying each rule's own closure in turn: each rule is specialised when
    compiled (no dispatch on its kind, its result built in advance), which holds the feature
    at about 2x one assignment (bench/features.py, docs/benchmarks.md)."""
    key = feature.key
    default = feature.default
    disabled = FeatureResult(key, default, DISABLED)
    no_match = FeatureResult(key, default, DEFAULT)
    blocked = FeatureResult(key, default, PREREQUISITE)
    if not feature.enabled:
        return lambda attributes, features, assign, depth=0: disabled
    holdouts = feature.holdouts
    held = {k: FeatureResult(key, default, HOLDOUT, None, k, HELD_OUT) for k in holdouts}
    rules = tuple(_rule(key, index, rule) for index, rule in enumerate(feature.rules))
    prerequisites = feature.prerequisites

    evaluate_rules = _chain(rules, no_match)
    if not holdouts and not prerequisites:
        return evaluate_rules

    def evaluate(
        attributes: Mapping[str, Any], features: Features, assign: AssignFn, depth: int = 0
    ) -> FeatureResult:
        if holdouts:
            by = held_out(holdouts, attributes, assign)
            if by is not None:
                return held[by]
        if prerequisites:
            if depth >= MAX_DEPTH:
                return blocked
            for name, wanted in prerequisites:
                parent = features.get(name)
                if parent is None:
                    return blocked
                got = evaluate_feature(parent, attributes, features, assign, depth + 1)
                if got.value != wanted or type(got.value) is not type(wanted):
                    return blocked
        return evaluate_rules(attributes, features, assign)

    return evaluate


def _chain(rules: tuple[_Rule, ...], no_match: FeatureResult) -> Callable[..., FeatureResult]:
    """The rules as one ``or`` expression (a result is a non-empty tuple, so true): up to
    three, the README's shape, are unrolled, as a loop costs ~0.08 us more per rule
    (bench/features.py); a longer list loops."""
    if len(rules) == 1:
        (only,) = rules
        return lambda attributes, features, assign, depth=0: only(attributes, assign) or no_match
    if len(rules) == 2:
        first, second = rules
        return lambda attributes, features, assign, depth=0: (
            first(attributes, assign) or second(attributes, assign) or no_match
        )
    if len(rules) == 3:
        one, two, three = rules
        return lambda attributes, features, assign, depth=0: (
            one(attributes, assign)
            or two(attributes, assign)
            or three(attributes, assign)
            or no_match
        )

    def evaluate_rules(
        attributes: Mapping[str, Any], features: Features, assign: AssignFn, depth: int = 0
    ) -> FeatureResult:
        for rule in rules:
            result = rule(attributes, assign)
            if result is not None:
                return result
        return no_match

    return evaluate_rules


def _rule(key: str, index: int, rule: Mapping[str, Any]) -> _Rule:
    condition = compile_condition(rule["condition"]) if rule.get("condition") else None
    if "experiment" in rule:
        decide = _experiment_rule(key, index, rule)
    elif "rollout" in rule:
        decide = _rollout_rule(key, index, rule)
    else:
        forced = FeatureResult(key, rule["value"], FORCE, index)
        if condition is None:
            return lambda attributes, assign: forced
        return _forced_when(condition, forced)
    return decide if condition is None else _when(condition, decide)


def _when(condition: Callable[[Mapping[str, Any]], bool], decide: _Rule) -> _Rule:
    """``decide`` for units matching ``condition``; the others fall through."""

    def gated(attributes: Mapping[str, Any], assign: AssignFn) -> FeatureResult | None:
        try:
            holds = condition(attributes)
        except Exception:  # compiled predicates do not raise; this keeps the promise
            holds = False
        return decide(attributes, assign) if holds else None

    return gated


def _forced_when(condition: Callable[[Mapping[str, Any]], bool], forced: FeatureResult) -> _Rule:
    """``forced`` for units matching ``condition`` (one closure: the common force rule)."""
    searches: tuple[str, Callable[..., Any]] | None = getattr(condition, "searches", None)
    if searches is not None:
        # `{attr: {$regex: ...}}`, the segment force of the README: the condition's own
        # bounded search, inlined (conditions._attribute, the same MAX_SUBJECT bound).
        name, search = searches
        cap = safe_regex.MAX_SUBJECT

        def force_match(attributes: Mapping[str, Any], assign: AssignFn) -> FeatureResult | None:
            value = attributes.get(name)
            if value.__class__ is str:
                return forced if search(value, 0, cap) is not None else None
            try:
                return forced if condition(attributes) else None
            except Exception:  # compiled predicates do not raise; this keeps the promise
                return None

        return force_match

    def force(attributes: Mapping[str, Any], assign: AssignFn) -> FeatureResult | None:
        try:
            return forced if condition(attributes) else None
        except Exception:  # compiled predicates do not raise; this keeps the promise
            return None

    return force


def _rollout_rule(key: str, index: int, rule: Mapping[str, Any]) -> _Rule:
    attribute = str(rule.get("hash_attribute") or "user_id")
    limit = float(rule["rollout"]) * BUCKETS
    result = FeatureResult(key, rule["value"], ROLLOUT, index)
    prefix = f"{key}:"
    hash32 = mmh3.hash  # hashing.bucket inlined, as in the engine
    max_unit = MAX_USER_ID

    def rollout(attributes: Mapping[str, Any], assign: AssignFn) -> FeatureResult | None:
        unit = attributes.get(attribute)
        if unit.__class__ is not str:
            unit = canonical_unit_id(unit)
            if unit is None:
                return None
        elif not 0 < len(unit) <= max_unit:  # canonical_unit_id inlined for strings
            return None
        return result if hash32(prefix + unit, 0, False) % BUCKETS < limit else None

    return rollout


def _experiment_rule(key: str, index: int, rule: Mapping[str, Any]) -> _Rule:
    experiment = str(rule["experiment"])
    answers = {
        str(variant): FeatureResult(key, value, EXPERIMENT, index, experiment, str(variant))
        for variant, value in dict(rule["values"]).items()
    }

    def assigned(attributes: Mapping[str, Any], assign: AssignFn) -> FeatureResult | None:
        assignment = assign(experiment, None, attributes)
        if assignment is not None and assignment[3]:  # in the experiment
            return answers.get(assignment[1])
        return None

    return assigned


def compile_features(
    entries: Any, log: Any, holdouts: Holdouts | None = None
) -> dict[str, Feature]:
    """Features of a config document's ``features`` list, each behind the ``holdouts`` it
    opts into; a bad entry is skipped and logged."""

    def build(entry: Any) -> Feature:
        behind = holdouts_of_feature(holdouts, str(entry["key"])) if holdouts else ()
        return Feature.from_dict(entry, behind)

    return {f.key: f for f in compile_entries(entries, build, log, "feature")}
