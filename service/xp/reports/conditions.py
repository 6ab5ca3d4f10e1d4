"""A targeting condition in words a product manager reads: ``email matches /@example\\.com$/``,
``country in US, CA``, ``plan is pro and age at least 18``.

The engine (:mod:`xp_client.conditions`) is what evaluates a condition; this only describes
one that validation accepted, so an operator it does not know reads as its JSON rather than
failing the page. The list page gives the exact JSON as a tooltip; the experiment page shows it
below the words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Operator -> the words between the attribute and its argument.
COMPARISONS = {
    "$eq": "is",
    "$ne": "is not",
    "$gt": "above",
    "$gte": "at least",
    "$lt": "below",
    "$lte": "at most",
    "$veq": "is version",
    "$vne": "is not version",
    "$vgt": "above version",
    "$vgte": "at least version",
    "$vlt": "below version",
    "$vlte": "at most version",
}
JOINS = {"$and": " and ", "$or": " or ", "$nor": " nor "}
MAX_LISTED = 10  # a long list reads as its first values and a count
MAX_DEPTH = 8  # deeper nesting reads as its JSON: the sentence would not help anyone


def condition_words(condition: Mapping[str, Any]) -> str:
    """The whole condition as one phrase; its top-level parts joined by "and"."""
    return _all(condition, 0)


def _all(condition: Mapping[str, Any], depth: int) -> str:
    if depth > MAX_DEPTH:
        return _json(condition)
    parts = [_part(name, value, depth) for name, value in condition.items()]
    return " and ".join(parts) if parts else "everyone"


def _part(name: str, value: Any, depth: int) -> str:
    if name in JOINS and isinstance(value, list):
        inner = [_all(c, depth + 1) if isinstance(c, Mapping) else _json(c) for c in value]
        word = "neither " if name == "$nor" else ""
        return f"{word}({JOINS[name].join(inner)})" if len(inner) > 1 else word + inner[0]
    if name == "$not" and isinstance(value, Mapping):
        return f"not ({_all(value, depth + 1)})"
    if name.startswith("$"):
        return _json({name: value})
    return _attribute(name, value, depth)


def _attribute(name: str, value: Any, depth: int) -> str:
    """``name`` against a plain value (equality) or against its operators."""
    if not (isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value)):
        return f"{name} is {_value(value)}"
    return " and ".join(_operator(name, op, arg, depth) for op, arg in value.items())


def _operator(name: str, op: str, arg: Any, depth: int) -> str:
    if op in COMPARISONS:
        return f"{name} {COMPARISONS[op]} {_value(arg)}"
    if op in ("$in", "$nin") and isinstance(arg, list):
        return f"{name} {'in' if op == '$in' else 'not in'} {_listed(arg)}"
    if op == "$regex" and isinstance(arg, str):
        return f"{name} matches /{arg}/"
    if op == "$exists":
        return f"{name} is {'set' if arg else 'not set'}"
    if op == "$all" and isinstance(arg, list):
        return f"{name} has all of {_listed(arg)}"
    if depth < MAX_DEPTH and op in ("$not", "$size", "$elemMatch"):
        lead = {"$not": "not", "$size": "size of", "$elemMatch": "an element of"}[op]
        inner = f"{lead} {name}" if op != "$not" else name
        phrase = _attribute(inner, arg, depth + 1)
        return f"not ({phrase})" if op == "$not" else phrase
    return f"{name} {_json({op: arg})}"


def _listed(values: list[Any]) -> str:
    shown = ", ".join(_value(v) for v in values[:MAX_LISTED])
    more = len(values) - MAX_LISTED
    return f"{shown} and {more:,} more" if more > 0 else shown or "(nothing)"


def _value(value: Any) -> str:
    """A string as itself (``US``); anything else as its JSON (``true``, ``18``, ``null``)."""
    return value if isinstance(value, str) and value else _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
