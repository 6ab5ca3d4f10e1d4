"""How numbers and codes read to people, shared by the Markdown and HTML renderers."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any, Protocol

from xp.definitions.model import METRIC_TRAITS
from xp.results.document import Comparison, ExperimentInfo, MetricResult

MISSING = "—"

DECISIONS = {
    "ship": "Ship",
    "no_ship": "Don't ship",
    "keep_running": "Keep running",
    "guardrail_breached": "Guardrail breached",
    "srm_alarm": "Sample ratio mismatch",
    "insufficient_data": "Insufficient data",
    "shipped": "Shipped",  # the experiment list: the status wins over the data's decision
    "stopped": "Stopped",
    "not_started": "Not started",  # a draft
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


def share(value: Any) -> str:
    """A share of a whole in whole percent; ``<1%`` below one percent, where ``0%`` would read
    as nothing at all."""
    if not is_number(value):
        return MISSING
    return "<1%" if 0 < value < 0.01 else percent(value, 0, signed=False)


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


# After a corrected p-value of the absolute lift, in a column of relative-lift p-values; the
# reports' footnotes say what it means (ABSOLUTE_NOTE). One character: the tables are tight.
ABSOLUTE_MARK = "†"
ABSOLUTE_NOTE = (
    f"{ABSOLUTE_MARK} marks the absolute lift's p-value where the relative lift goes untested "
    "(its control mean too imprecise to divide by)."
)


def tests_absolute(comparison: Any) -> bool:
    """Whether a comparison's corrected p-value is the absolute lift's (the relative one went
    untested: the control mean too imprecise to divide by, ``xp/stats/sufficiency.py``)."""
    return is_number(comparison.p_value_corrected) and comparison.relative.p_value is None


def corrected_p(comparison: Any) -> str:
    """A comparison's corrected p-value, for a column of relative-lift p-values, marked
    :data:`ABSOLUTE_MARK` when it tests the absolute lift (:func:`tests_absolute`)."""
    text = p_value(comparison.p_value_corrected)
    return text + ABSOLUTE_MARK if tests_absolute(comparison) else text


def absolute_note(comparisons: Iterable[Any]) -> str:
    """:data:`ABSOLUTE_NOTE` for a table with a marked p-value, else nothing: a footnote for
    a mark the table does not show would only puzzle its reader."""
    return ABSOLUTE_NOTE if any(tests_absolute(c) for c in comparisons) else ""


def p_clause(value: Any) -> str:
    """``p = 0.441`` or ``p < 0.001``."""
    text = p_value(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def decimal(value: Any, digits: int = 1) -> str:
    """``5000.0`` as ``5,000.0``: expected counts are not whole numbers."""
    return f"{value:,.{digits}f}" if is_number(value) else MISSING


def style(metric: MetricResult) -> str:
    """How a metric's values read: ``percent``, ``number``, ``duration`` or ``currency:USD``.

    Without a ``format`` in the definition a rate reads as a percentage, anything else as a
    number.
    """
    if metric.format == "currency" and metric.currency:
        return f"currency:{metric.currency}"
    if metric.format:
        return metric.format
    return _style(metric.kind)


def _style(style_or_kind: str | None) -> str:
    """A style, or a metric kind (callers that know only the kind) turned into its default."""
    if style_or_kind in METRIC_TRAITS:
        return "percent" if style_or_kind in RATE_KINDS else "number"
    return style_or_kind or "number"


def mean(value: Any, style_or_kind: str) -> str:
    """A variant's mean in the metric's style (a rate as a percentage by default)."""
    shown = _style(style_or_kind)
    if shown == "percent":
        return percent(value, 2, signed=False)
    if shown.startswith("currency:"):
        return money(value, shown.removeprefix("currency:"))
    if shown == "duration":
        return duration(value)
    return number(value)


def absolute(value: Any, style_or_kind: str) -> str:
    """An absolute lift: percentage points for a percent style, else in the metric's unit."""
    shown = _style(style_or_kind)
    if shown == "percent":
        return f"{value * 100:+.2f} pp" if is_number(value) else MISSING
    if shown.startswith("currency:"):
        return money(value, shown.removeprefix("currency:"), signed=True)
    if shown == "duration":
        return duration(value, signed=True)
    return number(value, signed=True)


def money(value: Any, code: str, signed: bool = False) -> str:
    """``8.4166`` in USD as ``8.42 USD``; amounts under a cent keep four significant digits."""
    if not is_number(value):
        return MISSING
    sign = "+" if signed else ""
    small = abs(value) < 0.01 and value != 0
    text = f"{value:{sign}.4g}" if small or abs(value) >= 1e9 else f"{value:{sign},.2f}"
    return f"{text} {code}"


def duration(value: Any, signed: bool = False) -> str:
    """Seconds as ``42.5 s``, ``3 min 05 s``, ``2 h 03 min`` or ``4 d 07 h``."""
    if not is_number(value):
        return MISSING
    sign = (
        ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    )
    seconds = abs(value)
    if seconds < 59.95:  # what would not round to "60.0 s"
        return f"{sign}{seconds:.3g} s"
    # Round once at the unit shown, so 3599.7 s reads "1 h 00 min", not "60 min 00 s".
    if round(seconds) < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{sign}{minutes} min {rest:02d} s"
    if round(seconds / 60) < 1440:
        hours, rest = divmod(round(seconds / 60), 60)
        return f"{sign}{hours} h {rest:02d} min"
    if seconds >= 86_400 * 10_000:  # a huge value stays one short figure
        return f"{sign}{seconds / 86_400:.4g} d"
    days, rest = divmod(round(seconds / 3600), 24)
    return f"{sign}{days:,} d {rest:02d} h"


def interval(
    estimate: Interval | None, kind: str | None = None, reason_code: str | None = None
) -> str:
    """``+4.3% (-6.6% to +15.1%)``; ``kind`` (a style or a metric kind) given means an absolute
    lift in that style.

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


def band_name(method: str) -> str:
    """What a method's interval is called: a credible interval is not a confidence one."""
    if method == "sequential":
        return "always-valid confidence sequence"
    return "credible interval" if method == "bayesian" else "confidence interval"


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


def in_window_note(metric: MetricResult) -> str:
    """The sentence on units whose window may still be open (docs/results.md), or ``""``."""
    waiting = metric.units_in_window
    if not waiting or not any(waiting.values()):
        return ""
    per_variant = ", ".join(f"{v} {count(n)}" for v, n in waiting.items())
    return (
        f"Still inside their window: up to {count(sum(waiting.values()))} units "
        f"({per_variant}) may still convert; they count as non-converters until then, which "
        "pulls the lift towards 0."
    )
