"""The per-unit export: one CSV row per exposed unit, streamed in chunks.

Columns: ``unit_id, variant, first_exposure`` (ISO 8601 UTC), one per segment attribute, then
one per metric named by the metric, holding the unit's total (0/1 for binomial and retention,
the count, the sum; for a ratio metric the numerator total).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from service.definitions.model import Definition
from service.reports.csv_report import cell

CHUNK_ROWS = 500


def unit_columns(definition: Definition) -> list[str]:
    return [
        "unit_id",
        "variant",
        "first_exposure",
        *definition.segments,
        *(m.name for m in definition.metrics),
    ]


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
    segments = unit.get("segments") or {}
    metrics = unit.get("metrics") or {}
    return [
        cell(str(unit["unit_id"])),
        cell(unit["variant"]),
        iso_utc(unit["first_exposure"]),
        *(cell(segments.get(name)) for name in definition.segments),
        *(cell(metrics.get(m.name, 0)) for m in definition.metrics),
    ]


def iso_utc(timestamp: float) -> str:
    """Seconds since the epoch as ``2026-11-01T09:30:00.250Z``."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
