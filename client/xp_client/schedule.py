"""An experiment's schedule: the window ``[start, end)`` in which it assigns, in UTC.

The one reading of ``start`` and ``end``, shared by the service's YAML schema, ``/v1/config``
and the SDK:

- a timestamp (``2026-11-01T09:00:00Z``, ``2026-11-01T10:00:00+01:00``; without a zone it is
  UTC) is that instant;
- a date (``2026-11-01``) is a whole UTC day: as ``start`` the window opens at 00:00 UTC of
  that day, as ``end`` the day is the last one in the window, which closes at 00:00 UTC of the
  next day (``end: 2026-12-31`` runs through 23:59:59.999 UTC on the 31st).

``end`` is exclusive: at the instant ``end`` the experiment has ended. The service turns
either form into the instant (``2027-01-01T00:00:00+00:00`` for ``end: 2026-12-31``), so the
config document and the results carry instants only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

NOT_STARTED = "not_started"
ENDED = "ended"


class ScheduleError(ValueError):
    """A ``start`` or ``end`` that is neither a date nor an ISO 8601 timestamp."""


def parse_instant(value: Any, *, is_end: bool = False) -> dt.datetime | None:
    """``value`` (None, a date, a datetime or an ISO 8601 string) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:  # a date alone is a whole day, so it is read as a date first
            value = dt.date.fromisoformat(text)
        except ValueError:
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ScheduleError(
                    "is not a date (2026-11-01) or an ISO 8601 time (2026-11-01T09:00:00Z)"
                ) from None
    try:
        if isinstance(value, dt.datetime):  # before dt.date: a datetime is a date too
            moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            return moment.astimezone(dt.UTC)
        if isinstance(value, dt.date):
            day = value + dt.timedelta(days=1) if is_end else value
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    except OverflowError:  # 9999-12-31 as an end, or a zone pushing year 1 out of range
        raise ScheduleError("is outside the years a schedule can name") from None
    raise ScheduleError(f"must be a date or an ISO 8601 time, got {type(value).__name__}")


def epoch(moment: dt.datetime | None) -> float | None:
    """Seconds since the epoch of ``moment`` (None stays None)."""
    return None if moment is None else moment.timestamp()


def window_reason(start: float | None, end: float | None, now: float) -> str | None:
    """``not_started`` before ``start``, ``ended`` from ``end`` on, None inside the window."""
    if start is not None and now < start:
        return NOT_STARTED
    if end is not None and now >= end:
        return ENDED
    return None


def judged_at(
    assigner: Callable[..., Any], clock: Callable[[], float]
) -> Callable[[Mapping[str, Any]], Any]:
    """``assigner`` judging its schedule at ``clock()`` (the SDK's ``clock``, when given)."""
    return lambda attributes: assigner(attributes, clock())
