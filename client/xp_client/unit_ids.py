"""The one canonical string form of a unit id, for hashing, logging, erasure and export.

A unit id reaches xp as a Python value (SDK) or a JSON value (service); both map it here:

- a string is itself, as is (no trimming, no case folding): ``"u-42"`` -> ``"u-42"``;
- an integer is its decimal digits: ``42`` -> ``"42"``, ``-7`` -> ``"-7"``;
- a float with an integral value is that integer: ``42.0`` -> ``"42"``, ``1e20`` ->
  ``"100000000000000000000"`` (JSON cannot tell ``42`` from ``42.0``, so they are one unit);
- any other finite float is its shortest round-trip decimal (Python's ``repr``): ``42.5`` ->
  ``"42.5"``;
- refused: ``None``, ``""``, booleans (``True == 1`` in Python, ``true`` in JSON: neither is
  an identity), NaN and infinities, anything longer than :data:`MAX_USER_ID` characters once
  mapped, and every other type (convert it yourself: ``str(uuid)``).

A string ``"42.0"`` stays ``"42.0"``: only numbers are normalised.
"""

from __future__ import annotations

import math
from typing import Any

MAX_USER_ID = 256


def canonical_unit_id(value: Any) -> str | None:
    """The canonical string of ``value``, or None when it cannot identify a unit."""
    cls = value.__class__
    if cls is str:
        text: str = value
    elif cls is int or (isinstance(value, int) and cls is not bool):
        text = str(int(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = str(int(value)) if value.is_integer() else repr(float(value))
    elif isinstance(value, str):  # a str subclass: its plain string
        text = str.__str__(value)
    else:
        return None
    if not text or len(text) > MAX_USER_ID:
        return None
    return text


def unit_id_problem(value: Any, name: str = "user_id") -> str | None:
    """Why ``value`` cannot identify a unit, or None; the message starts with ``name``
    (``""``: no subject, as a field's error message)."""
    if canonical_unit_id(value) is not None:
        return None
    if value is None or value == "":
        why = "is required: a non-empty string or a number"
    elif isinstance(value, bool):
        why = "must be a string or a number, not a boolean"
    elif isinstance(value, float) and not math.isfinite(value):
        why = f"must be a finite number, got {value!r}"
    elif isinstance(value, str | int | float):
        why = f"is longer than {MAX_USER_ID} characters"
    else:
        why = f"must be a string or a number, got {type(value).__name__}"
    return f"{name} {why}" if name else why
