"""Checks on single values that events and request bodies share: event times and text."""

from __future__ import annotations

import math

MAX_FUTURE_SECONDS = 300.0
MIN_TS = 946_684_800.0  # 2000-01-01T00:00:00Z


def ts_problem(ts: float, now: float) -> str | None:
    """Why ``ts`` cannot be an event time, or None."""
    if not math.isfinite(ts):
        return f"must be a finite number of seconds, got {ts!r}"
    if ts > now + MAX_FUTURE_SECONDS:
        hint = " (milliseconds? send seconds)" if ts > now * 100 else ""
        return f"{ts!r} is more than {MAX_FUTURE_SECONDS:.0f} s in the future{hint}"
    if ts < MIN_TS:
        return f"{ts!r} is before 2000-01-01"
    return None


def is_unicode_text(value: str) -> bool:
    """Whether ``value`` can be stored as UTF-8 (JSON's surrogate escapes can make strings
    that cannot)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
