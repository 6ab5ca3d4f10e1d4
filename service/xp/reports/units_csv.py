"""The per-unit export: one CSV row per exposed unit, streamed in chunks.

Columns: ``unit_id, variant, first_exposure`` (ISO 8601 UTC), one per segment attribute, then
one per metric named by the metric, holding the unit's total (0/1 for binomial and retention,
the count, the sum). A ratio metric's column holds the numerator total and is followed by
``<metric>_denominator``, so the ratio can be recomputed from the file.

With ``trailer=True`` (the API and ``xp export``, so both write the same bytes) the file ends
with one comment line, so a client can tell a complete file from a cut one: ``# end: <n> rows``
after the last row, or ``# error: incomplete after <n> rows: ...`` when the store failed mid-
stream (the connection is then closed without ending the chunked body). A failure before the
first chunk is the caller's to answer (a 503).

Rows are formatted by a :class:`RowFormatter` compiled once per export (the metric list, the
ratio columns, the defused texts and the timestamp prefixes cached), which is what keeps the
export near the speed of the raw driver read (``bench/export.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from xp.definitions.model import Definition
from xp.reports.csv_report import FORMULA_STARTS, cell, safe_text
from xp.store.base import Store, StoreError
from xp.store.model import UnitLayout, UnitValues

T = TypeVar("T")
CHUNK_ROWS = 500
CACHE_LIMIT = 100_000  # distinct texts and minutes remembered per export: hostile data is bounded
TENS_LIMIT = 2**33 // 10  # below 2**33 s, doubles are 2**-20 s apart: exact to the ms
# Each ten seconds of a day, "HH:MM:S" (the last digit of the seconds follows).
CLOCK_TENS = tuple(f"{t // 360:02d}:{t // 6 % 60:02d}:{t % 6}" for t in range(8640))
# A timestamp text after its tens of seconds ("2", "2.5", "2.25", "2.125") -> its cell's end.
LAST_SECOND = {
    digit + (f".{''.join(decimals)}" if decimals else ""): f"{digit}.{''.join(decimals):0<3}Z"
    for digit in "0123456789"
    for n in range(4)
    for decimals in itertools.product("0123456789", repeat=n)
}
CSV_QUOTED = ',"\r\n'  # what csv.writer quotes a cell for (QUOTE_MINIMAL, CRLF)
QUOTED = re.compile(f"[{re.escape(CSV_QUOTED)}]")
END = "# end: {rows} rows\r\n"
ERROR = "# error: incomplete after {rows} rows: {reason}\r\n"


class ExportInterrupted(StoreError):
    """The store failed after the first chunk was sent: the error line ends the stream."""


def unit_columns(definition: Definition) -> list[str]:
    columns = ["unit_id", "variant", "first_exposure", *definition.segments]
    for metric in definition.metrics:
        columns.append(metric.name)
        if metric.traits.has_denominator:
            columns.append(f"{metric.name}_denominator")
    return columns


def units_csv(
    definition: Definition,
    units: Iterable[UnitValues | Mapping[str, Any]],
    trailer: bool = False,
) -> Iterator[str]:
    """CSV text of ``units`` in chunks of :data:`CHUNK_ROWS` rows (:func:`csv_chunks`)."""
    return csv_chunks(definition, map(RowFormatter(definition), units), trailer)


def stored_units_csv(
    store: Store, stored: Definition, definition: Definition, trailer: bool = False
) -> Iterator[str]:
    """The export the API and ``xp export`` stream: every unit ``store`` keeps under
    ``stored`` (the phase's store id), in the columns of ``definition``, each record turned
    into its CSV line (:meth:`Store.iter_unit_lines`) or its cells (:meth:`Store.iter_unit_rows`)
    by the store in one pass."""
    cells = RowFormatter(definition)
    batches = store.iter_unit_lines(stored, cells)
    if batches is None:
        return csv_chunks(definition, store.iter_unit_rows(stored, cells), trailer)
    return line_chunks(definition, batches, trailer)


def csv_chunks(
    definition: Definition, rows: Iterable[list[str]], trailer: bool = False
) -> Iterator[str]:
    """CSV text in chunks of :data:`CHUNK_ROWS` rows, the header first; with ``trailer``, the
    end (or error) line last. A :class:`StoreError` before the first chunk propagates as is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def text(batch: list[list[str]]) -> str:
        writer.writerows(batch)
        found = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return found

    return _chunks(definition, ([row] for row in rows), text, trailer)  # rows one at a time


def line_chunks(
    definition: Definition, batches: Iterable[list[str]], trailer: bool = False
) -> Iterator[str]:
    """:func:`csv_chunks` of rows already written as CSV lines, given in lists (of any
    length): the same chunks, each cut from the lines read with one slice and one join (a
    loop over the lines cost ~100 ns each)."""
    return _chunks(definition, batches, "".join, trailer)


def _chunks(
    definition: Definition,
    batches: Iterable[list[T]],
    text: Callable[[list[T]], str],
    trailer: bool,
) -> Iterator[str]:
    """:func:`csv_chunks` of rows given in lists (of any length) that ``text`` turns into CSV:
    chunks of :data:`CHUNK_ROWS` rows, each cut from the rows read with one slice."""
    header = RowFormatter.csv_line(unit_columns(definition))
    pending: list[T] = []
    written = 0
    started = False
    chunk_rows = CHUNK_ROWS
    try:
        for batch in batches:
            pending += batch
            if len(pending) < chunk_rows:
                continue
            full = len(pending) - len(pending) % chunk_rows
            for start in range(0, full, chunk_rows):
                chunk = header + text(pending[start : start + chunk_rows])
                header = ""
                written += chunk_rows
                started = True
                yield chunk
            del pending[:full]
    except StoreError as exc:
        if not trailer or not started:
            raise
        written += len(pending)
        yield text(pending) + ERROR.format(rows=written, reason=_one_line(exc))
        raise ExportInterrupted(f"export cut after {written} rows: {exc}") from exc
    written += len(pending)
    yield header + text(pending) + (END.format(rows=written) if trailer else "")


def unit_row(definition: Definition, unit: UnitValues | Mapping[str, Any]) -> list[str]:
    """One unit (:class:`UnitValues`, a :class:`UnitRow` or a mapping of its fields) as cells."""
    return RowFormatter(definition)(unit)


class _Cells(dict[Any, Any]):
    """A bounded memo of ``format``: the few distinct variants, segment values and totals of
    an export are formatted once each, looked up in C after that."""

    def __init__(self, format: Callable[[Any], Any]) -> None:
        super().__init__()
        self.format = format

    def __missing__(self, key: Any) -> Any:
        found = self.format(key)
        if len(self) < CACHE_LIMIT:
            self[key] = found
        return found


class _TensPrefixes(dict[str, str]):
    """A bounded memo: nine digits of seconds (tens of seconds) -> the cell up to the seconds'
    last digit; "" where :meth:`RowFormatter.timestamp_texts` cannot paste (not nine digits,
    or 2**33 s and later). Its own class, not :class:`_Cells`: a first exposure's ten seconds
    are often new (one miss per unit in five in ``bench/export.py``), and a miss costs less
    without the extra call."""

    def __init__(self, days: _Cells) -> None:
        super().__init__()
        self.days = days

    def __missing__(self, tens: str) -> str:
        if len(tens) != 9 or not (tens.isascii() and tens.isdigit()) or int(tens) >= TENS_LIMIT:
            found = ""
        else:
            day, slot = divmod(int(tens), 8640)
            found = self.days[day] + CLOCK_TENS[slot]  # "2026-11-18T" + "11:06:4"
        if len(self) < CACHE_LIMIT:
            self[tens] = found
        return found


class RowFormatter:
    """Turns units into cells for one definition; the per-definition work done once.

    :class:`UnitValues` (what the stores' ``iter_unit_values`` yield) are read by position,
    with memos; a :class:`UnitRow` or a mapping of its fields is read by name, without (its
    values may be any type, and ``1 == 1.0 == True`` would mix them up in a memo)."""

    # in unit ids joined by NUL after a NUL: what marks one csv_field quotes or safe_text
    # changes (UnitCells.unsafe_in_ids)
    unsafe_in_ids = (*CSV_QUOTED, *sorted("\x00" + c for c in FORMULA_STARTS))

    def __init__(self, definition: Definition) -> None:
        self.layout = UnitLayout.of(definition)
        self._texts = _Cells(cell)  # variant and segment value (str or None) -> defused cell
        self._numbers = _Cells(_total)  # total (float) -> cell; 0 and 1 are most of them
        self._minutes = _Cells(_minute_prefix)  # epoch minute -> "YYYY-MM-DDTHH:MM:"
        self._days = _Cells(_day_prefix)  # epoch day -> "YYYY-MM-DDT"
        self._tens = _TensPrefixes(self._days)  # "179500000" (tens of seconds) -> "...:06:4"
        self._segment_cells = _Cells(self._segment_row)  # a unit's segment values -> cells

    def __call__(self, unit: UnitValues | Mapping[str, Any]) -> list[str]:
        if not isinstance(unit, UnitValues):
            return self._by_name(unit)
        unit_id = unit[0]
        row = [
            unit_id if unit_id[:1] not in FORMULA_STARTS else safe_text(unit_id),
            self._texts[unit[1]],
            self._iso(unit[2]),
        ]
        row += self._segment_cells[unit[3]]
        row += map(self._numbers.__getitem__, unit[4])
        return row

    # The per-field spellings (:class:`UnitCells`), for a store that reads records as text.

    def unit_ids(self, unit_ids: Iterable[str]) -> list[str]:
        return [u if u[:1] not in FORMULA_STARTS else safe_text(u) for u in unit_ids]

    def text(self, value: str | None) -> str:
        return self._texts[value]

    def number(self, value: float) -> str:
        return self._numbers[value]

    def number_text(self, text: str) -> str:
        """:meth:`number` of ``float(text)`` for the texts the stores write (``%.15g``, else
        ``%.17g``). Up to 15 characters without an exponent, ``nan`` or ``inf``, such a text
        is the shortest that reads back as its double, which is what ``repr`` writes; whole
        ones are the integer's digits either way. Only ``-0`` is spelled otherwise ("0")."""
        if len(text) <= 15 and "e" not in text and "n" not in text and text != "-0":
            return text
        return self._numbers[float(text)]

    @staticmethod
    def csv_field(cell: str) -> str:
        """``cell`` as ``csv.writer`` writes it (the excel dialect: quoted, its quotes
        doubled, when it holds a comma, a quote, CR or LF)."""
        return '"' + cell.replace('"', '""') + '"' if QUOTED.search(cell) else cell

    @staticmethod
    def csv_line(cells: list[str]) -> str:
        """One row as ``csv.writer`` writes it, CRLF included (the cells are text: an empty
        one is written as nothing, never as ``""``, since a row has more than one cell)."""
        return ",".join(map(RowFormatter.csv_field, cells)) + "\r\n"

    @property
    def tens_prefixes(self) -> Mapping[str, str]:
        return self._tens

    @property
    def last_seconds(self) -> Mapping[str, str]:
        return LAST_SECOND

    def timestamp_texts(self, texts: Iterable[str]) -> list[str]:
        """:meth:`_iso` of each ``float(text)``, cut and pasted for what the stores keep:
        10-digit seconds below 2**33 with at most three decimals. The double nearest such a
        text is within half a microsecond of it (doubles are 2**-20 apart there), so rounding
        it to the microsecond, as :func:`iso_utc` does, gives back the text's milliseconds."""
        tens = self._tens
        return [
            prefix + rest
            if (prefix := tens[text[:9]]) and (rest := LAST_SECOND.get(text[9:]))
            else self._iso(float(text))
            for text in texts
        ]

    def _segment_row(self, values: tuple[str | None, ...]) -> list[str]:
        return [self._texts[value] for value in values]

    def _by_name(self, unit: Mapping[str, Any]) -> list[str]:
        segments = unit.get("segments") or {}
        metrics = unit.get("metrics") or {}
        denominators = unit.get("denominators") or {}
        row = [safe_text(str(unit["unit_id"])), cell(unit["variant"])]
        row.append(self._iso(unit["first_exposure"]))
        row += [cell(segments.get(name)) for name in self.layout.segments]
        totals: list[str] = [""] * self.layout.width
        for name, (i, d) in self.layout.slots.items():
            totals[i] = _total(metrics.get(name, 0))
            if d >= 0:
                totals[d] = _total(denominators.get(name, 0))
        return row + totals

    def _iso(self, timestamp: float) -> str:
        """:func:`iso_utc`, with the date, hour and minute computed once per minute."""
        if not math.isfinite(timestamp):
            return iso_utc(timestamp)
        # datetime.fromtimestamp's rounding: the exact fraction, to the microsecond, half even.
        seconds = int(timestamp)
        micros = round((timestamp - seconds) * 1e6)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        elif micros < 0:
            seconds, micros = seconds - 1, micros + 1_000_000
        minute, second = divmod(seconds, 60)
        return f"{self._minutes[minute]}{second:02d}.{micros // 1000:03d}Z"


def _day_prefix(day: int) -> str:
    return iso_utc(day * 86_400.0)[:11]  # "2026-11-18T"


def _minute_prefix(minute: int) -> str:
    return iso_utc(minute * 60.0)[:17]  # "2026-11-18T11:06:"


def _total(value: Any) -> str:
    """Whole totals without a trailing ``.0`` (0/1, counts); sums keep their decimals."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return cell(value)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def iso_utc(timestamp: float) -> str:
    """Seconds since the epoch as ``2026-11-01T09:30:00.250Z``."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
