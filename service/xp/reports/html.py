"""The results document as HTML, and the one Jinja environment every xp page renders with.

The templates and the stylesheet ship in ``service/web`` (``templates/``, ``static/``). The
stylesheet is inlined so a page, or an HTML report saved to a file, needs nothing fetched.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from xp.reports import formatting as fmt
from xp.reports.charts import lift_chart, lift_series
from xp.results.document import MetricResult, ResultsDocument


@dataclass(frozen=True)
class Nav:
    """The header of a served page: a home link and, with a login session, a logout button
    (with the form's CSRF token)."""

    home: str
    logout: str | None = None
    csrf: str | None = None


@dataclass(frozen=True)
class ReportLinks:
    """Links of a served experiment page: method switch (method -> URL) and downloads."""

    methods: Mapping[str, str] = field(default_factory=dict)
    downloads: Sequence[tuple[str, str]] = ()


def render_html(
    results: ResultsDocument, nav: Nav | None = None, links: ReportLinks | None = None
) -> str:
    """A complete HTML document of the results; without ``nav``/``links`` it stands alone."""
    return render("experiment.html", results=results, nav=nav, links=links)


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(css=stylesheet(), **context)


@functools.cache
def stylesheet() -> Markup:
    css = resources.files("xp.web").joinpath("static/xp.css").read_text(encoding="utf-8")
    return Markup(css.replace("</", "<\\/"))  # a stylesheet cannot end the <style> element


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("xp.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        integer=fmt.count,
        number=fmt.number,
        percent=fmt.percent,
        p_value=fmt.p_value,
        p_clause=fmt.p_clause,
        decimal=fmt.decimal,
        mean=fmt.mean,
        absolute=fmt.absolute,
        interval=fmt.interval,
        ci_level=fmt.ci_level,
        decision=fmt.decision,
        reason=fmt.reason,
        correction=fmt.correction,
        significance=fmt.significance,
        dates=fmt.dates,
    )
    env.globals.update(
        lift_chart=_metric_chart,
        rate_kinds=fmt.RATE_KINDS,
        diagnostics_meaning=fmt.DIAGNOSTICS,
    )
    return env


def _metric_chart(metric: MetricResult, chart_id: str, results: ResultsDocument) -> Markup:
    band = (
        "always-valid confidence sequence"
        if results.method == "sequential"
        else "confidence interval"
    )
    title = (
        f"Cumulative relative lift of {metric.name} per day, {fmt.ci_level(results.alpha)} {band}"
    )
    svg = lift_chart(lift_series(metric.series), title=title, chart_id=chart_id)
    return Markup(svg)  # noqa: S704 - lift_chart escapes every piece of text it draws
