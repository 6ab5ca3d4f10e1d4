"""Unit records read back positionally, for the export (:meth:`RedisStore.iter_unit_values`).

A unit record is ``variant id|ts|segment ids|covariates|totals`` (``lua/lib.lua``), the ids
those of the experiment's names hash. :class:`UnitDecoder` maps every id to its place in
:class:`UnitValues` once per export, so a record costs a few splits and dict lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from xp.definitions.model import Definition
from xp.store.model import UnitLayout, UnitValues

SEP = "\x1f"  # between a name's kind, segment and value in the names hash
_new = tuple.__new__
MEMO_LIMIT = 100_000  # entries per memo: an export of hostile data stays bounded


class UnitDecoder:
    """Records of one experiment as :class:`UnitValues`; a ``KeyError`` for an id added to
    the names hash after it was read (the caller reads the names again)."""

    def __init__(self, definition: Definition, names: Mapping[str, str]) -> None:
        layout = UnitLayout.of(definition)
        positions = {name: i for i, name in enumerate(layout.segments)}
        self.n_segments, self.width = len(layout.segments), layout.width
        self.variants: dict[str, str] = {}
        self.segments: dict[str, tuple[int, str]] = {}  # id -> (position, value)
        self.metrics: dict[str, tuple[int, int]] = {}  # id -> (total index, denominator index)
        self.ignored: set[str] = set()  # segments and metrics the definition no longer has
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

        self._segment_lists = _Memo(self._segment_values)
        self._items = _Memo(self._total_item)
        self._zeros = (0.0,) * self.width

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

    def _segment_values(self, segs: str) -> tuple[str | None, ...]:
        """``"3,7"`` (segment ids) as values in the definition's order."""
        segments: list[str | None] = [None] * self.n_segments
        for sid in segs.split(",") if segs else ():
            found = self.segments.get(sid)
            if found is not None:
                segments[found[0]] = found[1]
            elif sid not in self.ignored:
                raise KeyError(sid)
        return tuple(segments)

    def _total_item(self, item: str) -> tuple[tuple[int, float], ...]:
        """``"<metric id>:<total>[:<denominator>]"`` as (index, value) pairs."""
        mid, _, values = item.partition(":")
        slot = self.metrics.get(mid)
        if slot is None:
            if mid in self.ignored:
                return ()
            raise KeyError(mid)
        total, _, denominator = values.partition(":")
        if slot[1] >= 0:
            return ((slot[0], float(total)), (slot[1], float(denominator or 0)))
        return ((slot[0], float(total)),)


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
