"""Server-drawn SVG: the cumulative relative lift of a metric per day, with its band.

Pure functions from numbers to an SVG string: a visible title, a legend, axes with percentage
ticks and labels, a zero line, a band polygon, a line and a mark per drawn day (its hover
``<title>`` the exact numbers) per variant, and a ``<title>``/``<desc>`` for screen readers.
A day with too little data (``stats/sufficiency.py``, the rule results use) is not drawn and
does not scale the axis. Every piece of text is escaped. No JavaScript, nothing fetched.
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
# A relative lift beyond this (a million percent: a control mean near zero) is not drawn.
MAX_DRAWN = 1e4
EMPTY_HEIGHT = 52  # a chart with nothing to draw: its title and one line of text


@dataclass(frozen=True, slots=True)
class LiftPoint:
    """One day's lift; an ``insufficient`` day has no numbers and breaks the line."""

    day: dt.date
    estimate: float | None
    low: float | None
    high: float | None
    insufficient: bool = False
    units: int | None = None
    control_units: int | None = None


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
            by_variant.setdefault(entry.variant, []).append(
                LiftPoint(day, None, None, None, True, entry.units, entry.control_units)
            )
            continue
        by_variant.setdefault(entry.variant, []).append(
            LiftPoint(
                day,
                _finite(relative.estimate),
                _finite(relative.ci_low),
                _finite(relative.ci_high),
                units=entry.units,
                control_units=entry.control_units,
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
    band: str = "interval",
    width: int = 560,
    height: int = 300,
) -> str:
    """An SVG of each series' estimate as a line over its band, with a zero line.

    Only days with a result are drawn; the y-axis covers what is drawn (and zero when it is
    near); an insufficient day leaves a gap, counted under the x-axis. ``band`` names the
    interval in the hover titles ("95% CI").
    """
    ident = escape(chart_id)
    points = [p for s in series for p in s.points]
    values = [v for p in points for v in (p.estimate, p.low, p.high) if v is not None]
    domain = y_domain(values)
    # Nothing to draw: the title and one line of text, not a tall empty frame.
    shown_height = EMPTY_HEIGHT if domain is None else height
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart{" empty" if domain is None else ""}"'
        f' id="{ident}" viewBox="0 0 {width} {shown_height}" width="{width}" '
        f'height="{shown_height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="system-ui, sans-serif" '
        f'font-size="12">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description or _describe(series))}</desc>'
        f'<text class="heading" x="8" y="18" font-size="13" font-weight="600" fill="#222">'
        f"{escape(_shorten(title, width // 7))}</text>"
    )
    if domain is None:
        if not points:
            message = "No daily data yet."
        elif values:
            message = f"Lifts beyond ±{MAX_DRAWN * 100:,.0f}% are not drawn: see the numbers."
        else:
            message = "Too little data on every day so far to draw a lift."
        return f'{head}<text class="empty" x="8" y="40" fill="#555">{escape(message)}</text></svg>'
    ticks = nice_ticks(*domain)
    legend = _legend_rows(series, width - 16)
    labels = [_tick_label(t, ticks) for t in ticks]
    frame = Frame(
        width=width,
        height=height,
        left=30 + 8.5 * max(len(t) for t in labels),  # room for ticks and the axis label
        right=width - 24,  # half a date label past the last day
        top=34 + 18 * len(legend) + 6,
        bottom=height - 46,
        first=min(p.day for p in points),
        last=max(p.day for p in points),
        y_min=ticks[0],
        y_max=ticks[-1],
    )
    parts = [
        head,
        _legend(series, legend),
        _y_axis(frame, ticks, labels),
        _x_axis(frame, sorted({p.day for p in points}), sum(p.insufficient for p in points)),
    ]
    for index, one in enumerate(series):
        parts.append(_series(frame, one, PALETTE[index % len(PALETTE)], band))
    if ticks[0] <= 0 <= ticks[-1]:
        parts.append(
            f'<line class="zero" x1="{frame.left}" x2="{frame.right}" y1="{_r(frame.y(0))}" '
            f'y2="{_r(frame.y(0))}" stroke="#222" stroke-width="1.2" stroke-dasharray="5 3"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def y_domain(values: Sequence[float]) -> tuple[float, float] | None:
    """The y-range for ``values``: their range, widened to zero when zero is within one span of
    them (the reference line stays in sight without flattening the data), plus 5% each side.
    None when there is nothing to draw or a value is beyond :data:`MAX_DRAWN`."""
    if not values or max(abs(v) for v in values) > MAX_DRAWN:
        return None
    low, high = min(values), max(values)
    span = high - low
    if 0 < low <= span:
        low = 0.0
    elif -span <= high < 0:
        high = 0.0
    # A zero-width range (one day, a degenerate band) still needs a visible scale.
    pad = (high - low) * 0.05 or max(abs(high) * 0.05, 0.005)
    return low - pad, high + pad


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


def _tick_label(tick: float, ticks: Sequence[float]) -> str:
    step = (ticks[1] - ticks[0]) * 100 if len(ticks) > 1 else 1.0
    # As few decimals as show the step exactly: 20%, 2.5%, 0.05%.
    digits = next((d for d in range(4) if abs(round(step, d) - step) < 1e-9), 4)
    return f"{tick * 100:{'+' if tick else ''},.{digits}f}%"


def _y_axis(frame: Frame, ticks: Sequence[float], labels: Sequence[str]) -> str:
    parts = ['<g class="y-axis" fill="#444">']
    for tick, label in zip(ticks, labels, strict=True):
        y = _r(frame.y(tick))
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{y}" y2="{y}" stroke="#e3e3e3"/>'
            f'<text x="{frame.left - 6}" y="{y}" dy="0.32em" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    middle = _r((frame.top + frame.bottom) / 2)
    parts.append(
        f'<text class="axis-label" x="12" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 12 {middle})">relative lift vs control (%)</text>'
    )
    parts.append("</g>")
    return "".join(parts)


def _x_axis(frame: Frame, days: Sequence[dt.date], insufficient: int) -> str:
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
    label = "day of the look (UTC)"
    if insufficient:
        days_word = "day" if insufficient == 1 else "days"
        label += f"; {insufficient} {days_word} with too little data not drawn"
    parts.append(
        f'<text class="axis-label" x="{_r((frame.left + frame.right) / 2)}" '
        f'y="{frame.height - 6}" text-anchor="middle">{escape(label)}</text>'
    )
    parts.append("</g>")
    return "".join(parts)


def _series(frame: Frame, series: LiftSeries, color: str, band: str) -> str:
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
    drawn = [(p, p.estimate) for p in series.points if p.estimate is not None]
    for index, (point, estimate) in enumerate(drawn):  # hover titles: the exact numbers
        radius = 3.5 if index == len(drawn) - 1 else 2.5
        parts.append(
            f'<circle class="point" data-day="{point.day.isoformat()}" '
            f'cx="{_r(frame.x(point.day))}" cy="{_r(frame.y(estimate))}" r="{radius}" '
            f'fill="{color}"><title>{escape(point_title(series.label, point, band))}</title>'
            f"</circle>"
        )
    parts.append("</g>")
    return "".join(parts)


def point_title(label: str, point: LiftPoint, band: str) -> str:
    """``green, 2026-11-03: +4.26% (95% CI -6.57% to +15.09%); 498 vs 502 units``."""
    text = f"{label}, {point.day.isoformat()}: {percent(point.estimate, 2)}"
    if point.low is not None and point.high is not None:
        text += f" ({band} {percent(point.low, 2)} to {percent(point.high, 2)})"
    if point.units is not None and point.control_units is not None:
        text += f"; {point.units:,} vs {point.control_units:,} units in the control"
    return text


def _legend_rows(series: Sequence[LiftSeries], room: float) -> list[list[tuple[int, float]]]:
    """Each variant's (index, x) in rows that fit ``room`` pixels."""
    rows: list[list[tuple[int, float]]] = [[]] if series else []
    x = 8.0
    for index, one in enumerate(series):
        entry = 30 + 8 * len(one.label)  # 8 px a character: room for the phone's larger text
        if rows[-1] and x + entry > room:
            rows.append([])
            x = 8.0
        rows[-1].append((index, x))
        x += entry
    return rows


def _legend(series: Sequence[LiftSeries], rows: Sequence[Sequence[tuple[int, float]]]) -> str:
    parts = ['<g class="legend" fill="#222">']
    for row, entries in enumerate(rows):
        y = 30 + 18 * row
        for index, x in entries:
            color = PALETTE[index % len(PALETTE)]
            parts.append(
                f'<rect class="swatch" x="{_r(x)}" y="{y}" width="14" height="10" fill="{color}"/>'
                f'<text x="{_r(x + 19)}" y="{y + 9}">{escape(series[index].label)}</text>'
            )
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


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _finite(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _r(value: float) -> str:
    """A coordinate with one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
