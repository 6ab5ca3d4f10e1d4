"""Server-drawn SVG: the cumulative relative lift of a metric per day, with its band.

Pure functions from numbers to an SVG string: axes with percentage ticks, a zero line, a band
polygon and a line path per variant, date labels, and a ``<title>``/``<desc>`` for screen
readers. Every piece of text is escaped. No JavaScript, nothing fetched.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from xp.reports.formatting import is_number, percent
from xp.results.document import SeriesPoint

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MAX_DATE_LABELS = 6


@dataclass(frozen=True, slots=True)
class LiftPoint:
    """One day's lift; an ``insufficient`` day has no numbers and breaks the line."""

    day: dt.date
    estimate: float | None
    low: float | None
    high: float | None
    insufficient: bool = False


@dataclass(frozen=True, slots=True)
class LiftSeries:
    """One variant's cumulative lift against the control, day by day."""

    label: str
    points: tuple[LiftPoint, ...]


@dataclass(frozen=True, slots=True)
class Frame:
    """Where the plot sits in the SVG and how data maps onto it."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    first: dt.date
    last: dt.date
    y_min: float
    y_max: float

    def x(self, day: dt.date) -> float:
        span = (self.last - self.first).days
        if span == 0:
            return (self.left + self.right) / 2
        return self.left + (day - self.first).days / span * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y_min) / (self.y_max - self.y_min) * (
            self.bottom - self.top
        )


def lift_series(series: Iterable[SeriesPoint]) -> list[LiftSeries]:
    """The results document's ``series`` points grouped by variant, in date order."""
    by_variant: dict[str, list[LiftPoint]] = {}
    for entry in series:
        relative = entry.relative
        day = dt.date.fromisoformat(entry.date)
        if entry.reason:  # insufficient data: no number to draw (stats/sufficiency.py)
            by_variant.setdefault(entry.variant, []).append(LiftPoint(day, None, None, None, True))
            continue
        by_variant.setdefault(entry.variant, []).append(
            LiftPoint(
                day,
                _finite(relative.estimate),
                _finite(relative.ci_low),
                _finite(relative.ci_high),
            )
        )
    return [
        LiftSeries(variant, tuple(sorted(points, key=lambda p: p.day)))
        for variant, points in by_variant.items()
    ]


def lift_chart(
    series: Sequence[LiftSeries],
    *,
    title: str,
    description: str = "",
    chart_id: str = "lift-chart",
    width: int = 560,
    height: int = 280,
) -> str:
    """An SVG of each series' estimate as a line over its band, with a zero line."""
    ident = escape(chart_id)
    legend = len(series) > 1
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="system-ui, sans-serif" '
        f'font-size="12">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description or _describe(series))}</desc>'
    )
    points = [p for s in series for p in s.points]
    values = [v for p in points for v in (p.estimate, p.low, p.high) if v is not None]
    if not points or all(p.insufficient for p in points):
        message = "Insufficient data yet" if points else "No daily data yet"
        return (
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'fill="#555">{message}</text></svg>'
        )
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]))
    frame = Frame(
        width=width,
        height=height,
        left=58,
        right=width - 30,
        top=14 if not legend else 34,
        bottom=height - 36,
        first=min(p.day for p in points),
        last=max(p.day for p in points),
        y_min=ticks[0],
        y_max=ticks[-1],
    )
    parts = [head, _y_axis(frame, ticks), _x_axis(frame, sorted({p.day for p in points}))]
    for index, one in enumerate(series):
        parts.append(_series(frame, one, PALETTE[index % len(PALETTE)]))
    parts.append(
        f'<line class="zero" x1="{frame.left}" x2="{frame.right}" y1="{_r(frame.y(0))}" '
        f'y2="{_r(frame.y(0))}" stroke="#222" stroke-width="1.2" stroke-dasharray="5 3"/>'
    )
    if legend:
        parts.append(_legend(frame, series))
    parts.append("</svg>")
    return "".join(parts)


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2, 2.5 or 5 times a power of 10."""
    if high - low <= 0:
        low, high = low - 0.01, high + 0.01
    raw = (high - low) / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    count = round((last - first) / step)
    return [round(first + i * step, 12) for i in range(count + 1)]


def _y_axis(frame: Frame, ticks: Sequence[float]) -> str:
    step = (ticks[1] - ticks[0]) * 100 if len(ticks) > 1 else 1.0
    # As few decimals as show the step exactly: 20%, 2.5%, 0.05%.
    digits = next((d for d in range(4) if abs(round(step, d) - step) < 1e-9), 4)
    parts = ['<g class="y-axis" fill="#444">']
    for tick in ticks:
        y = _r(frame.y(tick))
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{y}" y2="{y}" stroke="#e3e3e3"/>'
            f'<text x="{frame.left - 6}" y="{y}" dy="0.32em" text-anchor="end">'
            f"{escape(percent(tick, digits, signed=tick != 0))}</text>"
        )
    parts.append(
        f'<text x="12" y="{_r((frame.top + frame.bottom) / 2)}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_r((frame.top + frame.bottom) / 2)})">relative lift</text>'
    )
    parts.append("</g>")
    return "".join(parts)


def _x_axis(frame: Frame, days: Sequence[dt.date]) -> str:
    shown = list(days)
    if len(days) > MAX_DATE_LABELS:
        # Every step-th day from the first, and always the last (the latest result).
        step = math.ceil((len(days) - 1) / (MAX_DATE_LABELS - 1))
        shown = list(days[::step])
        if shown[-1] != days[-1]:
            if (days[-1] - shown[-1]).days < (shown[-1] - shown[-2]).days:
                shown.pop()
            shown.append(days[-1])
    parts = [
        '<g class="x-axis" fill="#444">',
        f'<line x1="{frame.left}" x2="{frame.right}" y1="{frame.bottom}" y2="{frame.bottom}" '
        f'stroke="#888"/>',
    ]
    for day in shown:
        x = _r(frame.x(day))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{frame.bottom}" y2="{frame.bottom + 4}" stroke="#888"/>'
            f'<text x="{x}" y="{frame.bottom + 18}" text-anchor="middle">'
            f"{escape(f'{day:%b} {day.day}')}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _series(frame: Frame, series: LiftSeries, color: str) -> str:
    label = escape(series.label)
    parts = [f'<g class="series" data-variant="{label}">']
    for run in _runs(series.points, lambda p: p.low is not None and p.high is not None):
        upper = [(frame.x(p.day), frame.y(p.high)) for p in run if p.high is not None]
        lower = [(frame.x(p.day), frame.y(p.low)) for p in reversed(run) if p.low is not None]
        if len(run) == 1:  # a single day: a vertical bar instead of a zero-width polygon
            (x, y1), (_, y2) = upper[0], lower[0]
            parts.append(
                f'<rect class="band" x="{_r(x - 3)}" y="{_r(y1)}" width="6" '
                f'height="{_r(max(y2 - y1, 0.5))}" fill="{color}" fill-opacity="0.2"/>'
            )
            continue
        polygon = " ".join(f"{_r(x)},{_r(y)}" for x, y in upper + lower)
        parts.append(
            f'<polygon class="band" points="{polygon}" fill="{color}" fill-opacity="0.2"/>'
        )
    subpaths = []
    for run in _runs(series.points, lambda p: p.estimate is not None):
        coords = [(frame.x(p.day), frame.y(p.estimate)) for p in run if p.estimate is not None]
        subpaths.append(
            " ".join(f"{'M' if i == 0 else 'L'}{_r(x)},{_r(y)}" for i, (x, y) in enumerate(coords))
        )
    if subpaths:
        parts.append(
            f'<path class="line" d="{" ".join(subpaths)}" fill="none" stroke="{color}" '
            f'stroke-width="2.2" stroke-linejoin="round"/>'
        )
    for point in series.points:
        if point.insufficient:  # a hollow mark on the zero line, no number
            parts.append(
                f'<circle class="insufficient" cx="{_r(frame.x(point.day))}" '
                f'cy="{_r(frame.y(0))}" r="3" fill="#fff" stroke="#888">'
                f"<title>{label} {point.day.isoformat()}: insufficient data</title></circle>"
            )
    last = next((p for p in reversed(series.points) if p.estimate is not None), None)
    if last is not None and last.estimate is not None:
        parts.append(
            f'<circle cx="{_r(frame.x(last.day))}" cy="{_r(frame.y(last.estimate))}" r="3.5" '
            f'fill="{color}"><title>{label} {last.day.isoformat()}: '
            f"{escape(percent(last.estimate))}</title></circle>"
        )
    parts.append("</g>")
    return "".join(parts)


def _legend(frame: Frame, series: Sequence[LiftSeries]) -> str:
    parts = ['<g class="legend" fill="#222">']
    x = frame.left
    for index, one in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{_r(x)}" y="10" width="14" height="10" fill="{color}"/>'
            f'<text x="{_r(x + 19)}" y="19">{escape(one.label)}</text>'
        )
        x += 30 + 7.5 * len(one.label)
    parts.append("</g>")
    return "".join(parts)


def _describe(series: Sequence[LiftSeries]) -> str:
    sentences = []
    for one in series:
        known = [p for p in one.points if p.estimate is not None]
        insufficient = sum(p.insufficient for p in one.points)
        if not known:
            sentences.append(
                f"{one.label}: insufficient data yet."
                if insufficient
                else f"{one.label}: no estimate yet."
            )
            continue
        last = known[-1]
        band = (
            f" ({percent(last.low)} to {percent(last.high)})"
            if last.low is not None and last.high is not None
            else ""
        )
        sentences.append(
            f"{one.label}: {percent(last.estimate)}{band} on {last.day.isoformat()}, "
            f"{len(known)} days from {known[0].day.isoformat()}."
        )
        if insufficient:
            sentences.append(f"{one.label}: insufficient data on {insufficient} days.")
    return " ".join(sentences)


def _runs(points: Sequence[LiftPoint], keep: Any) -> list[list[LiftPoint]]:
    """Consecutive points that pass ``keep``: a missing day breaks the line and the band."""
    runs: list[list[LiftPoint]] = []
    current: list[LiftPoint] = []
    for point in points:
        if keep(point):
            current.append(point)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _finite(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _r(value: float) -> str:
    """A coordinate with one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
