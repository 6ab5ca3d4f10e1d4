"""An experiment's dates as the results show them: the planned window and the actual days.

The planned window is the definition's ``[start, end)`` (UTC instants). The actual days are
the first and last UTC days on which units were first exposed (``ExperimentData.days``).
Days running count from the first exposure (00:00 UTC of its day, or the planned start when
that is later) up to the report's time, the planned end, or for an experiment no longer
running the end of its last exposure day, whichever comes first; never below 0, and none
before any exposure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from xp.definitions.model import Definition
from xp.store.model import ExperimentData

DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Dates:
    start: str | None  # planned, ISO 8601 UTC
    end: str | None  # planned, exclusive
    first_exposure_day: str | None
    last_exposure_day: str | None
    days_running: float | None


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def experiment_dates(definition: Definition, data: ExperimentData, now: dt.datetime) -> Dates:
    days = sorted(day for day, piece in data.days.items() if any(piece.units.values()))
    first, last = (days[0], days[-1]) if days else (None, None)
    running: float | None = None
    if first is not None:
        # Running means exposing: a planned start weeks before the first unit is not running
        # time (the planned start is shown beside it, in the window).
        opened = dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)
        if definition.start is not None:
            opened = max(opened, definition.start)
        closed = now.astimezone(dt.UTC)
        if definition.end is not None:
            closed = min(closed, definition.end)
        if definition.status != "running" and last is not None:
            closed = min(closed, dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC) + DAY)
        running = round(max(0.0, (closed - opened) / DAY), 1)
    return Dates(iso(definition.start), iso(definition.end), first, last, running)
