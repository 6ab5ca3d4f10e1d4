"""Server-drawn SVG of the traffic per day: units first exposed on each UTC day, as bars.

A visible title, a y-axis from 0 to the peak with its unit, an x-axis label with the first and
last dates, and a hover ``<title>`` with each day's exact count. Every piece of text is
escaped; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

WIDTH, HEIGHT = 560.0, 170.0
LEFT, RIGHT, TOP, BOTTOM = 58.0, 16.0, 30.0, 40.0


def traffic_chart(daily: Mapping[str, int], chart_id: str = "traffic") -> str:
    """An SVG bar per day; an empty string without days."""
    if not daily:
        return ""
    days = list(daily.items())
    peak = max(max(n for _, n in days), 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / len(days)
    total = sum(n for _, n in days)
    title = f"Units first exposed per day (UTC), {total:,} in {len(days)} days"
    base = TOP + inner_h
    middle = TOP + inner_h / 2
    ident = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="traffic" id="{ident}" '
        f'viewBox="0 0 {WIDTH:g} {HEIGHT:g}" width="{WIDTH:g}" height="{HEIGHT:g}" role="img" '
        f'aria-labelledby="{ident}-title" font-family="system-ui, sans-serif" '
        f'font-size="12"><title id="{ident}-title">{escape(title)}</title>',
        f'<text class="heading" x="8" y="18" font-size="13" font-weight="600" fill="#222">'
        f"{escape(title)}</text>",
        f'<g class="y-axis" fill="#444"><text x="{LEFT - 6:g}" y="{TOP:g}" dy="0.32em" '
        f'text-anchor="end">{peak:,}</text>'
        f'<text x="{LEFT - 6:g}" y="{base:g}" dy="0.32em" text-anchor="end">0</text>'
        f'<text class="axis-label" x="14" y="{middle:g}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:g})">units</text></g>',
        f'<line x1="{LEFT:g}" x2="{WIDTH - RIGHT:g}" y1="{TOP:g}" y2="{TOP:g}" '
        f'stroke="#e3e3e3"/>'
        f'<line x1="{LEFT:g}" x2="{WIDTH - RIGHT:g}" y1="{base:g}" y2="{base:g}" stroke="#888"/>',
    ]
    for i, (day, n) in enumerate(days):
        h = inner_h * n / peak
        x = LEFT + i * step + step * 0.1
        parts.append(
            f'<rect class="day" data-day="{escape(day)}" x="{x:.1f}" y="{base - h:.1f}" '
            f'width="{max(step * 0.8, 0.5):.1f}" height="{h:.1f}" fill="#0072B2">'
            f"<title>{escape(day)}: {n:,} units first exposed</title></rect>"
        )
    first, last = days[0][0], days[-1][0]
    y = base + 16
    parts.append(
        f'<g class="x-axis" fill="#444"><text x="{LEFT:g}" y="{y:g}">{escape(first)}</text>'
    )
    if last != first:
        parts.append(
            f'<text x="{WIDTH - RIGHT:g}" y="{y:g}" text-anchor="end">{escape(last)}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{(LEFT + WIDTH - RIGHT) / 2:g}" y="{HEIGHT - 6:g}" '
        f'text-anchor="middle">day of first exposure (UTC)</text></g>'
    )
    parts.append("</svg>")
    return "".join(parts)
