"""Malformed conditions fail at compile time with a path; compiled ones never raise."""

from __future__ import annotations

import random
from typing import Any

import pytest

from xp_client.conditions import ConditionError, compile_condition, validate_condition
from xp_client.semver import VersionError, version_key


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ({"country": {"$inn": ["US"]}}, "country.$inn"),
        ({"country": {"$in": "US"}}, "country.$in"),
        ({"age": {"$gt": [1]}}, "age.$gt"),
        ({"email": {"$regex": "("}}, "email.$regex"),
        ({"email": {"$regex": 5}}, "email.$regex"),
        ({"v": {"$vgte": "one.two"}}, "v.$vgte"),
        ({"x": {"$exists": "yes"}}, "x.$exists"),
        ({"$and": {"a": 1}}, "$and"),
        ({"$or": []}, "$or"),
        ({"$and": [{"a": {"$bogus": 1}}]}, "$and[0].a.$bogus"),
        ({"$where": "1"}, "$where"),
        ({"a": {"$eq": 1, "plain": 2}}, "a"),
        ("country == US", ""),
        ({"tags": {"$all": "a"}}, "tags.$all"),
    ],
)
def test_malformed_condition_names_its_path(condition: Any, path: str) -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition(condition)
    assert info.value.path == path


def test_deep_nesting_is_refused() -> None:
    condition: dict[str, Any] = {"a": 1}
    for _ in range(40):
        condition = {"$not": condition}
    with pytest.raises(ConditionError, match="deeper"):
        compile_condition(condition)


WEIRD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1.5,
    float("nan"),
    "",
    "US",
    [],
    ["US", {"x": 1}],
    {},
    {"nested": [1]},
    [[1]],
    "2.0.0",
    "v",
    10**30,
]
CONDITIONS: list[Any] = [
    {"a": {"$in": ["US", 1, None, {"k": 1}]}},
    {"a": {"$gt": 3}},
    {"a": {"$lte": "m"}},
    {"a": {"$vgte": "1.2.3"}},
    {"a": {"$regex": "^U"}},
    {"a": {"$size": {"$gt": 0}}},
    {"a": {"$elemMatch": {"$eq": 1}}},
    {"a": {"$all": [1]}},
    {"a.b.c": 1},
    {"a": {"k": 1}},
    {"$or": [{"a": {"$exists": True}}, {"$not": {"a": {"$nin": [1]}}}]},
]


def test_compiled_conditions_never_raise_on_any_attributes() -> None:
    rng = random.Random(7)
    predicates = [compile_condition(c) for c in CONDITIONS]
    for _ in range(2_000):
        attrs = {"a": rng.choice(WEIRD_VALUES)}
        for predicate in predicates:
            assert predicate(attrs) in (True, False)


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.9.0", "1.10.0"),
        ("1.0.0", "2"),
    ],
)
def test_semver_precedence(low: str, high: str) -> None:
    # Examples from semver.org section 11.
    assert version_key(low) < version_key(high)


def test_not_a_version() -> None:
    with pytest.raises(VersionError):
        version_key("1.2.3.4")


def test_validation_reports_every_bad_clause_not_just_the_first() -> None:
    condition = {
        "email": {"$regex": "("},
        "app_version": {"$vgte": "x.y", "$lt": [1]},
        "$or": 5,
        "$and": [{"a": {"$in": 3}}, {"b": 1}, {"c": {"$bogus": 1}}],
        "country": "US",
    }
    paths = [p.path for p in validate_condition(condition)]
    assert paths == [
        "email.$regex",
        "app_version.$vgte",
        "app_version.$lt",
        "$or",
        "$and[0].a.$in",
        "$and[2].c.$bogus",
    ]
    assert validate_condition({"country": {"$in": ["US"]}}) == []
