"""Unit records read back for the export (:meth:`RedisStore.iter_unit_values` and
:meth:`RedisStore.iter_unit_rows`).

A unit record is ``variant id|ts|segment ids|covariates|totals`` (``lua/lib.lua``), the ids
those of the experiment's names hash. :class:`RecordIds` maps every id to its place in the
export once per read; :class:`UnitDecoder` then turns a record into :class:`UnitValues` and
:class:`RowDecoder` straight into the export's CSV cells, a few splits and dict lookups each.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from xp.definitions.model import Definition
from xp.store.model import UnitCells, UnitLayout, UnitValues

SEP = "\x1f"  # between a name's kind, segment and value in the names hash
_new = tuple.__new__
MEMO_LIMIT = 100_000  # entries per memo: an export of hostile data stays bounded
N = TypeVar("N")


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

    def __call__(self, unit_id: str, record: str) -> UnitValues:
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
    pass per record, no :class:`UnitValues` in between. Each variant, segment value and total
    text is spelled once (memos); a ``KeyError`` as for :class:`UnitDecoder`."""

    def __init__(self, definition: Definition, names: Mapping[str, str], cells: UnitCells):
        ids = RecordIds(definition, names)
        self.variants = {id_: cells.text(variant) for id_, variant in ids.variants.items()}
        self.unit_id, self.timestamp = cells.unit_id, cells.timestamp_text
        text, number = cells.text, cells.number
        self._segments = _Memo(lambda segs: [text(v) for v in ids.segment_values(segs)])
        self._items = _Memo(functools.partial(ids.total_item, number=cells.number_text))
        self._item = self._items.__getitem__
        self._indices = range(ids.layout.width)
        self._zeros = [number(0.0)] * ids.layout.width

    def __call__(self, unit_id: str, record: str) -> list[str]:
        vid, ts, segs, _covariates, tots = record.split("|")
        row = [self.unit_id(unit_id), self.variants[vid], self.timestamp(ts)]
        row += self._segments[segs]
        if not tots:
            return row + self._zeros
        # Every step in C but a memo's miss: the items' (index, cell) pairs as a dict, read
        # back in column order with "0" where the unit has no total.
        placed = dict(_chain(map(self._item, tots.split(","))))
        row += map(placed.get, self._indices, self._zeros)
        return row


_chain = itertools.chain.from_iterable


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
