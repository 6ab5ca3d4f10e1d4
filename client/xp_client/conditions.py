"""MongoDB-style targeting conditions, compiled once into predicates.

A condition is checked when it is compiled (definitions load, SDK config fetch), so a
malformed one is a :class:`ConditionError` naming its path there; the compiled predicate never
raises on any attributes, a type mismatch simply does not match.

A ``$regex`` must be in :mod:`xp_client.safe_regex`'s subset. :func:`validate_condition` (``xp
validate``, the service's loader) refuses any other pattern; :func:`compile_condition` (the
SDK reading a config it did not validate) logs it and compiles it to "never matches", so the
pattern is never run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from xp_client import safe_regex
from xp_client.semver import VersionError, version_key

Attributes = Mapping[str, Any]
Predicate = Callable[[Attributes], bool]
ValuePredicate = Callable[[Any], bool]

_MISSING = object()
_MAX_DEPTH = 32
_log = logging.getLogger("xp.client")


class ConditionError(ValueError):
    """A malformed condition; ``path`` is where in the condition it is."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def compile_condition(condition: Any, path: str = "", *, strict: bool = False) -> Predicate:
    """Compile a top-level condition (``{attr: value-or-operators, "$and": [...], ...}``).

    ``strict`` refuses an unsafe ``$regex`` instead of compiling it to "never matches".
    """
    return _compile_document(condition, path, 0, strict)


def validate_condition(condition: Any, path: str = "", depth: int = 0) -> list[ConditionError]:
    """Every problem of ``condition`` (empty when it compiles), not just the first: the
    compiler stops at one, so each clause that fails is checked again on its own."""
    try:
        _compile_document(condition, path, depth, True)
    except ConditionError as exc:
        first = exc
    else:
        return []
    if not isinstance(condition, Mapping) or not condition:
        return [first]
    problems: list[ConditionError] = []
    if len(condition) > 1:
        for name, value in condition.items():
            problems += validate_condition({name: value}, path, depth)
        return problems or [first]
    name, value = next(iter(condition.items()))
    where = _join(path, name) if isinstance(name, str) else path
    if name in ("$and", "$or", "$nor") and isinstance(value, list) and value:
        for i, item in enumerate(value):
            problems += validate_condition(item, f"{where}[{i}]", depth + 1)
    elif name == "$not":
        problems += validate_condition(value, where, depth + 1)
    elif (
        isinstance(name, str)
        and not name.startswith("$")
        and isinstance(value, Mapping)
        and len(value) > 1
        and all(isinstance(op, str) and op.startswith("$") for op in value)
    ):
        for op, arg in value.items():
            try:
                _compile_value({op: arg}, where, depth + 1, True)
            except ConditionError as exc:
                problems.append(exc)
    return problems or [first]


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _compile_document(condition: Any, path: str, depth: int, strict: bool) -> Predicate:
    if depth > _MAX_DEPTH:
        raise ConditionError(path, f"nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(condition, Mapping):
        raise ConditionError(path, f"a condition must be a mapping, not {condition!r}")
    parts: list[Predicate] = []
    for name, value in condition.items():
        if not isinstance(name, str):
            raise ConditionError(path, f"attribute names must be strings, not {name!r}")
        where = _join(path, name)
        if name in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not value:
                raise ConditionError(where, f"{name} takes a non-empty list, not {value!r}")
            subs = [
                _compile_document(v, f"{where}[{i}]", depth + 1, strict)
                for i, v in enumerate(value)
            ]
            parts.append(_logical(name, subs))
        elif name == "$not":
            parts.append(_negate(_compile_document(value, where, depth + 1, strict)))
        elif name.startswith("$"):
            raise ConditionError(where, f"unknown top-level operator {name!r}")
        else:
            parts.append(_attribute(name, _compile_value(value, where, depth + 1, strict)))
    if len(parts) == 1:
        return parts[0]
    return lambda attrs: all(p(attrs) for p in parts)


def _negate(sub: Predicate) -> Predicate:
    return lambda attrs: not sub(attrs)


def _logical(name: str, subs: list[Predicate]) -> Predicate:
    if name == "$and":
        return lambda attrs: all(s(attrs) for s in subs)
    if name == "$or":
        return lambda attrs: any(s(attrs) for s in subs)
    return lambda attrs: not any(s(attrs) for s in subs)


def _attribute(name: str, test: ValuePredicate) -> Predicate:
    members: frozenset[Any] | None = getattr(test, "string_members", None)
    if "." not in name and members is not None:
        # The common `{attr: {$in: [...strings]}}`: one dict lookup and one set probe.
        def check_in(attrs: Attributes) -> bool:
            value = attrs.get(name, _MISSING)
            if value.__class__ is str:
                return value in members
            return test(value)

        return check_in
    search: Callable[..., Any] | None = getattr(test, "bounded_search", None)
    if "." not in name and search is not None:
        # The common `{attr: {$regex: ...}}`: one dict lookup and the pattern's own search,
        # bounded to MAX_SUBJECT characters like the generic test.
        cap = safe_regex.MAX_SUBJECT

        def check_regex(attrs: Attributes) -> bool:
            value = attrs.get(name, _MISSING)
            if value.__class__ is str:
                return search(value, 0, cap) is not None
            return test(value)

        check_regex.searches = (name, search)  # type: ignore[attr-defined]
        return check_regex
    if "." not in name:

        def check(attrs: Attributes) -> bool:
            return test(attrs.get(name, _MISSING))

        return check
    keys = name.split(".")

    def check_nested(attrs: Attributes) -> bool:
        value: Any = attrs
        for key in keys:
            if not isinstance(value, Mapping):
                return test(_MISSING)
            value = value.get(key, _MISSING)
        return test(value)

    return check_nested


def _is_operator_document(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and k.startswith("$") for k in value)
    )


def _compile_value(value: Any, path: str, depth: int, strict: bool) -> ValuePredicate:
    if depth > _MAX_DEPTH:
        raise ConditionError(path, f"nested deeper than {_MAX_DEPTH} levels")
    if not _is_operator_document(value):
        if isinstance(value, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in value
        ):
            raise ConditionError(path, "operators cannot be mixed with plain keys")
        return _equals(value)
    tests = [
        _compile_operator(op, arg, _join(path, op), depth, strict) for op, arg in value.items()
    ]
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


def _equals(expected: Any) -> ValuePredicate:
    def test(v: Any) -> bool:
        return v is not _MISSING and _same(v, expected)

    return test


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; targeting treats booleans and numbers as different types.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _comparable(v: Any, arg: Any) -> bool:
    return (_number(v) and _number(arg)) or (isinstance(v, str) and isinstance(arg, str))


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}

_VERSION_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$veq": lambda a, b: a == b,
    "$vne": lambda a, b: a != b,
    "$vgt": lambda a, b: a > b,
    "$vgte": lambda a, b: a >= b,
    "$vlt": lambda a, b: a < b,
    "$vlte": lambda a, b: a <= b,
}


def _compile_operator(op: str, arg: Any, path: str, depth: int, strict: bool) -> ValuePredicate:
    if op == "$eq":
        return _equals(arg)
    if op == "$ne":
        eq = _equals(arg)
        return lambda v: not eq(v)
    if op in ("$in", "$nin"):
        return _membership(op, arg, path)
    if op in _COMPARE:
        if not (_number(arg) or isinstance(arg, str)):
            raise ConditionError(path, f"{op} compares with a number or a string, not {arg!r}")
        compare = _COMPARE[op]
        return lambda v: _comparable(v, arg) and compare(v, arg)
    if op in _VERSION_COMPARE:
        return _version(op, arg, path)
    if op == "$exists":
        if not isinstance(arg, bool):
            raise ConditionError(path, f"$exists takes true or false, not {arg!r}")
        return lambda v: (v is not _MISSING and v is not None) == arg
    if op == "$regex":
        return _regex(arg, path, strict)
    if op == "$not":
        inner = _compile_value(arg, path, depth + 1, strict)
        return lambda v: not inner(v)
    if op == "$size":
        inner = _compile_value(arg, path, depth + 1, strict)
        return lambda v: isinstance(v, list) and inner(len(v))
    if op == "$elemMatch":
        inner = _compile_value(arg, path, depth + 1, strict)
        return lambda v: isinstance(v, list) and any(inner(x) for x in v)
    if op == "$all":
        if not isinstance(arg, list):
            raise ConditionError(path, f"$all takes a list, not {arg!r}")
        return lambda v: isinstance(v, list) and all(any(_same(x, a) for x in v) for a in arg)
    raise ConditionError(path, f"unknown operator {op!r}")


def _membership(op: str, arg: Any, path: str) -> ValuePredicate:
    if not isinstance(arg, list):
        raise ConditionError(path, f"{op} takes a list, not {arg!r}")
    hashable = [a for a in arg if isinstance(a, str | int | float) and not isinstance(a, bool)]
    fast = frozenset(hashable) if len(hashable) == len(arg) else None

    def member(v: Any) -> bool:
        if v is _MISSING:
            return False
        if isinstance(v, list):  # an array attribute matches when any element is in the list
            return any(member(x) for x in v)
        if fast is not None and isinstance(v, str):
            return v in fast
        return any(_same(v, a) for a in arg)

    if op == "$in":
        if fast is not None and all(isinstance(a, str) for a in arg):
            member.string_members = fast  # type: ignore[attr-defined]
        return member
    return lambda v: not member(v)


def _version(op: str, arg: Any, path: str) -> ValuePredicate:
    try:
        target = version_key(arg)
    except VersionError as exc:
        raise ConditionError(path, str(exc)) from None
    compare = _VERSION_COMPARE[op]

    def test(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return compare(version_key(v), target)
        except VersionError:
            return False

    return test


def _regex(arg: Any, path: str, strict: bool) -> ValuePredicate:
    if not isinstance(arg, str):
        raise ConditionError(path, f"$regex takes a string, not {arg!r}")
    try:
        re.compile(arg)
    except re.error as exc:
        raise ConditionError(path, f"invalid regular expression {arg!r}: {exc}") from None
    try:
        pattern = safe_regex.check(arg)
    except safe_regex.UnsafeRegex as exc:
        if strict:
            raise ConditionError(path, f"unsafe regular expression {arg!r}: {exc}") from None
        _log.warning("targeting %s: refused %r, it never matches: %s", path, arg, exc)
        return _never
    search = pattern.search
    cap = safe_regex.MAX_SUBJECT

    # Only the first MAX_SUBJECT characters (``endpos``: as if the string ended there, with
    # no copy): with the subset, that bounds one evaluation.
    def test(v: Any) -> bool:
        return isinstance(v, str) and search(v, 0, cap) is not None

    test.bounded_search = search  # type: ignore[attr-defined]
    return test


def _never(_: Any) -> bool:
    return False
