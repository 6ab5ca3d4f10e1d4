"""The safe subset of regular expressions that targeting's ``$regex`` accepts.

Python's ``re`` backtracks, so a pattern like ``(a+)+$`` takes exponential time on a short
attribute. Rather than ship a second engine (the SDK stays standard library + mmh3), a pattern
is parsed with ``re._parser`` and its tree walked; it is refused when it could backtrack
super-linearly:

- a repeat whose count can vary inside a repeat of more than one (``(a+)+``, ``(a*)*``,
  ``(.*a){12}``, ``(\\w+\\s?)+``);
- an alternation inside a repeat of more than one (``(a|a)*``, ``(ab|a)+``);
- backreferences, lookarounds, conditionals, atomic groups and possessive repeats (outside
  the subset, and other SDKs' engines may not have them);
- a pattern whose number of ways to match one attribute could exceed :data:`MAX_PATHS`: each
  repeat of varying count multiplies it by its range of counts (unbounded counts as
  :data:`MAX_SUBJECT` + 1), each alternation by its branches, and a search not anchored with
  ``^`` by the positions it starts from (``.*foo.*bar`` is refused, ``foo.*bar`` is not);
- a pattern longer than :data:`MAX_PATTERN` characters.

Matching only ever sees the first :data:`MAX_SUBJECT` characters of an attribute, which is what
makes the path bound a bound on time.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# Private, but stable since 3.11 (the former sre_parse, which the SDK's Python >= 3.11 warns
# about); typeshed has no stubs for it.
_c: Any = importlib.import_module("re._constants")
_parser: Any = importlib.import_module("re._parser")

MAX_PATTERN = 256
# Targeting attributes (emails, plans, user agents, paths) fit in 1,024 characters; a longer
# value is matched on its first 1,024 so one evaluation's work has a ceiling.
MAX_SUBJECT = 1024
MAX_PATHS = 1 << 21

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT}
_ANCHORS = [(_c.AT, _c.AT_BEGINNING), (_c.AT, _c.AT_BEGINNING_STRING)]  # ^ and \A
_SIMPLE = {_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN, _c.AT}
_REFUSED = {
    "GROUPREF": "backreferences",
    "GROUPREF_EXISTS": "conditional groups",
    "GROUPREF_IGNORE": "backreferences",
    "GROUPREF_LOC_IGNORE": "backreferences",
    "GROUPREF_UNI_IGNORE": "backreferences",
    "ASSERT": "lookarounds",
    "ASSERT_NOT": "lookarounds",
    "ATOMIC_GROUP": "atomic groups",
    "POSSESSIVE_REPEAT": "possessive repeats",
}


class UnsafeRegex(ValueError):
    """A pattern outside the safe subset; the message says which rule it breaks."""


def check(pattern: str) -> re.Pattern[str]:
    """The compiled pattern when it is in the safe subset, else :class:`UnsafeRegex`."""
    if len(pattern) > MAX_PATTERN:
        raise UnsafeRegex(
            f"a pattern is at most {MAX_PATTERN} characters, this one has {len(pattern)}"
        )
    try:
        compiled = re.compile(pattern)
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UnsafeRegex(f"invalid regular expression: {exc}") from None
    items = list(tree)
    paths = _paths(items, repeated=False)
    if not (items and items[0] in _ANCHORS):
        paths *= MAX_SUBJECT + 1  # search() tries every starting position
    if paths > MAX_PATHS:
        raise UnsafeRegex(
            "too many quantifiers or alternatives: it could try more than "
            f"{MAX_PATHS:,} ways on a {MAX_SUBJECT}-character attribute "
            f"({_advice(items)})"
        )
    return compiled


def _advice(items: list[Any]) -> str:
    """What to change, naming only what this pattern has: the message must fit the reason."""
    found = _multipliers(items)
    advice = [] if items and items[0] in _ANCHORS else ["anchor it with ^"]
    if "unbounded" in found:
        advice.append("use fewer unbounded repeats such as .* or +, or bound them: \\w{1,64}")
    if "bounded" in found:
        advice.append("narrow or merge the repeats of varying count such as {1,64}")
    if "alternation" in found:
        advice.append("use fewer alternatives (|)")
    return "; ".join(advice) or "simplify it"


def _multipliers(items: list[Any]) -> set[str]:
    """The kinds of construct in ``items`` that multiply the ways to match."""
    found: set[str] = set()
    for op, arg in items:
        if op is _c.SUBPATTERN:
            found |= _multipliers(list(arg[-1]))
        elif op is _c.BRANCH:
            found.add("alternation")
            for branch in arg[1]:
                found |= _multipliers(list(branch))
        elif op in _REPEATS:
            low, high, body = arg
            if high == _c.MAXREPEAT:
                found.add("unbounded")
            elif high != low:
                found.add("bounded")
            found |= _multipliers(list(body))
    return found


def _paths(items: list[Any], repeated: bool) -> int:
    """An upper bound on the ways ``items`` can match; raises on refused constructs.

    ``repeated`` is true inside a repeat of more than one, where nothing may vary.
    """
    total = 1
    for op, arg in items:
        name = str(op)
        if name in _REFUSED:
            raise UnsafeRegex(f"{_REFUSED[name]} are not allowed in targeting patterns")
        if op in _SIMPLE:
            continue
        if op is _c.SUBPATTERN:
            total *= _paths(list(arg[-1]), repeated)
        elif op is _c.BRANCH:
            if repeated:
                raise UnsafeRegex(
                    "an alternation (|) inside a repeated group can backtrack exponentially"
                )
            total *= sum(_paths(list(branch), repeated) for branch in arg[1])
        elif op in _REPEATS:
            low, high, body = arg
            varies = high != low
            if repeated and varies:
                raise UnsafeRegex(
                    "a repeat inside a repeated group (nested quantifiers, as in (a+)+) "
                    "can backtrack exponentially"
                )
            inner = _paths(list(body), repeated or high > 1)
            if varies:
                top = MAX_SUBJECT if high == _c.MAXREPEAT else min(high, MAX_SUBJECT)
                total *= max(1, top - low + 1)
            total *= inner
        else:  # pragma: no cover - an opcode a future Python adds
            raise UnsafeRegex(f"{name.lower()} is not allowed in targeting patterns")
        total = min(total, MAX_PATHS * (MAX_SUBJECT + 1) + 1)  # enough to refuse, no bignums
    return total
