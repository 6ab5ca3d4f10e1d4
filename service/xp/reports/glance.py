"""The at-a-glance reading of a comparison: a verdict, its words, and an interval bar in SVG.

A verdict reads the metric's ``direction``: a significant drop of a "decrease is better"
metric is ``better``. The bar is a server-drawn SVG (no script): the relative interval, the
point estimate and the zero line on a scale shared by one table, so rows compare by eye.
Every piece of text is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from xp.reports.formatting import Interval, is_number, percent
from xp.results.document import Comparison

BETTER = "better"
WORSE = "worse"
INCONCLUSIVE = "inconclusive"
INSUFFICIENT = "insufficient"

VERDICT_WORDS = {
    BETTER: "significantly better",
    WORSE: "significantly worse",
    INCONCLUSIVE: "inconclusive",
    INSUFFICIENT: "insufficient data",
}

# The bar's drawing box (user units; CSS scales the SVG to its cell).
WIDTH = 120.0
HEIGHT = 18.0
PAD = 6.0
MIN_SPAN = 1e-6  # a table whose intervals are all zero-width still gets a finite scale


def verdict(comparison: Comparison, direction: str) -> str:
    """``better``, ``worse``, ``inconclusive`` or ``insufficient`` for this comparison."""
    if comparison.reason:
        return INSUFFICIENT
    if not comparison.significant:
        return INCONCLUSIVE
    lift = _finite(comparison.relative.estimate)
    if lift is None:
        lift = _finite(comparison.absolute.estimate)
    if lift is None or lift == 0:
        return INCONCLUSIVE
    improves = lift > 0 if direction != "decrease" else lift < 0
    return BETTER if improves else WORSE


def scale(comparisons: Iterable[Comparison]) -> float:
    """The half-width of the shared axis: the largest finite bound of any relative interval."""
    bounds = [
        abs(v)
        for c in comparisons
        if not c.reason
        for v in map(_finite, (c.relative.estimate, c.relative.ci_low, c.relative.ci_high))
        if v is not None
    ]
    return max([MIN_SPAN, *bounds]) * 1.05


def words(comparison: Comparison, direction: str, level: str) -> str:
    """The bar in a sentence, for screen readers and for the bar's hover title."""
    code = verdict(comparison, direction)
    if code == INSUFFICIENT:
        return "Relative lift: insufficient data"
    rel = comparison.relative
    text = f"Relative lift {percent(rel.estimate)}"
    if is_number(rel.ci_low) and is_number(rel.ci_high):
        text += f", {level} interval {percent(rel.ci_low)} to {percent(rel.ci_high)}"
    better = "lower" if direction == "decrease" else "higher"
    return f"{text}; {VERDICT_WORDS[code]} ({better} is better)"


def interval_bar(comparison: Comparison, direction: str, half_width: float, label: str) -> str:
    """An inline SVG: the zero line, the interval as a bar, the estimate as a tick.

    ``half_width`` is :func:`scale` of the table; ``label`` is :func:`words` (the hover title;
    the SVG itself is hidden from screen readers, which read the same words beside it).
    """
    code = verdict(comparison, direction)
    title = f"<title>{escape(label)}</title>"
    head = (
        f'<svg class="bar bar-{code}" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" width="{WIDTH:g}" '
        f'height="{HEIGHT:g}" aria-hidden="true" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">{title}'
    )
    zero = _x(0.0, half_width)
    parts = [head, f'<line class="zero" x1="{zero:.1f}" x2="{zero:.1f}" y1="1" y2="17"/>']
    rel = _relative(comparison)
    if rel is not None:
        low, high, point = rel.ci_low, rel.ci_high, rel.estimate
        if is_number(low) and is_number(high):
            x1, x2 = sorted((_x(low, half_width), _x(high, half_width)))
            width = max(x2 - x1, 1.0)  # a zero-width interval still shows
            parts.append(
                f'<rect class="interval" x="{x1:.1f}" y="5" width="{width:.1f}" height="8" rx="2"/>'
            )
        if is_number(point):
            px = _x(point, half_width)
            parts.append(f'<line class="estimate" x1="{px:.1f}" x2="{px:.1f}" y1="2" y2="16"/>')
    parts.append("</svg>")
    return "".join(parts)


def _relative(comparison: Comparison) -> Interval | None:
    return None if comparison.reason else comparison.relative


def _x(value: float | None, half_width: float) -> float:
    inner = WIDTH - 2 * PAD
    finite = _finite(value)
    v = max(-half_width, min(half_width, 0.0 if finite is None else finite))
    return PAD + (v + half_width) / (2 * half_width) * inner


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and is_number(value) else None


def text_bar(comparison: Comparison, direction: str, half_width: float, cells: int = 21) -> str:
    """The bar in characters, for Markdown: ``┆`` no effect, ``[━━●━━]`` the interval.

    ``·`` fills the rest; an insufficient comparison is only words. No ``|``, which would
    end a Markdown table cell.
    """
    if verdict(comparison, direction) == INSUFFICIENT:
        return VERDICT_WORDS[INSUFFICIENT]  # nothing to draw
    row = ["·"] * cells

    def at(value: float | None) -> int:
        return round((_x(value, half_width) - PAD) / (WIDTH - 2 * PAD) * (cells - 1))

    rel = _relative(comparison)
    low = _finite(rel.ci_low) if rel is not None else None
    high = _finite(rel.ci_high) if rel is not None else None
    if low is not None and high is not None:
        first, last = sorted((at(low), at(high)))
        for i in range(first, last + 1):
            row[i] = "━"
        row[first], row[last] = "[", "]"
    zero = at(0.0)
    row[zero] = "┆" if row[zero] in "·━" else row[zero]  # no effect stays visible
    point = _finite(rel.estimate) if rel is not None else None
    if point is not None:
        row[at(point)] = "●"
    return "".join(row) + " " + VERDICT_WORDS[verdict(comparison, direction)]
