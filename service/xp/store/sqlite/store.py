"""The SQLite backend: one file in WAL mode, safe for several worker processes on one host.

Each thread of each process has its own connection (opened on first use; a forked child
never touches its parent's). Writes run in ``BEGIN IMMEDIATE`` transactions, one per batch,
so the whole batch (and therefore every event in it) is applied atomically, and a writer
waits up to ``busy_timeout`` for another to finish instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from xp.attribution.hold import HoldPolicy
from xp.attribution.ops import ConversionOp, ExposureOp, Op
from xp.definitions.fingerprint import Recorded
from xp.definitions.model import Definition
from xp.store.base import Store, StoreError
from xp.store.model import (
    STAT_FIELDS,
    ExperimentData,
    RawStats,
    UnitLayout,
    UnitValues,
    experiment_data,
    look_scope,
)
from xp.store.sqlite import writes
from xp.store.sqlite.pending import Pending

BUSY_TIMEOUT_MS = 30_000
PAGE_ROWS = 1000
STICKY_CLEANUP = 100  # expired sticky records removed per write, at most

# Connections a forked child inherited: kept referenced and never closed, because closing
# them in the child could release the parent's locks (SQLite: "do not carry a connection
# across a fork").
_INHERITED: list[sqlite3.Connection] = []
_STORES: weakref.WeakSet[SqliteStore] = weakref.WeakSet()


class SqliteStore(Store):
    def __init__(self, path: str | Path, hold: HoldPolicy | None = None) -> None:
        if hold is not None:  # set before any use: a store is never seen half-configured
            self.hold = hold
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        _STORES.add(self)
        schema = (resources.files("xp.store.sqlite") / "schema.sql").read_text("utf-8")
        conn = self._conn()
        try:
            _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            _add_sticky_expiry(conn)
            conn.executescript(schema)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {str(self.path)!r}: {exc}") from exc

    # -- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=30
                )
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open SQLite store {str(self.path)!r}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _forget_parent_connections(self) -> None:
        """In a forked child: the parent's connections stay untouched; open new ones."""
        _INHERITED.extend(self._connections)
        self._connections = []
        self._local = threading.local()
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute(f"BEGIN {mode}")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite failed: {exc}") from exc
        try:
            yield conn
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may have rolled back already (e.g. after SQLITE_FULL)
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"SQLite failed: {exc}") from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite failed: {exc}") from exc

    # -- writing ---------------------------------------------------------------------------

    def _apply(self, ops: Sequence[Op], now: float) -> list[int]:
        codes = []
        pending = Pending(writes.STATS_UPSERT)
        with self._transaction() as conn:
            touched: set[str] = set()
            for op in ops:
                if op.experiment not in touched:  # once per experiment and batch
                    touched.add(op.experiment)
                    writes.roll_day(conn, op.experiment, now)  # before its pending rows
                    writes.sweep(conn, pending, op.experiment, now)
                if isinstance(op, ExposureOp):
                    codes.append(writes.exposure(conn, pending, op, now))
                elif isinstance(op, ConversionOp):
                    codes.append(writes.conversion(conn, pending, op, now, self.hold))
            pending.flush(conn)  # one upsert per distinct statistics row of the batch
        return codes

    def erase_unit(
        self, unit_id: str, definitions: Mapping[str, Definition], now: float | None = None
    ) -> int:
        # The units_by_unit and held_by_unit indexes find every experiment, defined or not.
        pending = Pending(writes.STATS_UPSERT)
        with self._transaction() as conn:
            conn.execute("DELETE FROM sticky_variants WHERE unit_id = ?", (unit_id,))
            erased = writes.erase(conn, pending, unit_id, time.time() if now is None else now)
            pending.flush(conn)
            return erased

    # -- reading ---------------------------------------------------------------------------

    def experiment_stats(self, definition: Definition) -> ExperimentData:
        e = (definition.key,)
        with self._transaction("DEFERRED") as conn:  # one consistent snapshot
            counts = conn.execute(
                "SELECT scope_kind, scope_name, scope_value, variant, n FROM unit_counts"
                " WHERE experiment = ?",
                e,
            ).fetchall()
            sums = conn.execute(
                "SELECT scope_kind, scope_name, scope_value, variant, metric,"
                f" {', '.join(STAT_FIELDS)} FROM metric_stats WHERE experiment = ?",
                e,
            ).fetchall()
            diagnostics = conn.execute(
                "SELECT name, count FROM diagnostics WHERE experiment = ?", e
            ).fetchall()
            day = conn.execute("SELECT day FROM write_days WHERE experiment = ?", e).fetchone()
            look_counts = conn.execute(
                "SELECT day, variant, n FROM look_counts WHERE experiment = ?", e
            ).fetchall()
            look_sums = conn.execute(
                f"SELECT day, variant, metric, {', '.join(STAT_FIELDS)} FROM look_stats"
                " WHERE experiment = ?",
                e,
            ).fetchall()
        raw = RawStats(diagnostics=dict(diagnostics), last_day=None if day is None else day[0])
        for kind, name, value, variant, n in counts:
            raw.add_count((kind, name, value), variant, n)
        for kind, name, value, variant, metric, *values in sums:
            for stat, number in zip(STAT_FIELDS, values, strict=True):
                raw.add_sum((kind, name, value), variant, metric, stat, number)
        for look_day, variant, n in look_counts:
            raw.add_count(look_scope(look_day), variant, n)
        for look_day, variant, metric, *values in look_sums:
            for stat, number in zip(STAT_FIELDS, values, strict=True):
                raw.add_sum(look_scope(look_day), variant, metric, stat, number)
        return experiment_data(definition, raw)

    def iter_unit_values(self, definition: Definition) -> Iterator[UnitValues]:
        # Pages by unit id, each read in its own short transaction: no cursor stays open
        # between pages, so writers are never held up by a slow reader.
        e = definition.key
        layout = UnitLayout.of(definition)
        segments_of = _SegmentsReader(layout.segments)
        empty = (0.0,) * layout.width
        last = ""
        while True:
            with self._transaction("DEFERRED") as conn:
                units = conn.execute(
                    "SELECT unit_id, variant, ts, segments FROM units"
                    " WHERE experiment = ? AND unit_id > ? ORDER BY unit_id LIMIT ?",
                    (e, last, PAGE_ROWS),
                ).fetchall()
                if not units:
                    return
                totals: dict[str, list[float]] = {}
                for unit_id, metric, total, den in conn.execute(
                    "SELECT unit_id, metric, total, den FROM unit_totals"
                    " WHERE experiment = ? AND unit_id BETWEEN ? AND ?",
                    (e, units[0][0], units[-1][0]),
                ):
                    slot = layout.slots.get(metric)
                    if slot is None:  # a metric the definition no longer has
                        continue
                    mine = totals.get(unit_id)
                    if mine is None:
                        mine = totals[unit_id] = list(empty)
                    mine[slot[0]] = total
                    if slot[1] >= 0:
                        mine[slot[1]] = den or 0.0
            for unit_id, variant, ts, segments in units:
                found = totals.get(unit_id)
                yield UnitValues(
                    unit_id,
                    variant,
                    ts,
                    segments_of(segments),
                    empty if found is None else tuple(found),
                )
            last = units[-1][0]

    def ping(self) -> bool:
        """True when the database answers; :class:`StoreError` saying why when it does not."""
        try:
            return self._conn().execute("SELECT 1").fetchone() == (1,)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for conn in connections:
            conn.close()

    # -- assignment fingerprints -----------------------------------------------------------

    def claim_fingerprint(self, experiment: str, fingerprint: str, definition_json: str) -> str:
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO fingerprints VALUES (?, ?, ?, ?, ?)",
                (experiment, fingerprint, definition_json, now, now),
            )
            (stored,) = conn.execute(
                "SELECT fingerprint FROM fingerprints WHERE experiment = ?", (experiment,)
            ).fetchone()
            if stored == fingerprint:
                conn.execute(
                    "UPDATE fingerprints SET definition = ?, updated_at = ? WHERE experiment = ?",
                    (definition_json, now, experiment),
                )
        return str(stored)

    def recorded_definitions(self) -> dict[str, Recorded]:
        try:
            rows = (
                self._conn()
                .execute("SELECT experiment, fingerprint, definition FROM fingerprints")
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite failed: {exc}") from exc
        return {e: Recorded(e, f, d) for e, f, d in rows}

    # -- sticky assignment -----------------------------------------------------------------

    def sticky_variants(
        self, records: Sequence[tuple[str, str]], ttl: float | None = None
    ) -> list[str | None]:
        now = time.time()
        query = (
            "SELECT variant, expires FROM sticky_variants WHERE experiment = ? AND unit_id = ?"
            " AND (expires IS NULL OR expires > ?)"
        )
        try:
            conn = self._conn()
            rows = [conn.execute(query, (*record, now)).fetchone() for record in records]
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite failed: {exc}") from exc
        if ttl is not None:
            # Refresh on use, but write only records past half their life: at most one write
            # per record every ttl / 2, not one per assignment.
            stale = [
                (now + ttl, *record)
                for record, row in zip(records, rows, strict=True)
                if row is not None and (row[1] is None or row[1] < now + ttl / 2)
            ]
            if stale:
                with self._transaction() as conn:
                    conn.executemany(
                        "UPDATE sticky_variants SET expires = ?"
                        " WHERE experiment = ? AND unit_id = ?",
                        stale,
                    )
        return [None if row is None else str(row[0]) for row in rows]

    def remember_variants(
        self, records: Sequence[tuple[str, str, str]], ttl: float | None = None
    ) -> None:
        if not records:
            return
        now = time.time()
        expires = None if ttl is None else now + ttl
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO sticky_variants VALUES (?, ?, ?, ?)",
                [(*record, expires) for record in records],
            )
            # Bounded cleanup: each write removes at most STICKY_CLEANUP expired records.
            conn.execute(
                "DELETE FROM sticky_variants WHERE (experiment, unit_id) IN (SELECT experiment,"
                " unit_id FROM sticky_variants WHERE expires <= ? ORDER BY expires LIMIT ?)",
                (now, STICKY_CLEANUP),
            )


def _add_sticky_expiry(conn: sqlite3.Connection) -> None:
    """Files written before sticky records expired get the ``expires`` column (NULL: never)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sticky_variants)")}
    if columns and "expires" not in columns:
        conn.execute("ALTER TABLE sticky_variants ADD COLUMN expires REAL")


def _retry_busy(action: Callable[[], object], attempts: int = 50) -> None:
    """Run ``action`` again while another process holds the lock a journal-mode change needs."""
    for attempt in range(attempts):
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forget_parent_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _SegmentsReader:
    """A unit's stored segments (JSON) as values in the definition's order; the few distinct
    JSON texts an experiment has are decoded once each (up to a bound)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._seen: dict[str, tuple[str | None, ...]] = {}

    def __call__(self, text: str) -> tuple[str | None, ...]:
        found = self._seen.get(text)
        if found is None:
            stored = dict(json.loads(text))
            found = tuple(stored.get(name) for name in self.names)
            if len(self._seen) < 10_000:
                self._seen[text] = found
        return found
