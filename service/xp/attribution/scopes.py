"""The slices a unit's statistics are kept in: overall, its first exposure's UTC day, segments."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence

from xp.definitions.model import DAY_SECONDS

MAX_SEGMENT_VALUE = 128
NO_SEGMENT_VALUE = "(none)"

# A slice of the exposed units: ("all", "", ""), ("day", "", "2026-11-01") or
# ("segment", "country", "US").
Scope = tuple[str, str, str]
ALL: Scope = ("all", "", "")


def segment_value(value: object) -> str:
    """An attribute as a segment value: text, ``"(none)"`` when missing or empty."""
    if value is None or value == "":
        return NO_SEGMENT_VALUE
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_SEGMENT_VALUE]


def day_of(ts: float) -> int:
    """Days since the epoch of ``ts`` (UTC); ``lua/lib.lua`` computes the same, the same way."""
    return math.floor(ts / DAY_SECONDS)


def day_label(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def unit_scopes(ts: float, segments: Sequence[tuple[str, str]]) -> list[Scope]:
    """Every slice a unit first exposed at ``ts`` with these segment values belongs to."""
    return [
        ALL,
        ("day", "", day_label(day_of(ts))),
        *(("segment", name, value) for name, value in segments),
    ]
