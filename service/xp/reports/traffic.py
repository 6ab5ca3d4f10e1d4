"""Server-drawn SVG of the traffic per day: units first exposed on each UTC day, as bars.

A title, a y-axis maximum with its unit, the first and last dates, and a hover ``<title>``
with each day's exact count. Every piece of text is escaped; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

WIDTH, HEIGHT = 360.0, 120.0
LEFT, RIGHT, TOP, BOTTOM = 44.0, 8.0, 22.0, 22.0


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
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="traffic" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH:g} {HEIGHT:g}" width="{WIDTH:g}" height="{HEIGHT:g}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title" font-family="system-ui, sans-serif" '
        f'font-size="11"><title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<text x="{LEFT:g}" y="12" fill="#444">Units per day</text>',
        f'<text x="{LEFT - 4:g}" y="{TOP + 4:g}" text-anchor="end" fill="#444">{peak:,}</text>',
        f'<text x="{LEFT - 4:g}" y="{TOP + inner_h:g}" text-anchor="end" fill="#444">0</text>',
        f'<line x1="{LEFT:g}" x2="{WIDTH - RIGHT:g}" y1="{TOP + inner_h:g}" '
        f'y2="{TOP + inner_h:g}" stroke="#888"/>',
    ]
    for i, (day, n) in enumerate(days):
        h = inner_h * n / peak
        x = LEFT + i * step + step * 0.1
        parts.append(
            f'<rect class="day" x="{x:.1f}" y="{TOP + inner_h - h:.1f}" '
            f'width="{max(step * 0.8, 0.5):.1f}" height="{h:.1f}" fill="#0072B2">'
            f"<title>{escape(day)}: {n:,} units</title></rect>"
        )
    first, last = days[0][0], days[-1][0]
    y = HEIGHT - 6
    parts.append(f'<text x="{LEFT:g}" y="{y:g}" fill="#444">{escape(first)}</text>')
    if last != first:
        parts.append(
            f'<text x="{WIDTH - RIGHT:g}" y="{y:g}" text-anchor="end" fill="#444">'
            f"{escape(last)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
