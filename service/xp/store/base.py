"""The storage interface every backend implements, and its one exception."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence

from xp.attribution.hold import HoldPolicy
from xp.attribution.ops import EventIndex, Op, Outcome, outcomes, plan_events
from xp.definitions.fingerprint import Recorded
from xp.definitions.model import Definition
from xp.events.model import Event
from xp.store.model import ExperimentData, UnitCells, UnitLayout, UnitRow, UnitValues


class StoreError(Exception):
    """The store failed (connection lost, disk full, bad URL); the driver's error is chained."""


class Store(abc.ABC):
    """Exposures and conversions in, exact sufficient statistics and per-unit rows out.

    Thread-safe; after ``os.fork()`` a child opens its own connections on first use.

    Time: the ``now`` of each write (the service's clock when it received the batch) decides
    the UTC day of the write, hence which daily snapshot ("look") it falls after, and how
    long a held conversion has waited (docs/storage.md, "Looks" and "Held conversions").
    """

    _index: EventIndex | None = None
    hold: HoldPolicy = HoldPolicy()

    def ingest(
        self, events: Sequence[Event], definitions: Mapping[str, Definition], now: float
    ) -> list[Outcome]:
        """Record valid events against the live ``definitions``; one outcome per event.

        The one way in for every exposure and conversion (``POST /v1/events`` and the
        exposures of ``POST /v1/assign``). Each (event, experiment) pair is applied atomically
        and at most once per event id.
        """
        index = self._index
        if index is None or index.definitions is not definitions:
            index = self._index = EventIndex(definitions)
        planned = plan_events(events, index, now)
        ops = [op for p in planned for op in p.ops]
        codes = self._apply(ops, now) if ops else []
        if len(codes) != len(ops):  # a short answer would misattribute every later event
            raise StoreError(f"the store answered {len(codes)} codes for {len(ops)} writes")
        return outcomes(planned, codes)

    @abc.abstractmethod
    def _apply(self, ops: Sequence[Op], now: float) -> list[int]:
        """Apply ops in order at store time ``now``; one result code (``xp.attribution.ops``)
        per op."""

    @abc.abstractmethod
    def experiment_stats(self, definition: Definition) -> ExperimentData:
        """The sufficient statistics of one experiment, per variant, day and segment."""

    def iter_units(self, definition: Definition) -> Iterator[UnitRow]:
        """Every exposed unit of one experiment, streamed in no particular order."""
        layout = UnitLayout.of(definition)
        return (layout.row(values) for values in self.iter_unit_values(definition))

    @abc.abstractmethod
    def iter_unit_values(self, definition: Definition) -> Iterator[UnitValues]:
        """:meth:`iter_units` positionally (:class:`UnitValues`), what the export reads."""

    def iter_unit_rows(self, definition: Definition, cells: UnitCells) -> Iterator[list[str]]:
        """Every exposed unit as the export's CSV cells, spelled by ``cells``; a backend may
        override it to go from its records to cells without :class:`UnitValues`."""
        return map(cells, self.iter_unit_values(definition))

    def iter_unit_lines(
        self, definition: Definition, cells: UnitCells
    ) -> Iterator[list[str]] | None:
        """Every exposed unit as its CSV line (what ``csv.writer`` writes for the cells of
        :meth:`iter_unit_rows`, CRLF included), in lists (a read's lines each: the export
        cuts them into chunks by slicing, not line by line), for a backend that reads records
        as text and can write the lines more cheaply than its rows can be written; None (the
        default): the export writes :meth:`iter_unit_rows` itself."""
        return None

    @abc.abstractmethod
    def erase_unit(
        self, unit_id: str, definitions: Mapping[str, Definition], now: float | None = None
    ) -> int:
        """Remove a unit everywhere (its held conversions too) and its contribution from every
        current statistic; past daily snapshots, anonymous sums, stay as they were.

        Returns how many experiments it was exposed in. Experiments no longer in
        ``definitions`` are erased too. ``now`` (default: the clock) is the write's time.
        """

    @abc.abstractmethod
    def ping(self) -> bool:
        """Whether the store answers."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store reopens them if used again."""

    # -- assignment fingerprints (xp.definitions.fingerprint) -------------------------------

    @abc.abstractmethod
    def claim_fingerprint(self, experiment: str, fingerprint: str, definition_json: str) -> str:
        """Record ``fingerprint`` for ``experiment`` unless one is recorded (first writer wins);
        return the recorded one. When they are equal, ``definition_json`` becomes the last
        definition of the experiment (what an archived experiment is shown with)."""

    @abc.abstractmethod
    def recorded_definitions(self) -> dict[str, Recorded]:
        """Every experiment id with a recorded fingerprint, with it and its last definition."""

    # -- sticky assignment (xp.sticky, XP_STICKY) -------------------------------------------

    @abc.abstractmethod
    def sticky_variants(
        self, records: Sequence[tuple[str, str]], ttl: float | None = None
    ) -> list[str | None]:
        """The remembered variant of each ``(experiment@phase, unit id)``, None where there is
        none or it expired, in one round trip (per node on a cluster). With ``ttl`` (seconds)
        a record found lives ``ttl`` more (refreshed on use; SQLite: once it is past half)."""

    @abc.abstractmethod
    def remember_variants(
        self, records: Sequence[tuple[str, str, str]], ttl: float | None = None
    ) -> None:
        """Remember each ``(experiment@phase, unit id, variant)``, replacing what was there,
        for ``ttl`` seconds (None: for ever). :meth:`erase_unit` removes a unit's records."""
