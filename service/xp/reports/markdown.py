"""The results document as Markdown: what an analyst pastes into a ticket or a wiki page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xp.reports import formatting as fmt
from xp.reports import glance
from xp.results.document import Comparison, MetricResult, ResultsDocument, SrmCheck


def render_markdown(results: ResultsDocument) -> str:
    """The whole report: summary, decision, one table per metric, SRM, diagnostics, segments."""
    experiment = results.experiment
    lines = [f"# {_inline(experiment.name or experiment.key)} (`{experiment.key}`)"]
    lines += ["", *_summary(results)]
    lines += ["", *_decision(results)]
    level = fmt.ci_level(results.alpha)
    for metric in results.metrics:
        lines += ["", *_metric(metric, level, results.method == "bayesian")]
    lines += ["", *_srm(results.srm), "", *_diagnostics(results.diagnostics)]
    segmented = [m for m in results.metrics if m.segments]
    if segmented:
        lines += ["", "## Segments (exploratory)", ""]
        corrected = (
            "each segment's chance to win and risk stand alone, uncorrected"
            if results.method == "bayesian"
            else "p-values are Benjamini-Hochberg corrected across segments"
        )
        lines.append(
            f"Breakdowns are exploratory: {corrected}, and a segment result is a lead to "
            "follow, not a decision."
        )
        for metric in segmented:
            lines += ["", *_segments(metric, level, results.method == "bayesian")]
    return "\n".join(lines) + "\n"


def _summary(results: ResultsDocument) -> list[str]:
    experiment = results.experiment
    rows = [
        ("Status", experiment.status),
        ("Phase", experiment.phase),
        ("Hypothesis", experiment.hypothesis or fmt.MISSING),
        ("Owner", experiment.owner or fmt.MISSING),
        ("Dates", fmt.dates(experiment)),
        ("Units", _units(results.units) or "none yet"),
        ("Method", _method(results)),
        ("Generated", results.generated_at),
    ]
    return _table(("Experiment", experiment.key), rows)


def _units(units: Mapping[str, int]) -> str:
    return " · ".join(f"{k} {fmt.count(v)}" for k, v in units.items())


def _method(results: ResultsDocument) -> str:
    alpha = results.alpha
    if results.method == "sequential":
        tuning = fmt.count(results.sequential_tuning)
        return f"sequential, always valid (alpha {alpha}, tuned for {tuning} units)"
    if results.method == "bayesian":
        rule = results.bayesian or {}  # saved documents lack it: GrowthBook's defaults
        win = fmt.percent(rule.get("chance_to_win", 0.95), 1, False)
        risk = fmt.percent(rule.get("risk_threshold", 0.0025), 2, False)
        return (
            f"Bayesian, effect-based (better: chance to win >= {win} and risk <= {risk}; "
            f"worse: chance to lose >= {win})"
        )
    return f"frequentist, fixed horizon (alpha {alpha})"


def _decision(results: ResultsDocument) -> list[str]:
    decision = results.decision
    lines = [f"## Decision: {fmt.decision(decision.decision)}", ""]
    srm = results.srm
    if srm.alarm:
        lines += [
            f"> **Sample ratio mismatch** ({fmt.p_clause(srm.p_value)}): the split "
            "of units does not match the configured weights, so the lifts below are not "
            "trustworthy until the cause is found.",
            "",
        ]
    lines += [f"- {_inline(r)}" for r in decision.reasons] or ["- No reasons given."]
    return lines


def _metric(metric: MetricResult, level: str, bayesian: bool = False) -> list[str]:
    kind = metric.kind
    style = fmt.style(metric)
    title = (
        f"## {_inline(metric.label)} ({metric.role}, {kind}, "
        f"{metric.direction or 'increase'} is better)"
    )
    half_width = glance.scale(metric.comparisons)
    header = (
        "Variant",
        "Units",
        ("Rate" if kind in fmt.RATE_KINDS else "Mean")
        + (f" ({metric.currency})" if metric.currency else ""),
        *_lift_headers(level, bayesian, metric.correction),
    )
    rows: list[tuple[str, ...]] = []
    for variant in metric.variants:
        comparison = metric.comparison(variant.variant)
        stats = (fmt.count(variant.units), fmt.mean(variant.mean, style))
        if comparison is None:
            rows.append((variant.variant, *stats, "baseline", "baseline", "", "", "", ""))
        else:
            cells = _comparison_cells(comparison, style, metric.direction, half_width)
            rows.append((variant.variant, *stats, *cells))
    about = [_inline(metric.description), ""] if metric.description else []
    waiting = fmt.in_window_note(metric)
    about += [_inline(waiting), ""] if waiting else []
    lines = [title, "", *about, *_table(header, rows), "", _footnote(metric, style, bayesian)]
    for comparison in metric.comparisons:
        cuped = comparison.cuped
        if cuped is not None and cuped.reason:
            lines += ["", f"CUPED for {_inline(comparison.variant)}: {fmt.reason(cuped.reason)}."]
        elif cuped is not None:
            lines += [
                "",
                f"CUPED for {_inline(comparison.variant)} (variance reduced by "
                f"{fmt.percent(cuped.variance_reduction, signed=False)}): absolute "
                f"{fmt.interval(cuped.absolute, style)}, relative "
                f"{fmt.interval(cuped.relative)}, "
                f"p-value {fmt.p_value(cuped.relative.p_value)}.",
            ]
    return lines


def _lift_headers(level: str, bayesian: bool, correction: str) -> tuple[str, ...]:
    """The comparison columns' headers, named for the method: a credible interval and chance
    to win and risk under the Bayesian method, else a confidence interval and p-values."""
    band = "CrI" if bayesian else "CI"
    if bayesian:
        tests = ("Chance to win", "Risk")
    elif correction == "none":
        tests = ("p-value (relative lift)", "p-value (relative lift, uncorrected)")
    else:
        tests = (
            "p-value (relative lift)",
            f"p-value (relative lift, {fmt.correction(correction)})",
        )
    return (
        f"Absolute lift ({level} {band})",
        f"Relative lift ({level} {band})",
        *tests,
        "Significant",
        "At a glance",
    )


def _footnote(metric: MetricResult, style: str, bayesian: bool = False) -> str:
    """What the abbreviations and the at-a-glance column mean, and which correction applied."""
    pp = "pp: percentage points, the difference of two rates. " if style == "percent" else ""
    if bayesian:
        about = (
            "CrI: credible interval of the posterior. Chance to win: the posterior probability "
            "that the treatment is better; risk: the expected relative loss of shipping it. "
        )
        correction = "No multiple-comparison correction applies to the Bayesian method."
        tested = ""
    else:
        about = "CI: confidence interval. "
        correction = (
            f"Corrected p-values use {fmt.correction(metric.correction)}."
            if metric.correction != "none"
            else "No multiple-comparison correction applies to this metric."
        )
        marked = fmt.absolute_note(metric.comparisons)
        tested = (
            " p-values test the relative lift (the absolute interval beside them can exclude "
            "0 while the relative p does not: its delta method carries the control mean's "
            "uncertainty)." + (f" {marked}" if marked else "")
        )
    return (
        f"{pp}{about}At a glance: ┆ is no effect, [━━] the relative lift's interval, ● its "
        f"estimate, on one scale per table. {correction}{tested}"
    )


def _comparison_cells(
    comparison: Comparison, style: str, direction: str, half_width: float
) -> tuple[str, ...]:
    return (
        fmt.interval(comparison.absolute, style, comparison.reason),
        fmt.interval(comparison.relative, reason_code=comparison.reason),
        *(
            (
                fmt.percent(comparison.bayesian["chance_to_win"], 1, False),
                fmt.percent(comparison.bayesian["risk_treatment"], 2, False),
            )
            if comparison.bayesian
            else (
                fmt.p_value(comparison.relative.p_value),
                fmt.corrected_p(comparison),
            )
        ),
        fmt.significance(comparison),
        glance.text_bar(comparison, direction, half_width),
    )


def _srm(srm: SrmCheck) -> list[str]:
    verdict = "**mismatch**" if srm.alarm else "no mismatch"
    lines = [
        "## Sample ratio",
        "",
        f"Chi-square test against the configured weights: {fmt.p_clause(srm.p_value)} "
        f"(alarm below {srm.threshold}): {verdict}.",
        "",
    ]
    rows = [
        (k, fmt.count(observed), fmt.decimal(srm.expected.get(k)))
        for k, observed in srm.observed.items()
    ]
    return lines + _table(("Variant", "Observed units", "Expected units"), rows)


def _diagnostics(diagnostics: Mapping[str, int]) -> list[str]:
    rows = [
        (key, fmt.count(value), fmt.DIAGNOSTICS.get(key, "")) for key, value in diagnostics.items()
    ]
    if not rows:
        return ["## Diagnostics", "", "None recorded."]
    return ["## Diagnostics", "", *_table(("Counter", "Events", "Meaning"), rows)]


def _segments(metric: MetricResult, level: str, bayesian: bool = False) -> list[str]:
    header = ("Segment", "Value", "Units", "Variant", *_lift_headers(level, bayesian, "bh"))
    style = fmt.style(metric)
    half_width = glance.scale(c for s in metric.segments for c in s.comparisons)
    rows = [
        (
            segment.segment,
            segment.value,
            _units(segment.units),
            comparison.variant,
            *_comparison_cells(comparison, style, metric.direction, half_width),
        )
        for segment in metric.segments
        for comparison in segment.comparisons
    ]
    lines = [f"### {_inline(metric.label)} by segment (exploratory)", "", *_table(header, rows)]
    marked = fmt.absolute_note(c for s in metric.segments for c in s.comparisons)
    return [*lines, "", marked] if marked else lines


def _table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _cell(value: Any) -> str:
    """A table cell: pipes escaped and line breaks flattened so the table stays one table."""
    text = fmt.MISSING if value is None else str(value)
    return _inline(text).replace("|", "\\|")


def _inline(value: Any) -> str:
    return " ".join(str(value).split())
