"""How far an experiment has come (days left, traffic per day, the MDE reachable today), and
the definition's context the results page shows beside it.

The MDE is the primary metric's smallest relative change in its better direction (a rise, or
a drop for ``direction: decrease``) a fixed-horizon test would detect with 80% power at the
units each arm has now (``stats.power``, Bonferroni across treatments), from the control's
observed rate or mean and spread. ``None`` when it cannot be told: no primary metric, no
units, a rate of 0 or 1, or zero variance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from xp.definitions.model import METRIC_TRAITS, Definition
from xp.results.document import MetricResult
from xp.stats.power import mde_mean, mde_proportion
from xp.store.model import ExperimentData

DAY = dt.timedelta(days=1)
POWER = 0.8


def days_left(definition: Definition, now: dt.datetime) -> float | None:
    """Days until the planned end (0 once past it); ``None`` without an end or once stopped."""
    if definition.end is None or definition.status != "running":
        return None
    return round(max(0.0, (definition.end - now.astimezone(dt.UTC)) / DAY), 1)


CONTEXT = ("unit", "coverage", "targeting", "layer")


def context(definition: Definition) -> dict[str, Any]:
    """What the results page shows of the definition: who enters and what each arm gets."""
    config = definition.config
    shown = {name: config.get(name) for name in CONTEXT}
    shown["payloads"] = {v["key"]: v.get("payload") for v in config.get("variants", [])}
    return shown


def daily_units(data: ExperimentData) -> dict[str, int]:
    """Units first exposed on each UTC day, all arms together, oldest first."""
    return {day: int(sum(piece.units.values())) for day, piece in sorted(data.days.items())}


def primary_mde(
    metrics: Sequence[MetricResult], units: Mapping[str, int], alpha: float
) -> float | None:
    primary = next((m for m in metrics if m.role == "primary"), None)
    if primary is None or not primary.variants or len(units) < 2:
        return None
    control = primary.variants[0]
    n = min(units.values())
    if n < 2 or control.mean is None:
        return None
    try:
        if METRIC_TRAITS[primary.kind].proportion:
            decrease = primary.direction == "decrease"
            return mde_proportion(control.mean, n, alpha, POWER, len(units), decrease)
        if control.sd is None:
            return None
        return mde_mean(control.mean, control.sd, n, alpha, POWER, len(units))
    except ValueError:  # a rate of 0 or 1, a mean of 0, zero variance: no finite MDE
        return None
