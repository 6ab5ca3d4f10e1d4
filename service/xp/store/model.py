"""What the store reads back: sufficient statistics per slice, and one row per exposed unit.

Both backends collect their raw counters into :class:`RawStats` and build the answer with
:func:`experiment_data`, so the two read sides cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, Protocol

from xp.attribution.scopes import ALL, Scope, day_label
from xp.definitions.model import Definition

DIAGNOSTICS = ("variant_mismatch", "before_exposure", "outside_window", "not_exposed", "held")
# Per (slice, variant, metric) sums, in the order of SufficientStats' fields after ``n``.
STAT_FIELDS = (
    "sum",
    "sum_squares",
    "den_sum",
    "den_sum_squares",
    "sum_product",
    "sum_x",
    "sum_x2",
    "sum_xy",
    "n_x",
)


@dataclass(frozen=True, slots=True)
class SufficientStats:
    """Sums over the units of one variant (in one slice) of one metric's per-unit totals.

    ``y`` is a unit's total (0/1 for binomial and retention, the count, the sum; a ratio
    metric's numerator), ``d`` a ratio metric's denominator total and ``x`` the unit's
    pre-exposure covariate for the metric (0 for units that sent none; ``n_x`` counts those
    that did).
    """

    n: int = 0
    sum: float = 0.0  # sum of y
    sum_squares: float = 0.0  # sum of y^2
    den_sum: float = 0.0  # sum of d (ratio metrics)
    den_sum_squares: float = 0.0  # sum of d^2
    sum_product: float = 0.0  # sum of y * d
    sum_x: float = 0.0  # sum of x (CUPED)
    sum_x2: float = 0.0  # sum of x^2
    sum_xy: float = 0.0  # sum of x * y
    n_x: int = 0

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Slice:
    """The statistics of one slice of units: all of them, one day, or one segment value."""

    units: Mapping[str, int]  # variant -> exposed units
    metrics: Mapping[str, Mapping[str, SufficientStats]]  # metric -> variant -> stats


@dataclass(frozen=True, slots=True)
class ExperimentData:
    """Everything the statistics engine needs of one experiment.

    ``days`` holds the units first exposed on each UTC day (not cumulative), oldest first;
    ``segments`` maps each declared segment attribute to its values (``"(none)"`` when the
    exposure did not carry it). Slices without units are left out. ``diagnostics`` counts
    events that were not attributed, and conversions still held (see docs/storage.md).

    ``looks`` holds what was observable at the end of each UTC day with writes: the overall
    statistics (cumulative) the store snapshotted at the day boundary, oldest first, then the
    current totals under the day of the latest write (docs/stats.md, "Looks").
    """

    experiment: str
    overall: Slice
    days: Mapping[str, Slice]
    segments: Mapping[str, Mapping[str, Slice]]
    diagnostics: Mapping[str, int]
    looks: Mapping[str, Slice] = field(default_factory=dict)

    @property
    def units(self) -> Mapping[str, int]:
        return self.overall.units

    @property
    def metrics(self) -> Mapping[str, Mapping[str, SufficientStats]]:
        return self.overall.metrics

    def stats(self, metric: str, variant: str) -> SufficientStats:
        return self.overall.metrics[metric][variant]


@dataclass(frozen=True, slots=True)
class UnitRow(Mapping[str, Any]):
    """One exposed unit. Also a read-only mapping of its field names, for row renderers.

    ``metrics`` holds every metric's total (0/1 for binomial and retention, the count, the
    sum, a ratio's numerator); ``denominators`` a ratio metric's denominator total.
    """

    unit_id: str
    variant: str
    first_exposure: float
    segments: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    denominators: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        if key not in _UNIT_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_UNIT_FIELDS)

    def __len__(self) -> int:
        return len(_UNIT_FIELDS)


_UNIT_FIELDS = tuple(f.name for f in fields(UnitRow))


class UnitValues(NamedTuple):
    """One exposed unit, positionally, as the export reads it: segment values in
    ``definition.segments`` order (None: the unit has none), totals in :class:`UnitLayout`
    order. Cheaper to build and to read than a :class:`UnitRow` (``bench/export.py``)."""

    unit_id: str
    variant: str
    first_exposure: float
    segments: tuple[str | None, ...]
    totals: tuple[float, ...]


class UnitCells(Protocol):
    """How the export spells a unit as CSV cells (``xp.reports.units_csv.RowFormatter``).

    :meth:`Store.iter_unit_rows` calls it: a backend that reads its records as text may use
    the per-field methods to go from a record to its cells in one pass."""

    def __call__(self, unit: UnitValues) -> list[str]: ...

    def unit_ids(self, unit_ids: Iterable[str]) -> list[str]: ...

    def text(self, value: str | None) -> str: ...

    def number(self, value: float) -> str: ...

    def number_text(self, text: str) -> str:
        """:meth:`number` of a total given as the shortest text of its double."""
        ...

    def timestamp_texts(self, texts: Iterable[str]) -> list[str]:
        """The cells of first exposures given as the decimal texts of their seconds."""
        ...

    # For a store that writes CSV lines itself (:meth:`Store.iter_unit_lines`).

    #: What, in unit ids joined by NUL after a NUL (``"\x00" + "\x00".join(ids)``), marks
    #: one that :meth:`unit_ids` and :meth:`csv_field` would change; ids with none of them
    #: are their own cells.
    unsafe_in_ids: tuple[str, ...]

    def csv_field(self, cell: str) -> str:
        """``cell`` as ``csv.writer`` writes it: quoted when it holds ``,``, ``"``, CR or LF."""
        ...

    def csv_line(self, cells: list[str]) -> str:
        """One row of cells as ``csv.writer`` writes it, CRLF included."""
        ...

    @property
    def tens_prefixes(self) -> Mapping[str, str]:
        """Nine digits of a timestamp's seconds (its tens of seconds) -> its cell up to the
        last digit of the seconds; "" where the digits cannot be pasted (2**33 s and later)."""
        ...

    @property
    def last_seconds(self) -> Mapping[str, str]:
        """A timestamp's text after its nine digits ("2", "2.5", "2.25", "2.125") -> the rest
        of its cell ("2.500Z")."""
        ...


@dataclass(frozen=True)
class UnitLayout:
    """Where a definition's metrics sit in :attr:`UnitValues.totals`: each metric's total,
    then its denominator total when the kind has one (the export's column order)."""

    segments: tuple[str, ...]
    slots: Mapping[str, tuple[int, int]]  # metric -> (total index, denominator index or -1)
    width: int

    @classmethod
    def of(cls, definition: Definition) -> UnitLayout:
        slots: dict[str, tuple[int, int]] = {}
        width = 0
        for metric in definition.metrics:
            has_denominator = metric.traits.has_denominator
            slots[metric.name] = (width, width + 1 if has_denominator else -1)
            width += 2 if has_denominator else 1
        return cls(tuple(definition.segments), slots, width)

    def row(self, values: UnitValues) -> UnitRow:
        totals = values.totals
        return UnitRow(
            unit_id=values.unit_id,
            variant=values.variant,
            first_exposure=values.first_exposure,
            segments={
                n: v for n, v in zip(self.segments, values.segments, strict=True) if v is not None
            },
            metrics={name: totals[i] for name, (i, _) in self.slots.items()},
            denominators={name: totals[d] for name, (_, d) in self.slots.items() if d >= 0},
        )


@dataclass
class RawStats:
    """Counters as a backend stores them, before :func:`experiment_data` shapes them."""

    counts: dict[tuple[Scope, str], int] = field(default_factory=dict)  # (scope, variant)
    sums: dict[tuple[Scope, str, str], dict[str, float]] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)
    last_day: int | None = None  # UTC day (since the epoch) of the latest write

    def add_count(self, scope: Scope, variant: str, n: int) -> None:
        key = (scope, variant)
        self.counts[key] = self.counts.get(key, 0) + n

    def add_sum(self, scope: Scope, variant: str, metric: str, stat: str, value: float) -> None:
        sums = self.sums.setdefault((scope, variant, metric), {})
        sums[stat] = sums.get(stat, 0.0) + value


def look_scope(day: int) -> Scope:
    """The slice a daily snapshot is read into: the overall statistics at the end of ``day``."""
    return ("look", "", day_label(day))


def experiment_data(definition: Definition, raw: RawStats) -> ExperimentData:
    """Shape raw counters for the declared variants, metrics and segments of ``definition``."""
    scopes: dict[Scope, None] = {}
    for scope, _variant in raw.counts:
        scopes.setdefault(scope)
    by_scope = {scope: _slice(definition, raw, scope) for scope in scopes}
    days = {
        scope[2]: piece
        for scope, piece in sorted(by_scope.items())
        if scope[0] == "day" and any(piece.units.values())
    }
    segments: dict[str, dict[str, Slice]] = {name: {} for name in definition.segments}
    for scope, piece in sorted(by_scope.items()):
        kind, name, value = scope
        if kind == "segment" and name in segments and any(piece.units.values()):
            segments[name][value] = piece
    diagnostics = {name: int(raw.diagnostics.get(name, 0)) for name in DIAGNOSTICS}
    overall = by_scope.get(ALL) or _slice(definition, raw, ALL)
    # A snapshot taken before any unit was exposed shows nothing: it is no look.
    looks = {
        scope[2]: piece
        for scope, piece in sorted(by_scope.items())
        if scope[0] == "look" and any(piece.units.values())
    }
    if raw.last_day is not None and any(overall.units.values()):
        looks[day_label(raw.last_day)] = overall
    return ExperimentData(
        experiment=definition.key,
        overall=overall,
        days=days,
        segments=segments,
        diagnostics=diagnostics,
        looks=looks,
    )


def _slice(definition: Definition, raw: RawStats, scope: Scope) -> Slice:
    units = {v: int(raw.counts.get((scope, v), 0)) for v in definition.variant_keys}
    metrics: dict[str, dict[str, SufficientStats]] = {}
    for metric in definition.metrics:
        per_variant = {}
        for variant, n in units.items():
            sums = raw.sums.get((scope, variant, metric.name), {}) if n > 0 else {}
            # With no units left (all erased) the sums are zero by definition; reading them
            # as stored would show float residue.
            per_variant[variant] = SufficientStats(
                n=n,
                **{stat: sums.get(stat, 0.0) for stat in STAT_FIELDS[:-1]},
                n_x=int(round(sums.get("n_x", 0.0))),
            )
        metrics[metric.name] = per_variant
    return Slice(units, metrics)
