"""Checks on single values that events and request bodies share: event times and text."""

from __future__ import annotations

import math

MAX_FUTURE_SECONDS = 300.0
MIN_TS = 946_684_800.0  # 2000-01-01T00:00:00Z
# Below 2**33 s (year 2242) a time in milliseconds is under 2**43, where a double's spacing is
# at most 2**-10: ``ts * 1000.0`` is then within 0.0005 of the exact product.
_FAST_MS_LIMIT = float(2**33)


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


def round_ms(ts: float) -> float:
    """``round(ts, 3)``, exactly, in a third of its time for any time since 1970.

    ``round`` with digits goes through a decimal conversion (~280 ns); this rounds the
    product in milliseconds, which is exact unless the product is within 0.001 of a half,
    and then leaves it to ``round``. An int divided by an int is correctly rounded, so
    ``ms / 1000`` is the double nearest the decimal result, as ``round`` returns.
    """
    if 0.0 < ts < _FAST_MS_LIMIT:  # false for nan
        scaled = ts * 1000.0
        ms = round(scaled)
        if -0.499 < scaled - ms < 0.499:
            return ms / 1000
    return round(ts, 3)


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
