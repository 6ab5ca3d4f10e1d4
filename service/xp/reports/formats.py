"""One entry point for every report format: ``render(results, format) -> (content, mimetype)``."""

from __future__ import annotations

import json
from collections.abc import Callable

from xp.reports.csv_report import render_csv
from xp.reports.html import render_html
from xp.reports.markdown import render_markdown
from xp.results.build import METHODS
from xp.results.document import ResultsDocument

Renderer = Callable[[ResultsDocument], str]

__all__ = ["FORMATS", "METHODS", "UnknownFormat", "render"]


def render_json(results: ResultsDocument) -> str:
    return json.dumps(results.as_dict(), indent=2, allow_nan=False) + "\n"


FORMATS: dict[str, tuple[Renderer, str]] = {
    "json": (render_json, "application/json"),
    "md": (render_markdown, "text/markdown; charset=utf-8"),
    "csv": (render_csv, "text/csv; charset=utf-8"),
    "html": (render_html, "text/html; charset=utf-8"),
}


class UnknownFormat(ValueError):
    """A report format that is not one of :data:`FORMATS`."""


def render(results: ResultsDocument, format: str) -> tuple[str, str]:
    """The results document in ``format`` (json, md, csv, html), and its mimetype."""
    try:
        renderer, mimetype = FORMATS[format]
    except KeyError:
        raise UnknownFormat(
            f"unknown report format {format!r}: expected one of {', '.join(FORMATS)}"
        ) from None
    return renderer(results), mimetype
