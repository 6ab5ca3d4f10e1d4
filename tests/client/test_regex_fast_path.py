"""The ``$regex`` fast paths (one attribute in ``conditions``, a force rule in ``features``)
answer as the generic path does, and keep its bounds: the first MAX_SUBJECT characters only,
unsafe patterns never run, hostile attributes return quickly."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pytest

from tests.client.test_safe_regex import ACCEPTED, BOUND, HOSTILE, MEGABYTE
from xp_client.conditions import compile_condition
from xp_client.features import FORCE, Feature, evaluate_feature
from xp_client.safe_regex import MAX_SUBJECT


class Text(str):
    """A str subclass: not the fast path's exact type, so it takes the generic test."""


SUBJECTS: list[Any] = [
    "ann@example.com",
    "ann@example.com.evil",
    "",
    "a" * (MAX_SUBJECT - 1) + "x",
    "a" * MAX_SUBJECT + "x",
    "x" * MEGABYTE + "@example.com",
    Text("bob@example.com"),
    42,
    None,
    True,
    ["ann@example.com"],
    {"email": "ann@example.com"},
]
PATTERNS = [*ACCEPTED, "x$", "^a{1023}x"]


def _fast(pattern: str) -> Any:
    return compile_condition({"s": {"$regex": pattern}}, strict=True)


def _generic(pattern: str) -> Any:
    # A nested attribute and a second operator both leave the fast paths.
    nested = compile_condition({"n.s": {"$regex": pattern}}, strict=True)
    return lambda attrs: nested({"n": attrs})


def _feature(pattern: str) -> Feature:
    rule = {"condition": {"s": {"$regex": pattern}}, "value": True}
    return Feature.from_dict({"key": "f", "type": "boolean", "default": False, "rules": [rule]})


def _forced(feature: Feature, attrs: dict[str, Any]) -> bool:
    result = evaluate_feature(feature, attrs, {}, lambda key, _, attributes: None)
    return result.source == FORCE


def test_the_fast_path_is_taken() -> None:
    assert _fast("x$").__name__ == "check_regex"
    assert hasattr(_fast("x$"), "searches")
    assert not hasattr(compile_condition({"n.s": {"$regex": "x$"}}), "searches")


@pytest.mark.parametrize("pattern", PATTERNS)
def test_fast_generic_and_feature_paths_agree(pattern: str) -> None:
    fast, generic, feature = _fast(pattern), _generic(pattern), _feature(pattern)
    for subject in SUBJECTS:
        attrs = {"s": subject}
        expected = generic(attrs)
        assert fast(attrs) is expected, (pattern, subject)
        assert _forced(feature, attrs) is expected, (pattern, subject)
    assert fast({}) is False and _forced(feature, {}) is False


def test_only_the_first_characters_are_seen_on_every_path() -> None:
    inside, beyond = "a" * (MAX_SUBJECT - 1) + "x", "a" * MAX_SUBJECT + "x"
    for check in (_fast("x$"), _generic("x$")):
        assert check({"s": inside}) is True
        assert check({"s": beyond}) is False
    feature = _feature("x$")
    assert _forced(feature, {"s": inside}) is True
    assert _forced(feature, {"s": beyond}) is False


def _worst_seconds(check: Any) -> float:
    worst = 0.0
    for subject in HOSTILE:
        best = math.inf  # the best of three: the pattern's cost, not the scheduler's
        for _ in range(3):
            start = time.perf_counter()
            check({"s": subject})
            best = min(best, time.perf_counter() - start)
        worst = max(worst, best)
    return worst


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_hostile_attributes_return_quickly_on_the_fast_paths(pattern: str) -> None:
    feature = _feature(pattern)
    assert _worst_seconds(_fast(pattern)) < BOUND
    assert _worst_seconds(lambda attrs: _forced(feature, attrs)) < BOUND


def test_an_unsafe_pattern_in_a_force_rule_never_runs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="xp.client"):
        feature = _feature("(a+)+$")
    assert "never matches" in caplog.text
    start = time.perf_counter()
    assert _forced(feature, {"s": "a" * 40 + "!"}) is False  # plain re would take hours
    assert _forced(feature, {"s": "aaa"}) is False
    assert time.perf_counter() - start < BOUND
