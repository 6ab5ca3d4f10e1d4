"""Targeting's ``$regex`` subset: super-linear patterns refused, accepted ones bounded in time."""

from __future__ import annotations

import logging
import math
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from xp_client.conditions import ConditionError, compile_condition, validate_condition
from xp_client.safe_regex import MAX_PATTERN, MAX_SUBJECT, UnsafeRegex, check

# The classic catastrophic patterns (OWASP's ReDoS page lists (a+)+, ([a-zA-Z]+)*, (a|aa)+,
# (a|a?)+ and (.*a){x}); each backtracks exponentially or polynomially in Python's re.
REFUSED = [
    "(a+)+$",
    "(a|a)*$",
    "(.*a){12}",
    "(a*)*",
    r"(\w+\s?)+$",
    "([a-zA-Z]+)*$",
    "(a|aa)+$",
    "(a|a?)+$",
    r"^(\d+)*$",
    r"(a)\1",
    "(?=a)a*b",
    "(?<!x)y",
    "(a)?(?(1)b|c)",
    "(?>a+)b",
    "a++b",
    ".*foo.*bar",  # three positions to choose on every start: cubic
    r"\w*\w*\w*!",
    "a" * (MAX_PATTERN + 1),
]

ACCEPTED = [
    r"@example\.com$",
    "^(beta|alpha)-",
    r"^\d{3}-\d{4}$",
    "foo.*bar",
    r".*@example\.com$",
    r"^[a-z0-9._%+-]+@example\.(com|org)$",
    r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$",
    r"^\w{1,64}@\w{1,64}\.\w{2,16}$",
    "(?i)chrome|firefox",
    r"^user-\d+$",
    r"\bvip\b",
    "^a*a*b",
    "a+b",
    "(ab)+c",
    r"^(\d{3}-)?\d{4}$",
]

# Attributes that make a backtracking engine work hardest on the patterns above: long runs of
# what a repeat eats, ending in what the pattern needs next (so every split is tried).
MEGABYTE = 1 << 20
HOSTILE = [
    "a" * MEGABYTE,
    "a" * (MEGABYTE - 1) + "!",
    "ab" * (MEGABYTE // 2),
    "0" * MEGABYTE,
    "1." * (MEGABYTE // 2),
    "foo" * (MEGABYTE // 3),
    "a " * (MEGABYTE // 2),
    "x" * 1000 + "@example.co",
]

BOUND = 0.05  # seconds: generous; the worst accepted case measured is about 2 ms


@pytest.mark.parametrize("pattern", REFUSED)
def test_super_linear_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(UnsafeRegex):
        check(pattern)
    problems = validate_condition({"email": {"$regex": pattern}})
    assert [p.path for p in problems] == ["email.$regex"]
    assert "unsafe regular expression" in problems[0].message


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_common_patterns_are_accepted(pattern: str) -> None:
    check(pattern)
    assert validate_condition({"email": {"$regex": pattern}}) == []


def test_refusals_say_which_rule() -> None:
    reasons = {p: str(_refusal(p)) for p in ["(a+)+$", "(a|a)*$", r"(a)\1", "(?=a)b", "a" * 300]}
    assert "nested quantifiers" in reasons["(a+)+$"]
    assert "alternation" in reasons["(a|a)*$"]
    assert "backreferences" in reasons[r"(a)\1"]
    assert "lookarounds" in reasons["(?=a)b"]
    assert f"at most {MAX_PATTERN} characters" in reasons["a" * 300]


def _refusal(pattern: str) -> UnsafeRegex:
    with pytest.raises(UnsafeRegex) as info:
        check(pattern)
    return info.value


def _worst_seconds(pattern: str, subjects: list[str]) -> float:
    predicate = compile_condition({"s": {"$regex": pattern}}, strict=True)
    worst = 0.0
    for subject in subjects:
        attrs = {"s": subject}
        # The best of three: what the pattern costs, not what a busy machine's scheduler adds.
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            predicate(attrs)
            best = min(best, time.perf_counter() - start)
        worst = max(worst, best)
    return worst


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_accepted_patterns_against_a_megabyte_return_quickly(pattern: str) -> None:
    assert _worst_seconds(pattern, HOSTILE) < BOUND


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    atoms = ["a", "b", ".", r"\w", r"\d", "[ab]", "[^b]", " ", r"\s"]
    quantifiers = ["", "", "*", "+", "?", "{2,5}", "{3}", "{1,}", "*?"]
    parts = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.2 and depth < 2:
            inner = _random_pattern(rng, depth + 1)
            if rng.random() < 0.4:
                inner += "|" + _random_pattern(rng, depth + 1)
            parts.append(f"({inner})" + rng.choice(quantifiers))
        else:
            parts.append(rng.choice(atoms) + rng.choice(quantifiers))
    head = "^" if depth == 0 and rng.random() < 0.3 else ""
    tail = "$" if depth == 0 and rng.random() < 0.5 else ""
    return head + "".join(parts) + tail


def test_random_accepted_patterns_are_bounded_and_the_subset_has_teeth() -> None:
    """Every random pattern the subset accepts stays under the bound on hostile attributes;
    among the refused ones are patterns that really are slow on a short attribute."""
    rng = random.Random(11)
    patterns = {_random_pattern(rng) for _ in range(400)}
    accepted, refused = [], []
    for pattern in sorted(patterns):
        try:
            check(pattern)
        except UnsafeRegex:
            refused.append(pattern)
        else:
            accepted.append(pattern)
    assert len(accepted) > 100 and len(refused) > 50, (len(accepted), len(refused))
    slow = [(p, t) for p in accepted if (t := _worst_seconds(p, HOSTILE)) >= BOUND]
    assert slow == []
    # Teeth: plain re on (a+)+$, which the subset refuses, takes longer than the bound on
    # 24 characters (it doubles with each one).
    start = time.perf_counter()
    assert compile_condition({"s": {"$regex": "(a+)+$"}})  # compiles, never runs
    re.search("(a+)+$", "a" * 22 + "!")
    assert time.perf_counter() - start > BOUND


def test_an_unvalidated_unsafe_pattern_never_matches_and_never_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="xp.client"):
        predicate = compile_condition({"email": {"$regex": "(a+)+$"}})
    assert "email.$regex" in caplog.text and "never matches" in caplog.text
    start = time.perf_counter()
    assert predicate({"email": "a" * 40 + "!"}) is False  # plain re would take hours
    assert predicate({"email": "aaa"}) is False
    assert time.perf_counter() - start < BOUND
    with pytest.raises(ConditionError, match="unsafe regular expression"):
        compile_condition({"email": {"$regex": "(a+)+$"}}, strict=True)


def test_a_regex_sees_the_first_1024_characters() -> None:
    predicate = compile_condition({"s": {"$regex": "x$"}})
    assert predicate({"s": "a" * (MAX_SUBJECT - 1) + "x"}) is True
    assert predicate({"s": "a" * MAX_SUBJECT + "x"}) is False
    starts = compile_condition({"s": {"$regex": "^vip-"}})
    assert starts({"s": "vip-" + "z" * MEGABYTE}) is True


def test_xp_validate_names_the_file_and_field(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "key": "exp-a",
        "name": "A",
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "b", "weight": 0.5}],
        "targeting": {"email": {"$regex": "(a+)+$"}},
    }
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(document))
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "xp.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "x.yaml: targeting.email.$regex: unsafe regular expression" in done.stderr
    assert "nested quantifiers" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - start < 30


def test_the_advice_fits_the_pattern() -> None:
    # An anchored pattern is not told to anchor itself; an unanchored one is.
    with pytest.raises(UnsafeRegex, match=r"bound them") as anchored:
        check(r"^\w+@\w+\.\w+$")
    assert "anchor it" not in str(anchored.value)
    with pytest.raises(UnsafeRegex, match=r"anchor it with \^"):
        check(r"\w+@\w+\.\w+")


def test_bounded_repeats_are_not_told_to_drop_unbounded_ones() -> None:
    # Four {1,64} repeats multiply to 64**4 ways: the advice names them, not .* or +.
    with pytest.raises(UnsafeRegex) as bounded:
        check(r"^[a-z]{1,64}[a-z]{1,64}[a-z]{1,64}[a-z]{1,64}!")
    message = str(bounded.value)
    assert "narrow or merge the repeats of varying count such as {1,64}" in message
    assert "unbounded" not in message and "anchor it" not in message
    with pytest.raises(UnsafeRegex) as unanchored:
        check(r"[a-z]{1,64}[a-z]{1,64}[a-z]{1,64}[a-z]{1,64}!")
    assert "anchor it with ^; narrow or merge" in str(unanchored.value)
    assert "unbounded" not in str(unanchored.value)
    with pytest.raises(UnsafeRegex, match=r"fewer alternatives \(\|\)") as alternatives:
        check("^" + "(ab|cd|ef|gh)" * 12)
    assert "unbounded" not in str(alternatives.value)
