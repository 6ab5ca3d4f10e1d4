"""A fast path for plain, well-formed bodies (events, the assign request), compiled once from
a schema's declared fields.

``Schema.load`` costs ~25 us per event (field lookups, error bookkeeping, validator calls);
a batch of 500 spent 20-35 ms there. :class:`FastLoader` reads each field of a schema once
(its JSON types, its ``Length``, ``Range`` and ``OneOf`` validators, ``required``,
``allow_none``, ``load_default``) and compiles one check per field that accepts only the
plainest form of a value: an ASCII string within its lengths, a finite number within its
range, a flat object of such values. It then builds the event with the schema's own
``post_load`` hook, so the event is made in one place.

The fast path never refuses: for anything else (a missing required field, an integer unit id,
an ISO time, non-ASCII text, a time the clock rejects) :meth:`FastLoader.load` returns None
and the caller runs the full schema, which accepts the unusual form or refuses it with its
usual message. ``tests/test_event_fastpath.py`` checks on a generated corpus that whatever
the fast path accepts, the schema accepts as the same event, and that plain events take it.

:meth:`FastLoader.load` is generated source (as ``dataclasses`` makes ``__init__``): a loop
over field tuples calling a check per field cost ~2 us per event, as much as the event's own
construction; the text and number checks are written inline, the others called.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing

DECLINE: Any = object()  # a check's answer for "not plain: let the schema decide"
Check = Callable[[Any], Any]
BIGGEST = sys.float_info.max  # number checks always bound: inf and nan decline
PLAIN_SCALARS = (int, float, bool, type(None))


# A check's inline form, for the generated loader: ``source(value_name, bind)`` is a
# condition true when the value declines and the loaded value's expression; ``bind(constant)``
# names a constant.
Inline = Callable[[str, Callable[[Any], str]], tuple[str, str]]
_INLINE: weakref.WeakKeyDictionary[Check, Inline] = weakref.WeakKeyDictionary()


class NotCompilable(ValueError):
    """A schema or field the fast path cannot mirror exactly (it then has none)."""


def _bounds(field: fields.Field) -> tuple[Any, Any, list[str] | None]:
    """The field's ``Length``/``Range`` bounds (inclusive) and ``OneOf`` choices."""
    low: Any = None
    high: Any = None
    choices = None
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.equal is None:
            low, high = validator.min, validator.max
        elif isinstance(validator, validate.Range):
            if not (validator.min_inclusive and validator.max_inclusive):
                raise NotCompilable(f"exclusive range on {field!r}")
            low, high = validator.min, validator.max
        elif isinstance(validator, validate.OneOf):
            choices = list(validator.choices)
        else:
            raise NotCompilable(f"validator {validator!r}")
    return low, high, choices


def _tighter(bound: Any, documented: Any, pick: Callable[..., Any]) -> Any:
    present = [x for x in (bound, documented) if x is not None]
    return pick(present) if present else None


def _string(low: int | None, high: int | None, choices: list[str] | None) -> Check:
    shortest, longest = low or 0, sys.maxsize if high is None else high

    def check(value: Any) -> Any:
        if type(value) is not str or not value.isascii():
            return DECLINE
        if not shortest <= len(value) <= longest:
            return DECLINE
        if choices is not None and value not in choices:
            return DECLINE
        return value

    def inline(v: str, bind: Callable[[Any], str]) -> tuple[str, str]:
        condition = f"type({v}) is not str or not {v}.isascii()"
        if shortest > 0 or longest < sys.maxsize:
            condition += f" or not {shortest} <= len({v}) <= {longest}"
        if choices is not None:
            condition += f" or {v} not in {bind(tuple(choices))}"
        return condition, v

    _INLINE[check] = inline
    return check


def _number(low: float | None, high: float | None) -> Check:
    least = -BIGGEST if low is None else max(-BIGGEST, low)
    most = BIGGEST if high is None else min(BIGGEST, high)

    def check(value: Any) -> Any:
        kind = type(value)  # exact types: a bool is not a number here
        if kind is float:
            return value if least <= value <= most else DECLINE  # nan compares false
        if kind is int:
            return float(value) if least <= value <= most else DECLINE
        return DECLINE

    def inline(v: str, bind: Callable[[Any], str]) -> tuple[str, str]:
        within = f"{bind(least)} <= {v} <= {bind(most)}"
        condition = f"(type({v}) is not float or not {within})"
        condition += f" and (type({v}) is not int or not {within})"
        return condition, f"{v} if type({v}) is float else float({v})"  # an int loads as a float

    _INLINE[check] = inline
    return check


def _flat_object(longest: int, key: Check | None) -> Check:
    """An object of ASCII names (each passing ``key``) and plain values: itself, or a copy
    when the field declares its keys (marshmallow then builds a new object)."""

    def check(value: Any) -> Any:
        if type(value) is not dict or len(value) > longest:
            return DECLINE
        for name, item in value.items():
            if type(name) is not str or not name.isascii():
                return DECLINE
            if key is not None and key(name) is DECLINE:
                return DECLINE
            if type(item) is str:
                if not item.isascii():
                    return DECLINE
            elif type(item) not in PLAIN_SCALARS:
                return DECLINE
        return value if key is None else dict(value)

    return check


def _list_of(inner: Check, shortest: int, longest: int) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not list or not shortest <= len(value) <= longest:
            return DECLINE
        loaded = [inner(item) for item in value]
        return DECLINE if any(item is DECLINE for item in loaded) else loaded

    return check


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else DECLINE


def _object_of(inner: Check, longest: int) -> Check:
    """An object of ASCII names whose values each pass ``inner``, loaded as a new object."""

    def check(value: Any) -> Any:
        if type(value) is not dict or len(value) > longest:
            return DECLINE
        loaded = {}
        for name, item in value.items():
            if type(name) is not str or not name.isascii():
                return DECLINE
            loaded[name] = checked = inner(item)
            if checked is DECLINE:
                return DECLINE
        return loaded

    return check


def compile_field(field: fields.Field) -> Check:
    """The fast check of one declared field, or :class:`NotCompilable`."""
    low, high, choices = _bounds(field)
    types = field.metadata.get("type", ())
    longest = sys.maxsize if high is None else int(high)
    if isinstance(field, fields.Dict):
        if low or (field.key_field is not None and field.value_field is not None):
            raise NotCompilable(f"a minimum length, or both keys and values, on {field!r}")
        if field.value_field is None:
            key = None if field.key_field is None else compile_field(field.key_field)
            return _flat_object(longest, key)
        return _object_of(compile_field(field.value_field), longest)
    if isinstance(field, fields.List):
        return _list_of(compile_field(field.inner), low or 0, longest)
    if isinstance(field, fields.Boolean) and not field.validators:
        return _boolean
    if isinstance(field, fields.String):
        if getattr(field, "empty_is_none", False):
            # "" loads as None there (no unit): the fast path leaves it to the schema.
            return _string(max(low or 0, 1), high, choices)
        return _string(low, high, choices)
    if choices is None and (isinstance(field, fields.Float) or "number" in types):
        # A documented minimum or maximum (the OpenAPI one) bounds the fast path too.
        low = _tighter(low, field.metadata.get("minimum"), max)
        high = _tighter(high, field.metadata.get("maximum"), min)
        return _number(low, high)
    raise NotCompilable(f"field {field!r}")


def _no_hook(data: dict[str, Any], many: bool) -> dict[str, Any]:
    return data


class FastLoader:
    """``schema.load`` for plain bodies, or None: compiled once per schema."""

    def __init__(self, schema: Schema) -> None:
        if schema.unknown not in (EXCLUDE, RAISE):
            raise NotCompilable("a schema that keeps unknown fields")
        hooks = {tag: names for tag, names in schema._hooks.items() if names}
        posts = hooks.pop("post_load", [])
        if hooks or len(posts) > 1 or any(p[1] or p[2].get("pass_original") for p in posts):
            raise NotCompilable(f"hooks other than one post_load: {schema._hooks}")
        self._build: Callable[..., Any] = getattr(schema, posts[0][0]) if posts else _no_hook
        self._schema_name = type(schema).__name__
        # RAISE: a field the schema does not know is its error to report.
        self._known = (
            None
            if schema.unknown == EXCLUDE
            else frozenset(field.data_key or name for name, field in schema.load_fields.items())
        )
        self._fields = tuple(
            (
                field.data_key or name,
                field.attribute or name,
                compile_field(field),
                field.required,
                field.allow_none,
                field.load_default,
            )
            for name, field in schema.load_fields.items()
        )
        # The loaded object when every field is plain; None to ask the full schema.
        self.load: Callable[[Mapping[str, Any]], Any] = self._generate()

    def _generate(self) -> Callable[[Mapping[str, Any]], Any]:
        """``load``, written out field by field."""
        namespace: dict[str, Any] = {
            "missing": missing,
            "DECLINE": DECLINE,
            "ValidationError": ValidationError,
            "build": self._build,
            "known": self._known,
        }

        def bind(constant: Any) -> str:
            name = f"c{len(namespace)}"
            namespace[name] = constant
            return name

        lines = ["def load(raw):"]
        if self._known is not None:
            lines.append("    if not known.issuperset(raw): return None")
        lines.append("    data = {}")
        for key, attribute, check, required, allow_none, default in self._fields:
            k, a = bind(key), bind(attribute)
            if required:  # a subscript is cheaper than .get(); a missing one declines
                lines.append("    try:")
                lines.append(f"        value = raw[{k}]")
                lines.append("    except KeyError:")
                lines.append("        return None")
                lines.append("    if value is None:")
                lines.append(
                    "        return None" if not allow_none else f"        data[{a}] = None"
                )
                _add_check(lines, check, a, bind)
                continue
            lines.append(f"    value = raw.get({k}, missing)")
            lines.append("    if value is missing:")
            if default is missing:
                lines.append("        pass")
            elif callable(default):
                lines.append(f"        data[{a}] = {bind(default)}()")
            else:
                lines.append(f"        data[{a}] = {bind(default)}")
            lines.append("    elif value is None:")
            lines.append("        return None" if not allow_none else f"        data[{a}] = None")
            _add_check(lines, check, a, bind)
        lines.append("    try:")
        lines.append("        return build(data, many=False)")
        lines.append("    except ValidationError:")  # the hook's own checks (the clock)
        lines.append("        return None")
        exec(compile("\n".join(lines), f"<fast loader of {self._schema_name}>", "exec"), namespace)
        load: Callable[[Mapping[str, Any]], Any] = namespace["load"]
        return load


def _add_check(lines: list[str], check: Check, attribute: str, bind: Callable[[Any], str]) -> None:
    """The ``elif``/``else`` branches that check a present, non-null ``value`` and load it."""
    inline = _INLINE.get(check)
    if inline is not None:
        declines, loaded = inline("value", bind)
        lines.append(f"    elif {declines}:")
        lines.append("        return None")
        lines.append("    else:")
        lines.append(f"        data[{attribute}] = {loaded}")
    else:
        lines.append("    else:")
        lines.append(f"        value = {bind(check)}(value)")
        lines.append("        if value is DECLINE: return None")
        lines.append(f"        data[{attribute}] = value")
