"""How numbers and codes read to people, shared by the Markdown and HTML renderers."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Protocol

from xp.definitions.model import METRIC_TRAITS
from xp.results.document import Comparison, ExperimentInfo

MISSING = "—"

DECISIONS = {
    "ship": "Ship",
    "no_ship": "Don't ship",
    "keep_running": "Keep running",
    "guardrail_breached": "Guardrail breached",
    "srm_alarm": "Sample ratio mismatch",
    "insufficient_data": "Insufficient data",
}

# What a comparison with a reason shows in place of its numbers (stats/sufficiency.py).
INSUFFICIENT = "insufficient data"
REASONS = {"insufficient_data": INSUFFICIENT}

CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "none"}

DIAGNOSTICS = {
    "variant_mismatch": "later exposures with another variant (ignored: first exposure wins)",
    "before_exposure": "conversions before the unit's first exposure (not attributed)",
    "outside_window": "conversions outside the metric's window (not attributed)",
    "not_exposed": "conversions whose unit was not exposed in the grace period (not attributed)",
    "held": "conversions waiting for their unit's exposure (attributed if it comes in time)",
}

# Metrics whose per-unit value is 0 or 1: means read as rates, absolute lifts as points.
RATE_KINDS = frozenset(kind for kind, traits in METRIC_TRAITS.items() if traits.proportion)


class Interval(Protocol):
    """An estimate with its interval: a comparison's :class:`Estimate`, a series point's band."""

    @property
    def estimate(self) -> float | None: ...
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def count(value: Any) -> str:
    """``5012`` as ``5,012``."""
    return f"{value:,.0f}" if is_number(value) else MISSING


def percent(value: Any, digits: int = 1, signed: bool = True) -> str:
    """``0.0426`` as ``+4.3%``."""
    if not is_number(value):
        return MISSING
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def number(value: Any, signed: bool = False) -> str:
    """A metric value with four significant digits (``6.068``, ``0.0005199``, ``1.24e+06``)."""
    if not is_number(value):
        return MISSING
    return f"{value:{'+' if signed else ''}.4g}"


def p_value(value: Any) -> str:
    if not is_number(value):
        return MISSING
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}"


def p_clause(value: Any) -> str:
    """``p = 0.441`` or ``p < 0.001``."""
    text = p_value(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def decimal(value: Any, digits: int = 1) -> str:
    """``5000.0`` as ``5,000.0``: expected counts are not whole numbers."""
    return f"{value:,.{digits}f}" if is_number(value) else MISSING


def mean(value: Any, kind: str) -> str:
    """A variant's mean: a rate as a percentage, anything else as a number."""
    return percent(value, 2, signed=False) if kind in RATE_KINDS else number(value)


def absolute(value: Any, kind: str) -> str:
    """An absolute lift: in percentage points for rates."""
    if kind in RATE_KINDS:
        return f"{value * 100:+.2f} pp" if is_number(value) else MISSING
    return number(value, signed=True)


def interval(
    estimate: Interval | None, kind: str | None = None, reason_code: str | None = None
) -> str:
    """``+4.3% (-6.6% to +15.1%)``; ``kind`` given means an absolute lift of that metric kind.

    A comparison with a reason code (``insufficient_data``) shows the reason, never a number:
    its observed lift has no interval and supports no reading.
    """
    if reason_code:
        return reason(reason_code)
    if estimate is None:
        return MISSING

    def show(value: Any) -> str:
        return percent(value) if kind is None else absolute(value, kind)

    point = show(estimate.estimate)
    low, high = estimate.ci_low, estimate.ci_high
    if not (is_number(low) or is_number(high)):
        return point
    return f"{point} ({show(low)} to {show(high)})"


def ci_level(alpha: Any) -> str:
    """``0.05`` as ``95%``."""
    if not is_number(alpha):
        return "CI"
    return f"{(1 - alpha) * 100:g}%"


def decision(code: Any) -> str:
    return DECISIONS.get(str(code), str(code).replace("_", " "))


def reason(code: Any) -> str:
    return REASONS.get(str(code), str(code).replace("_", " ")) if code else ""


def correction(code: Any) -> str:
    return CORRECTIONS.get(str(code), str(code))


def significance(comparison: Comparison) -> str:
    """``yes``, ``no``, or why there is no answer."""
    if comparison.reason:
        return reason(comparison.reason)
    return "yes" if comparison.significant else "no"


def dates(experiment: ExperimentInfo) -> str:
    """The planned window (a whole-day end shown as its last day), then the actual days."""
    start, end = experiment.start, experiment.end
    parts = [
        f"{moment(start) or '?'} to {moment(end, is_end=True) or 'ongoing'}"
        if start or end
        else "not set"
    ]
    if experiment.days_running is not None:
        parts.append(f"{experiment.days_running:g} days running")
    first, last = experiment.first_exposure_day, experiment.last_exposure_day
    if first:
        parts.append(
            f"exposures {first} to {last}" if last and last != first else f"exposures {first}"
        )
    return " · ".join(parts)


def moment(text: str | None, is_end: bool = False) -> str | None:
    """An ISO instant as a date when it falls on 00:00 UTC (an exclusive end: the day before)."""
    if not text or len(text) == 10:  # a date already (documents saved before instants)
        return text
    at = dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    if at.time() == dt.time(0):
        return (at.date() - dt.timedelta(days=1 if is_end else 0)).isoformat()
    return at.strftime("%Y-%m-%d %H:%M UTC")
