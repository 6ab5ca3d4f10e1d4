"""The per-unit export: one CSV row per exposed unit, streamed in chunks.

Columns: ``unit_id, variant, first_exposure`` (ISO 8601 UTC), one per segment attribute, then
one per metric named by the metric, holding the unit's total (0/1 for binomial and retention,
the count, the sum). A ratio metric's column holds the numerator total and is followed by
``<metric>_denominator``, so the ratio can be recomputed from the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from xp.definitions.model import Definition
from xp.reports.csv_report import cell

CHUNK_ROWS = 500


def unit_columns(definition: Definition) -> list[str]:
    columns = ["unit_id", "variant", "first_exposure", *definition.segments]
    for metric in definition.metrics:
        columns.append(metric.name)
        if metric.traits.has_denominator:
            columns.append(f"{metric.name}_denominator")
    return columns


def units_csv(definition: Definition, units: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """CSV text in chunks of :data:`CHUNK_ROWS` rows, the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(unit_columns(definition))
    pending = 0
    for unit in units:
        writer.writerow(unit_row(definition, unit))
        pending += 1
        if pending >= CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def unit_row(definition: Definition, unit: Mapping[str, Any]) -> list[str]:
    """One unit (a :class:`service.store.UnitRow` or a mapping of the same fields) as cells."""
    segments = unit.get("segments") or {}
    metrics = unit.get("metrics") or {}
    denominators = unit.get("denominators") or {}
    row = [
        cell(str(unit["unit_id"])),
        cell(unit["variant"]),
        iso_utc(unit["first_exposure"]),
        *(cell(segments.get(name)) for name in definition.segments),
    ]
    for metric in definition.metrics:
        row.append(cell(_total(metrics.get(metric.name, 0))))
        if metric.traits.has_denominator:
            row.append(cell(_total(denominators.get(metric.name, 0))))
    return row


def _total(value: Any) -> Any:
    """Whole totals without a trailing ``.0`` (0/1, counts); sums keep their decimals."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def iso_utc(timestamp: float) -> str:
    """Seconds since the epoch as ``2026-11-01T09:30:00.250Z``."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
