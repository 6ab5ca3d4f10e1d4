"""The results document as HTML, and the one Jinja environment every xp page renders with.

The templates and the stylesheet ship in ``service/web`` (``templates/``, ``static/``). The
stylesheet is inlined so a page, or an HTML report saved to a file, needs nothing fetched.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from xp.reports import formatting as fmt
from xp.reports import glance
from xp.reports.charts import lift_chart, lift_series
from xp.reports.conditions import condition_words
from xp.reports.traffic import traffic_chart
from xp.results.document import Comparison, MetricResult, ResultsDocument


@dataclass(frozen=True)
class Nav:
    """The header of a served page: a home link and, with a login session, a logout button
    (with the form's CSRF token)."""

    home: str
    logout: str | None = None
    csrf: str | None = None


@dataclass(frozen=True)
class ReportLinks:
    """Links of a served experiment page: method switch (method -> URL), downloads, the
    features that use the experiment (key, URL, environments) and its holdout (key, URL or
    None)."""

    methods: Mapping[str, str] = field(default_factory=dict)
    downloads: Sequence[tuple[str, str]] = ()
    features: Sequence[tuple[str, str, Sequence[str]]] = ()
    holdout: tuple[str, str | None] | None = None
    holds_out: HoldoutScope | None = None


@dataclass(frozen=True)
class HoldoutScope:
    """On a holdout's own page: the share held out, its description, and what it covers
    (every experiment and rule, or the listed ones as (key, URL))."""

    share: float
    description: str = ""
    everything: bool = False
    experiments: Sequence[tuple[str, str]] = ()
    features: Sequence[tuple[str, str]] = ()


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
        share=fmt.share,
        p_value=fmt.p_value,
        corrected_p=fmt.corrected_p,
        p_clause=fmt.p_clause,
        decimal=fmt.decimal,
        mean=fmt.mean,
        style=fmt.style,
        absolute=fmt.absolute,
        interval=fmt.interval,
        ci_level=fmt.ci_level,
        decision=fmt.decision,
        reason=fmt.reason,
        correction=fmt.correction,
        corrected_header=_corrected_header,
        correction_note=_correction_note,
        band_name=fmt.band_name,
        condition_words=condition_words,
        significance=fmt.significance,
        dates=fmt.dates,
        moment=fmt.moment,
    )
    env.globals.update(
        lift_chart=_metric_chart,
        glance_bar=_glance_bar,
        traffic_chart=lambda daily: Markup(traffic_chart(daily)),  # noqa: S704 - escaped
        bar_scale=glance.scale,
        segment_scale=_segment_scale,
        segment_note=_segment_note,
        verdict=glance.verdict,
        verdict_words=glance.VERDICT_WORDS,
        rate_kinds=fmt.RATE_KINDS,
        diagnostics_meaning=fmt.DIAGNOSTICS,
        in_window_note=fmt.in_window_note,
    )
    return env


def _metric_chart(metric: MetricResult, chart_id: str, results: ResultsDocument) -> Markup:
    level = fmt.ci_level(results.alpha)
    title = (
        f"Cumulative relative lift of {metric.label} per day, {level} "
        f"{fmt.band_name(results.method)}"
    )
    short = "CrI" if results.method == "bayesian" else "CI"
    svg = lift_chart(
        lift_series(metric.series), title=title, chart_id=chart_id, band=f"{level} {short}"
    )
    return Markup(svg)  # noqa: S704 - lift_chart escapes every piece of text it draws


def _glance_bar(comparison: Comparison, direction: str, half_width: float, level: str) -> Markup:
    """The interval bar and, for screen readers, the same reading in words."""
    label = glance.words(comparison, direction, level)
    bar = glance.interval_bar(comparison, direction, half_width, label)
    return Markup(  # noqa: S704 - interval_bar escapes its text; the label is escaped here
        f'{bar}<span class="sr-only">{escape(label)}</span>'
    )


# The p-values beside an absolute interval test the relative lift (docs/results.md).
TESTED_NOTE = "p-values test the relative lift, not the absolute interval beside them."
CORRECTION_TITLES = {
    "holm": "p-value adjusted with Holm's step-down method across the primary metrics' comparisons",
    "bh": "p-value adjusted with the Benjamini-Hochberg false discovery rate method",
}


def _corrected_header(correction: str) -> Markup:
    """The corrected p-value's header, with a tooltip naming the correction it used."""
    title = CORRECTION_TITLES.get(correction)
    if title is None:  # guardrails and secondaries are judged alone: say so, not "(none)"
        return Markup(
            '<abbr title="no multiple-comparison correction applies">'
            "p (relative lift, uncorrected)</abbr>"
        )
    name = escape(fmt.correction(correction))
    return Markup(f'<abbr title="{escape(title)}">p (relative lift, {name})</abbr>')  # noqa: S704 - escaped


def _correction_note(metric: MetricResult, method: str = "frequentist") -> str:
    """The footnote that says which correction the corrected p-value column used, or, under
    the Bayesian method, what the verdict reads instead; what a marked p-value is, when the
    table has one."""
    if method == "bayesian":
        return (
            "No multiple-comparison correction applies to the Bayesian method; the verdict "
            "reads the chance to win and the risk against the rule under Method."
        )
    tested = " ".join(filter(None, (TESTED_NOTE, fmt.absolute_note(metric.comparisons))))
    if metric.correction in CORRECTION_TITLES:
        return (
            f"Corrected p: {CORRECTION_TITLES[metric.correction]}; the verdict reads it. {tested}"
        )
    return (
        "No multiple-comparison correction applies to this metric; the verdict reads its "
        f"p-value. {tested}"
    )


def _segment_note(metric: MetricResult) -> str:
    """What a marked p-value of a metric's segment table is, when the table has one."""
    return fmt.absolute_note(c for s in metric.segments for c in s.comparisons)


def _segment_scale(metric: MetricResult) -> float:
    """One bar scale for all of a metric's segment rows."""
    return glance.scale(c for s in metric.segments for c in s.comparisons)
