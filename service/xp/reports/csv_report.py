"""The results document as CSV: one row per (metric, variant, segment), for spreadsheets/pandas.

``metric_label`` is the definition's display name (else the name) and ``format`` how its
values read (``percent``, ``number``, ``duration``, ``currency:USD``). Overall rows have an
empty ``segment`` and ``segment_value``; the control's rows have empty
lift columns. ``phase`` is the document's phase; ``units_in_window`` (overall rows of a metric
with ``window_days``) the variant's units whose window may still be open (docs/results.md).
Numbers are written at full precision, booleans as ``true``/``false``, missing
values as empty cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from xp.reports.formatting import style
from xp.results.document import Comparison, ResultsDocument, VariantRow
from xp.stats.frequentist import tested_scale

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
    "metric_label",
    "format",
    "phase",
    "units_in_window",
    "tested_scale",  # the scale p_value_corrected and significant test; last, so no column moves
)

ESTIMATE_FIELDS = ("estimate", "se", "ci_low", "ci_high", "p_value")


def render_csv(results: ResultsDocument) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in result_rows(results):
        writer.writerow([cell(row.get(column)) for column in COLUMNS])
    return out.getvalue()


def result_rows(results: ResultsDocument) -> Iterator[dict[str, Any]]:
    """The rows as dicts keyed by :data:`COLUMNS` (values not yet turned into text)."""
    control = results.experiment.control
    common = {
        "experiment": results.experiment.key,
        "phase": results.experiment.phase,
        "method": results.method,
    }
    for metric in results.metrics:
        about = {
            **common,
            "metric": metric.name,
            "kind": metric.kind,
            "role": metric.role,
            "direction": metric.direction,
            "correction": metric.correction,
            "metric_label": metric.label,
            "format": style(metric),
        }
        for stats in metric.variants:
            yield {
                **about,
                "exploratory": metric.exploratory,
                "variant": stats.variant,
                "is_control": stats.variant == control,
                **_variant_columns(stats),
                **_comparison_columns(metric.comparison(stats.variant)),
                "units_in_window": (metric.units_in_window or {}).get(stats.variant),
            }
        for segment in metric.segments:
            comparisons = {c.variant: c for c in segment.comparisons}
            stats_by_variant = {s.variant: s for s in segment.variants}
            for name, units in segment.units.items():
                row = stats_by_variant.get(name)
                yield {
                    **about,
                    "exploratory": True,
                    "segment": segment.segment,
                    "segment_value": segment.value,
                    "variant": name,
                    "is_control": name == control,
                    **(_variant_columns(row) if row is not None else {}),
                    "units": units,
                    **_comparison_columns(comparisons.get(name)),
                }


def _variant_columns(row: VariantRow) -> dict[str, Any]:
    return {"units": row.units, "sum": row.sum, "mean": row.mean, "sd": row.sd}


def _comparison_columns(comparison: Comparison | None) -> dict[str, Any]:
    if comparison is None:
        return {}
    columns: dict[str, Any] = {}
    for prefix, estimate in (("abs", comparison.absolute), ("rel", comparison.relative)):
        for field in ESTIMATE_FIELDS:
            columns[f"{prefix}_{field}"] = getattr(estimate, field)
    columns["p_value_corrected"] = comparison.p_value_corrected
    columns["tested_scale"] = tested_scale(comparison.absolute, comparison.relative)
    columns["significant"] = comparison.significant
    columns["reason"] = comparison.reason
    cuped = comparison.cuped
    if cuped is not None:
        columns["cuped_variance_reduction"] = cuped.variance_reduction
        for field in ("estimate", "ci_low", "ci_high", "p_value"):
            columns[f"cuped_rel_{field}"] = getattr(cuped.relative, field)
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


# what a spreadsheet may read a cell starting with as a formula; a set: "" is not among them
FORMULA_STARTS = frozenset("=@+-\t\r")


def safe_text(text: str) -> str:
    """Prefix ``'`` to text starting like a formula (``=``, ``@``, ``+x``, ``-x``, tab, CR).

    Segment values and unit ids come from request attributes, so a crafted ``=HYPERLINK(...)``
    would otherwise run when an analyst opens the file. Text that reads as a number is kept.
    """
    if not text or text[0] not in FORMULA_STARTS:
        return text
    if text[0] in "+-":
        try:
            float(text)
        except ValueError:
            return "'" + text
        return text
    return "'" + text
