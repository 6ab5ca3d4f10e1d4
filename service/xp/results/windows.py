"""Units still inside a metric's window: their conversions may still come.

A metric with ``window_days`` counts a unit as a non-converter until it converts; a unit
exposed yesterday with a 7-day window simply has not had its 7 days yet, and counting it as
a zero pulls the lift towards 0 while the experiment runs (GrowthBook calls these
"in-progress conversions"). The store keeps no per-unit exposure time in its statistics, but
it does keep the units first exposed per UTC day (``ExperimentData.days``), so this counts,
per variant, the units of every day whose window may not have closed yet: an upper bound at
day granularity (a unit exposed at 23:59 closes its window almost a day after one exposed at
00:00 of the same day). After the experiment's planned end no window is open: conversions
from then on are not attributed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from xp.definitions.model import Definition, Metric
from xp.store.model import ExperimentData

DAY = dt.timedelta(days=1)


def units_in_window(
    definition: Definition, metric: Metric, data: ExperimentData, now: dt.datetime
) -> Mapping[str, int] | None:
    """Variant -> units whose ``metric`` window may still be open at ``now``; None for a
    metric without a window (it runs to the end of the experiment)."""
    if metric.window is None:
        return None
    counts = dict.fromkeys(definition.variant_keys, 0)
    if definition.end is not None and now >= definition.end:
        return counts
    window_end = dt.timedelta(days=metric.window[1])
    for label, day in data.days.items():
        day_start = dt.datetime.fromisoformat(label).replace(tzinfo=dt.UTC)
        if day_start + DAY + window_end > now:  # its last unit's window closes after now
            for variant, n in day.units.items():
                if variant in counts:
                    counts[variant] += int(n)
    return counts
