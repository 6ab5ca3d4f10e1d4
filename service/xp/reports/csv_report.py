"""The results document as CSV: one row per (metric, variant, segment), for spreadsheets/pandas.

Overall rows have an empty ``segment`` and ``segment_value``; the control's rows have empty
lift columns. Numbers are written at full precision, booleans as ``true``/``false``, missing
values as empty cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

COLUMNS = (
    "experiment",
    "method",
    "metric",
    "kind",
    "role",
    "direction",
    "correction",
    "exploratory",
    "segment",
    "segment_value",
    "variant",
    "is_control",
    "units",
    "sum",
    "mean",
    "sd",
    "abs_estimate",
    "abs_se",
    "abs_ci_low",
    "abs_ci_high",
    "abs_p_value",
    "rel_estimate",
    "rel_se",
    "rel_ci_low",
    "rel_ci_high",
    "rel_p_value",
    "p_value_corrected",
    "significant",
    "reason",
    "cuped_variance_reduction",
    "cuped_rel_estimate",
    "cuped_rel_ci_low",
    "cuped_rel_ci_high",
    "cuped_rel_p_value",
)

ESTIMATE_FIELDS = ("estimate", "se", "ci_low", "ci_high", "p_value")


def render_csv(results: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in result_rows(results):
        writer.writerow([cell(row.get(column)) for column in COLUMNS])
    return out.getvalue()


def result_rows(results: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows as dicts keyed by :data:`COLUMNS` (values not yet turned into text)."""
    variants = [v["key"] for v in results["experiment"].get("variants", [])]
    control = variants[0] if variants else None
    common = {"experiment": results["experiment"]["key"], "method": results.get("method")}
    for metric in results.get("metrics", []):
        about = {
            **common,
            "metric": metric["name"],
            "kind": metric.get("kind"),
            "role": metric.get("role"),
            "direction": metric.get("direction"),
            "correction": metric.get("correction"),
        }
        comparisons = {c["variant"]: c for c in metric.get("comparisons", [])}
        for stats in metric.get("variants", []):
            name = stats["variant"]
            yield {
                **about,
                "exploratory": bool(metric.get("exploratory")),
                "variant": name,
                "is_control": name == control,
                **{k: stats.get(k) for k in ("units", "sum", "mean", "sd")},
                **_comparison_columns(comparisons.get(name)),
            }
        for segment in metric.get("segments", []):
            comparisons = {c["variant"]: c for c in segment.get("comparisons", [])}
            stats_by_variant = {s["variant"]: s for s in segment.get("variants", [])}
            for name, units in (segment.get("units") or {}).items():
                stats = stats_by_variant.get(name, {})
                yield {
                    **about,
                    "exploratory": True,
                    "segment": segment.get("segment"),
                    "segment_value": segment.get("value"),
                    "variant": name,
                    "is_control": name == control,
                    "units": units,
                    **{k: stats.get(k) for k in ("sum", "mean", "sd")},
                    **_comparison_columns(comparisons.get(name)),
                }


def _comparison_columns(comparison: Mapping[str, Any] | None) -> dict[str, Any]:
    if comparison is None:
        return {}
    columns: dict[str, Any] = {}
    for prefix, name in (("abs", "absolute"), ("rel", "relative")):
        estimate = comparison.get(name) or {}
        for field in ESTIMATE_FIELDS:
            columns[f"{prefix}_{field}"] = estimate.get(field)
    columns["p_value_corrected"] = comparison.get("p_value_corrected")
    columns["significant"] = bool(comparison.get("significant"))
    columns["reason"] = comparison.get("reason")
    cuped = comparison.get("cuped") or {}
    columns["cuped_variance_reduction"] = cuped.get("variance_reduction")
    relative = cuped.get("relative") or {}
    for field in ("estimate", "ci_low", "ci_high", "p_value"):
        columns[f"cuped_rel_{field}"] = relative.get(field)
    return columns


def cell(value: Any) -> str:
    """One value as CSV text; text that a spreadsheet would run as a formula is defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return safe_text(str(value))


def safe_text(text: str) -> str:
    """Prefix ``'`` to text starting like a formula (``=``, ``@``, ``+x``, ``-x``, tab, CR).

    Segment values and unit ids come from request attributes, so a crafted ``=HYPERLINK(...)``
    would otherwise run when an analyst opens the file. Text that reads as a number is kept.
    """
    if not text or text[0] not in "=@+-\t\r":
        return text
    if text[0] in "+-":
        try:
            float(text)
        except ValueError:
            return "'" + text
        return text
    return "'" + text
