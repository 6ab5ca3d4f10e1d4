"""The results document as Markdown: what an analyst pastes into a ticket or a wiki page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xp.reports import formatting as fmt


def render_markdown(results: Mapping[str, Any]) -> str:
    """The whole report: summary, decision, one table per metric, SRM, diagnostics, segments."""
    experiment = results["experiment"]
    lines = [f"# {_inline(experiment.get('name') or experiment['key'])} (`{experiment['key']}`)"]
    lines += ["", *_summary(results)]
    lines += ["", *_decision(results)]
    level = fmt.ci_level(results.get("alpha"))
    for metric in results.get("metrics", []):
        lines += ["", *_metric(metric, level)]
    lines += ["", *_srm(results), "", *_diagnostics(results.get("diagnostics") or {})]
    segmented = [m for m in results.get("metrics", []) if m.get("segments")]
    if segmented:
        lines += ["", "## Segments (exploratory)", ""]
        lines.append(
            "Breakdowns are exploratory: p-values are Benjamini-Hochberg corrected across "
            "segments, and a segment result is a lead to follow, not a decision."
        )
        for metric in segmented:
            lines += ["", *_segments(metric, level)]
    return "\n".join(lines) + "\n"


def _summary(results: Mapping[str, Any]) -> list[str]:
    experiment = results["experiment"]
    units = results.get("units") or {}
    rows = [
        ("Status", experiment.get("status")),
        ("Hypothesis", experiment.get("hypothesis") or fmt.MISSING),
        ("Owner", experiment.get("owner") or fmt.MISSING),
        ("Dates", fmt.dates(experiment)),
        ("Units", " · ".join(f"{k} {fmt.count(v)}" for k, v in units.items()) or "none yet"),
        ("Method", _method(results)),
        ("Generated", results.get("generated_at")),
    ]
    return _table(("Experiment", experiment["key"]), rows)


def _method(results: Mapping[str, Any]) -> str:
    alpha = results.get("alpha")
    if results.get("method") == "sequential":
        tuning = fmt.count(results.get("sequential_tuning"))
        return f"sequential, always valid (alpha {alpha}, tuned for {tuning} units)"
    return f"frequentist, fixed horizon (alpha {alpha})"


def _decision(results: Mapping[str, Any]) -> list[str]:
    decision = results.get("decision") or {}
    lines = [f"## Decision: {fmt.decision(decision.get('decision'))}", ""]
    srm = results.get("srm") or {}
    if srm.get("alarm"):
        lines += [
            f"> **Sample ratio mismatch** ({fmt.p_clause(srm.get('p_value'))}): the split "
            "of units does not match the configured weights, so the lifts below are not "
            "trustworthy until the cause is found.",
            "",
        ]
    reasons = decision.get("reasons") or []
    lines += [f"- {_inline(r)}" for r in reasons] or ["- No reasons given."]
    return lines


def _metric(metric: Mapping[str, Any], level: str) -> list[str]:
    kind = metric.get("kind", "")
    title = (
        f"## {_inline(metric['name'])} ({metric.get('role')}, {kind}, "
        f"{metric.get('direction', 'increase')} is better)"
    )
    comparisons = {c["variant"]: c for c in metric.get("comparisons", [])}
    header = (
        "Variant",
        "Units",
        "Rate" if kind in fmt.RATE_KINDS else "Mean",
        f"Absolute lift ({level} CI)",
        f"Relative lift ({level} CI)",
        "p-value",
        f"p-value ({fmt.correction(metric.get('correction'))})",
        "Significant",
    )
    rows = []
    for variant in metric.get("variants", []):
        name = variant["variant"]
        comparison = comparisons.get(name)
        stats = (fmt.count(variant.get("units")), fmt.mean(variant.get("mean"), kind))
        if comparison is None:
            rows.append((name, *stats, "baseline", "baseline", "", "", ""))
        else:
            rows.append((name, *stats, *_comparison_cells(comparison, kind)))
    lines = [title, "", *_table(header, rows)]
    for comparison in comparisons.values():
        cuped = comparison.get("cuped")
        if cuped:
            lines += [
                "",
                f"CUPED for {_inline(comparison['variant'])} (variance reduced by "
                f"{fmt.percent(cuped.get('variance_reduction'), signed=False)}): absolute "
                f"{fmt.interval(cuped.get('absolute'), kind)}, relative "
                f"{fmt.interval(cuped.get('relative'))}, "
                f"p-value {fmt.p_value((cuped.get('relative') or {}).get('p_value'))}.",
            ]
    return lines


def _comparison_cells(comparison: Mapping[str, Any], kind: str) -> tuple[str, ...]:
    relative = comparison.get("relative") or {}
    return (
        fmt.interval(comparison.get("absolute"), kind),
        fmt.interval(relative),
        fmt.p_value(relative.get("p_value")),
        fmt.p_value(comparison.get("p_value_corrected")),
        fmt.significance(comparison),
    )


def _srm(results: Mapping[str, Any]) -> list[str]:
    srm = results.get("srm") or {}
    verdict = "**mismatch**" if srm.get("alarm") else "no mismatch"
    lines = [
        "## Sample ratio",
        "",
        f"Chi-square test against the configured weights: {fmt.p_clause(srm.get('p_value'))} "
        f"(alarm below {srm.get('threshold')}): {verdict}.",
        "",
    ]
    observed = srm.get("observed") or {}
    expected = srm.get("expected") or {}
    rows = [(k, fmt.count(observed.get(k)), fmt.decimal(expected.get(k))) for k in observed]
    return lines + _table(("Variant", "Observed units", "Expected units"), rows)


def _diagnostics(diagnostics: Mapping[str, Any]) -> list[str]:
    rows = [
        (key, fmt.count(value), fmt.DIAGNOSTICS.get(key, "")) for key, value in diagnostics.items()
    ]
    if not rows:
        return ["## Diagnostics", "", "None recorded."]
    return ["## Diagnostics", "", *_table(("Counter", "Events", "Meaning"), rows)]


def _segments(metric: Mapping[str, Any], level: str) -> list[str]:
    kind = metric.get("kind", "")
    header = (
        "Segment",
        "Value",
        "Units",
        "Variant",
        f"Absolute lift ({level} CI)",
        f"Relative lift ({level} CI)",
        "p-value",
        "p-value (Benjamini-Hochberg)",
        "Significant",
    )
    rows = []
    for segment in metric["segments"]:
        units = " · ".join(f"{k} {fmt.count(v)}" for k, v in (segment.get("units") or {}).items())
        for comparison in segment.get("comparisons", []):
            rows.append(
                (
                    segment.get("segment"),
                    segment.get("value"),
                    units,
                    comparison["variant"],
                    *_comparison_cells(comparison, kind),
                )
            )
    return [f"### {_inline(metric['name'])} by segment (exploratory)", "", *_table(header, rows)]


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
