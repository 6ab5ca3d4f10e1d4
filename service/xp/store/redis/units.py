"""Unit records read back for the export (:meth:`RedisStore.iter_unit_values` and
:meth:`RedisStore.iter_unit_rows`).

A unit record is ``variant id|ts|segment ids|covariates|totals`` (``lua/lib.lua``), the ids
those of the experiment's names hash. :class:`RecordIds` maps every id to its place in the
export once per read; :class:`UnitDecoder` then turns a record into :class:`UnitValues`,
:class:`RowDecoder` straight into the export's CSV cells and :class:`LineDecoder` into its CSV
line, a few splits and dict lookups each (the last: one regex match).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from xp.definitions.model import Definition
from xp.store.model import UnitCells, UnitLayout, UnitValues

SEP = "\x1f"  # between a name's kind, segment and value in the names hash
_new = tuple.__new__
MEMO_LIMIT = 100_000  # entries per memo: an export of hostile data stays bounded
N = TypeVar("N")
# What a total's text must not hold to be pasted as its cell: an exponent, nan, inf, -0 or
# more than 15 characters (the scripts' %.17g texts).
UNPASTABLE = re.compile(r"[en]|-0|[^:,|]{16}")
# A total text that is its own cell (:meth:`UnitCells.number_text`): 1-15 characters, no
# exponent, nan or inf, not "-0"; nothing csv.writer would quote for. Possessive: what may
# follow a total (",", ":", the end) is never in its class, so giving back cannot help.
PASTED = r"((?!-0(?![^,:|]))[^,:|en\"\r\n]{1,15}+)"


class RecordIds:
    """The ids of one experiment's names hash, placed in :class:`UnitLayout` of a definition;
    ``ignored`` holds the segments and metrics the definition no longer has."""

    def __init__(self, definition: Definition, names: Mapping[str, str]) -> None:
        self.layout = layout = UnitLayout.of(definition)
        positions = {name: i for i, name in enumerate(layout.segments)}
        self.variants: dict[str, str] = {}
        self.segments: dict[str, tuple[int, str]] = {}  # id -> (position, value)
        self.metrics: dict[str, tuple[int, int]] = {}  # id -> (total index, denominator index)
        self.ignored: set[str] = set()
        for name, id_ in names.items():
            kind, _, rest = name.partition(SEP)
            if kind == "v":
                self.variants[id_] = rest
            elif kind == "g":
                segment, _, value = rest.partition(SEP)
                if segment in positions:
                    self.segments[id_] = (positions[segment], value)
                else:
                    self.ignored.add(id_)
            elif kind == "m":
                if rest in layout.slots:
                    self.metrics[id_] = layout.slots[rest]
                else:
                    self.ignored.add(id_)

    def segment_values(self, segs: str) -> list[str | None]:
        """``"3,7"`` (segment ids) as values in the definition's order (None: not sent)."""
        segments: list[str | None] = [None] * len(self.layout.segments)
        for sid in segs.split(",") if segs else ():
            found = self.segments.get(sid)
            if found is not None:
                segments[found[0]] = found[1]
            elif sid not in self.ignored:
                raise KeyError(sid)
        return segments

    def total_item(
        self,
        item: str,
        number: Callable[[str], N] = float,  # type: ignore[assignment]
    ) -> tuple[tuple[int, N], ...]:
        """``"<metric id>:<total>[:<denominator>]"`` as (index, ``number(text)``) pairs."""
        mid, _, values = item.partition(":")
        slot = self.metrics.get(mid)
        if slot is None:
            if mid in self.ignored:
                return ()
            raise KeyError(mid)
        total, _, denominator = values.partition(":")
        if slot[1] >= 0:
            return ((slot[0], number(total)), (slot[1], number(denominator or "0")))
        return ((slot[0], number(total)),)


class UnitDecoder:
    """Records of one experiment as :class:`UnitValues`; a ``KeyError`` for an id added to
    the names hash after it was read (the caller reads the names again)."""

    def __init__(self, definition: Definition, names: Mapping[str, str]) -> None:
        self.ids = ids = RecordIds(definition, names)
        self.variants = ids.variants
        self._segment_lists = _Memo(lambda segs: tuple(ids.segment_values(segs)))
        self._items = _Memo(ids.total_item)
        self._zeros = (0.0,) * ids.layout.width

    def __call__(self, unit_ids: Sequence[str], records: Sequence[str]) -> list[UnitValues]:
        """Records and their units' ids, in the same order."""
        return [self.unit(u, record) for u, record in zip(unit_ids, records, strict=True)]

    def unit(self, unit_id: str, record: str) -> UnitValues:
        vid, ts, segs, _covariates, tots = record.split("|")
        totals: tuple[float, ...] = self._zeros
        if tots:
            filled = list(totals)
            for item in tots.split(","):
                for index, value in self._items[item]:
                    filled[index] = value
            totals = tuple(filled)
        values = (unit_id, self.variants[vid], float(ts), self._segment_lists[segs], totals)
        return _new(UnitValues, values)  # skips NamedTuple's Python-level __new__


class RowDecoder:
    """Records of one experiment straight as the export's cells, spelled by ``cells``: one
    pass per bucket, no :class:`UnitValues` in between and no call per unit; a ``KeyError``
    as for :class:`UnitDecoder`.

    The scripts write a total as the shortest text of its double (``fmt``, ``lua/lib.lua``),
    which is its cell (:meth:`UnitCells.number_text`) when it is short, has no exponent and
    is not ``-0``: such totals are pasted into their columns. A unit with any other total,
    or whose items do not fill exactly its columns (a ratio without its denominator, a
    metric the definition no longer has), goes through the memo of spelled items instead."""

    def __init__(self, definition: Definition, names: Mapping[str, str], cells: UnitCells):
        ids = RecordIds(definition, names)
        self.cells = cells
        self.width = width = ids.layout.width
        self.variants = {id_: cells.text(variant) for id_, variant in ids.variants.items()}
        self.columns = {
            mid: slice(i, (d if d >= 0 else i) + 1) for mid, (i, d) in ids.metrics.items()
        }
        self.columns.update({mid: slice(width, width) for mid in ids.ignored})  # never fits
        self._segments = _Memo(lambda segs: [cells.text(v) for v in ids.segment_values(segs)])
        number = functools.partial(ids.total_item, number=cells.number_text)
        self._items = _Memo(lambda item: _placed(number(item)))
        self._zeros = [cells.number(0.0)] * width

    def __call__(self, unit_ids: Sequence[str], records: Sequence[str]) -> list[list[str]]:
        """Records and their units' ids (in the same order) as rows, in their order."""
        if not records:
            return []
        fields = zip(*[record.split("|") for record in records], strict=True)
        vids, stamps, segments, _covariates, totals = fields
        variants, columns, zeros, width = self.variants, self.columns, self._zeros, self.width
        segment_cells = self._segments
        # One scan of the bucket's totals says whether every unit's may be pasted; else each
        # unit's is scanned.
        clean = UNPASTABLE.search("|".join(totals)) is None
        rows = []
        for unit_id, vid, stamp, segs, tots in zip(
            self.cells.unit_ids(unit_ids),
            vids,
            self.cells.timestamp_texts(stamps),
            segments,
            totals,
            strict=True,
        ):
            cells = zeros.copy()
            if tots:
                if clean or UNPASTABLE.search(tots) is None:
                    for item in tots.split(","):
                        mid, _, texts = item.partition(":")
                        cells[columns[mid]] = texts.split(":")
                    if len(cells) != width:
                        cells = self._spelled(tots)
                else:
                    cells = self._spelled(tots)
            rows.append([unit_id, variants[vid], stamp, *segment_cells[segs], *cells])
        return rows

    def _spelled(self, tots: str) -> list[str]:
        cells = self._zeros.copy()
        for columns, texts in map(self._items.__getitem__, tots.split(",")):
            cells[columns] = texts
        return cells


def _placed(pairs: tuple[tuple[int, str], ...]) -> tuple[slice, tuple[str, ...]]:
    """(index, cell) pairs (consecutive columns) as the slice of the row they fill."""
    if not pairs:
        return slice(0, 0), ()
    return slice(pairs[0][0], pairs[-1][0] + 1), tuple(text for _, text in pairs)


class _Memo(dict[str, Any]):
    """A bounded memo: segment lists and total items repeat across an experiment's units."""

    def __init__(self, compute: Callable[[str], Any]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str) -> Any:
        found = self.compute(key)
        if len(self) < MEMO_LIMIT:
            self[key] = found
        return found


class LineDecoder:
    """Records of one experiment straight as the export's CSV lines (:class:`RowDecoder`'s
    cells as ``csv.writer`` writes them): one regex match and one f-string per unit; a
    ``KeyError`` as for :class:`UnitDecoder`.

    The regex, compiled per read, matches a record as the scripts write it in the common
    case: a ten-digit timestamp with up to three decimals, each metric's item at most once
    and in the definition's column order, its texts their own cells. Its groups are the
    variant id, the timestamp's tens of seconds and the rest, the segment ids and a group per
    totals column ("0" when the item or a ratio's denominator is missing, as
    :class:`RowDecoder` fills it). A unit whose record does not match (items in another
    order, a metric the definition dropped, a total spelled otherwise) is written from
    :class:`RowDecoder`'s cells; a unit id that ``csv.writer`` would quote or ``safe_text``
    defuse, through them: the bytes are the same either way. (Reading a whole bucket with
    one ``findall`` and ``map`` over its columns ran more instructions than this loop.)"""

    def __init__(self, definition: Definition, names: Mapping[str, str], cells: UnitCells):
        ids = RecordIds(definition, names)
        self.cells = cells
        self.rows = RowDecoder(definition, names, cells)
        quoted = cells.csv_field
        self.variants = {id_: quoted(cells.text(variant)) for id_, variant in ids.variants.items()}
        self._segments = _Memo(
            lambda segs: "".join("," + quoted(cells.text(v)) for v in ids.segment_values(segs))
        )
        record = re.compile(
            r"([^|]*+)\|([0-9]{9})([0-9](?:\.[0-9]{1,3}+|))\|([^|]*+)\|[^|]*+\|(?!,)" + _totals(ids)
        )
        # No totals columns: the line has no "," before them; every unit goes through cells.
        never: Callable[[str], re.Match[str] | None] = lambda record: None  # noqa: E731
        self.match = record.fullmatch if ids.layout.width else never
        self.zero = cells.number(0.0)

    def __call__(self, unit_ids: Sequence[str], records: Sequence[str]) -> list[str]:
        """Records and their units' ids (in the same order) as lines, in their order."""
        cells = self.cells
        keys = ids = unit_ids
        joined = "\x00" + "\x00".join(keys)
        # str's own search: a regex scan of the ids was ~1,000 instructions per unit under
        # callgrind, these searches a few dozen
        if any(unsafe in joined for unsafe in cells.unsafe_in_ids):
            ids = list(map(cells.csv_field, cells.unit_ids(keys)))
        match, variants, zero, join = self.match, self.variants, self.zero, ",".join
        # The memos are dict subclasses, whose subscript is a Python-level __getitem__ call
        # (~600 instructions more each under callgrind): their bound __getitem__ is dict's own.
        segments, tens = self._segments.__getitem__, cells.tens_prefixes.__getitem__
        last, spelled = cells.last_seconds, self._spelled
        return [
            f"{unit_id},{variants[parts[0]]},{prefix}{last[parts[2]]}{segments(parts[3])},"
            f"{join(parts[4:])}\r\n"
            if (found := match(record)) and (prefix := tens((parts := found.groups(zero))[1]))
            else spelled(key, record)
            for unit_id, key, record in zip(ids, keys, records, strict=True)
        ]

    def _spelled(self, unit_id: str, record: str) -> str:
        """The line of :class:`RowDecoder`'s cells of one unit."""
        return self.cells.csv_line(self.rows([unit_id], [record])[0])


def _totals(ids: RecordIds) -> str:
    """The regex of a record's totals in the definition's column order, a group per column:
    each metric's item optional, after a comma or, first, right after the record's ``|``
    (the caller's ``(?!,)`` there: no comma first); a ratio's denominator optional; a column
    whose metric has no id yet, a group that never matches.

    Optional as ``(?:...|)``, not ``(?:...)?``: sre runs a ``?`` on a group as a repeat that
    saves every group's marks at each step, the alternation as a branch that does not (with
    the possessive quantifiers, half the instructions of a match under callgrind)."""
    by_column = {i: (mid, d) for mid, (i, d) in ids.metrics.items()}
    parts = []
    column = 0
    while column < ids.layout.width:
        if column not in by_column:  # no id: never written, its cell "0"
            column += 1
            parts.append("(?:(?!)()|)")
            continue
        mid, d = by_column[column]
        item = f"{re.escape(mid)}:{PASTED}" + (f"(?::{PASTED}|)" if d >= 0 else "")
        parts.append(f"(?:(?:,|(?<=\\|)){item}|)")
        column += 2 if d >= 0 else 1
    return "".join(parts)
