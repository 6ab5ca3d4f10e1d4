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

from xp.attribution.ops import (
    ACCEPTED,
    BEFORE_EXPOSURE,
    DUPLICATE,
    NOT_EXPOSED,
    OUTSIDE_WINDOW,
    VARIANT_MISMATCH,
    ConversionOp,
    ExposureOp,
    Op,
    default_exposure_key,
    deltas,
    increments,
)
from xp.attribution.scopes import unit_scopes
from xp.definitions.model import Definition
from xp.store.base import Store, StoreError
from xp.store.model import (
    STAT_FIELDS,
    ExperimentData,
    RawStats,
    UnitLayout,
    UnitValues,
    experiment_data,
)

BUSY_TIMEOUT_MS = 30_000
PAGE_ROWS = 1000

COUNT_UPSERT = """
    INSERT INTO unit_counts VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET n = n + excluded.n
"""
STATS_UPSERT = f"""
    INSERT INTO metric_stats (experiment, scope_kind, scope_name, scope_value, variant, metric,
                              {", ".join(STAT_FIELDS)})
    VALUES (?, ?, ?, ?, ?, ?, {", ".join("?" for _ in STAT_FIELDS)})
    ON CONFLICT DO UPDATE SET {", ".join(f"{s} = {s} + excluded.{s}" for s in STAT_FIELDS)}
"""
DIAGNOSTIC_UPSERT = """
    INSERT INTO diagnostics VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1
"""

# Connections a forked child inherited: kept referenced and never closed, because closing
# them in the child could release the parent's locks (SQLite: "do not carry a connection
# across a fork").
_INHERITED: list[sqlite3.Connection] = []
_STORES: weakref.WeakSet[SqliteStore] = weakref.WeakSet()


class SqliteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        _STORES.add(self)
        schema = (resources.files("xp.store.sqlite") / "schema.sql").read_text("utf-8")
        conn = self._conn()
        try:
            _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
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

    def _apply(self, ops: Sequence[Op]) -> list[int]:
        with self._transaction() as conn:
            return [
                _exposure(conn, op) if isinstance(op, ExposureOp) else _conversion(conn, op)
                for op in ops
            ]

    def erase_unit(self, unit_id: str, definitions: Mapping[str, Definition]) -> int:
        # The units_by_unit index finds every experiment, listed in definitions or not.
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT experiment, variant, ts, segments, covariates FROM units WHERE unit_id = ?",
                (unit_id,),
            ).fetchall()
            for experiment, variant, ts, segments, covariates in rows:
                _erase(conn, experiment, unit_id, variant, ts, segments, covariates)
        return len(rows)

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
        raw = RawStats(diagnostics=dict(diagnostics))
        for kind, name, value, variant, n in counts:
            raw.add_count((kind, name, value), variant, n)
        for kind, name, value, variant, metric, *values in sums:
            for stat, number in zip(STAT_FIELDS, values, strict=True):
                raw.add_sum((kind, name, value), variant, metric, stat, number)
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


def _exposure(conn: sqlite3.Connection, op: ExposureOp) -> int:
    e = op.experiment
    row = conn.execute(
        "SELECT variant FROM units WHERE experiment = ? AND unit_id = ?", (e, op.unit_id)
    ).fetchone()
    if row is not None:
        if row[0] == op.variant or not _first_time(conn, e, op.event_key):
            return DUPLICATE
        conn.execute(DIAGNOSTIC_UPSERT, (e, "variant_mismatch"))
        return VARIANT_MISMATCH
    conn.execute(
        "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?)",
        (e, op.unit_id, op.variant, op.ts, json.dumps(op.segments), json.dumps(op.covariates)),
    )
    scopes = unit_scopes(op.ts, op.segments)
    conn.executemany(COUNT_UPSERT, [(e, *scope, op.variant, 1) for scope in scopes])
    conn.executemany(
        STATS_UPSERT,
        [
            (e, *scope, op.variant, metric, *_stat_row({"sum_x": x, "sum_x2": x * x, "n_x": 1}))
            for metric, x in op.covariates
            for scope in scopes
        ],
    )
    return ACCEPTED


def _conversion(conn: sqlite3.Connection, op: ConversionOp) -> int:
    e = op.experiment
    if not _first_time(conn, e, op.event_key):
        return DUPLICATE
    row = conn.execute(
        "SELECT variant, ts, segments, covariates FROM units WHERE experiment = ? AND unit_id = ?",
        (e, op.unit_id),
    ).fetchone()
    if row is None:
        conn.execute(DIAGNOSTIC_UPSERT, (e, "not_exposed"))
        return NOT_EXPOSED
    variant, exposed_at, segments, covariates = row
    after = op.ts - exposed_at
    if after < 0:
        conn.execute(DIAGNOSTIC_UPSERT, (e, "before_exposure"))
        return BEFORE_EXPOSURE
    scopes = unit_scopes(exposed_at, json.loads(segments))
    xs = dict(json.loads(covariates))
    attributed = False
    for rule in op.rules:
        if not rule.metric.in_window(after):
            conn.execute(DIAGNOSTIC_UPSERT, (e, "outside_window"))
            continue
        attributed = True
        has_den = rule.kind.has_denominator
        found = conn.execute(
            "SELECT total, den FROM unit_totals"
            " WHERE experiment = ? AND unit_id = ? AND metric = ?",
            (e, op.unit_id, rule.name),
        ).fetchone()
        total, den = (found[0], found[1] or 0.0) if found else (0.0, 0.0)
        d, dd = deltas(rule, op.value, total, den)
        if d == 0 and dd == 0:
            continue
        conn.execute(
            "INSERT OR REPLACE INTO unit_totals VALUES (?, ?, ?, ?, ?)",
            (e, op.unit_id, rule.name, total + d, den + dd if has_den else None),
        )
        change = _stat_row(increments(total, den, d, dd, xs.get(rule.name), has_den))
        conn.executemany(
            STATS_UPSERT, [(e, *scope, variant, rule.name, *change) for scope in scopes]
        )
    return ACCEPTED if attributed else OUTSIDE_WINDOW


def _erase(
    conn: sqlite3.Connection,
    e: str,
    unit_id: str,
    variant: str,
    ts: float,
    segments: str,
    covariates: str,
) -> None:
    scopes = unit_scopes(ts, json.loads(segments))
    xs = dict(json.loads(covariates))
    conn.executemany(COUNT_UPSERT, [(e, *scope, variant, -1) for scope in scopes])
    changes: dict[str, dict[str, float]] = {
        metric: {"sum_x": -x, "sum_x2": -x * x, "n_x": -1} for metric, x in xs.items()
    }
    for metric, total, den in conn.execute(
        "SELECT metric, total, den FROM unit_totals WHERE experiment = ? AND unit_id = ?",
        (e, unit_id),
    ).fetchall():
        change = changes.setdefault(metric, {})
        change.update(sum=-total, sum_squares=-total * total)
        if den is not None:
            change.update(den_sum=-den, den_sum_squares=-den * den, sum_product=-total * den)
        if metric in xs:
            change["sum_xy"] = -xs[metric] * total
    conn.executemany(
        STATS_UPSERT,
        [
            (e, *scope, variant, metric, *_stat_row(change))
            for metric, change in changes.items()
            for scope in scopes
        ],
    )
    conn.execute("DELETE FROM unit_totals WHERE experiment = ? AND unit_id = ?", (e, unit_id))
    conn.execute("DELETE FROM units WHERE experiment = ? AND unit_id = ?", (e, unit_id))
    conn.execute(
        "DELETE FROM seen_events WHERE experiment = ? AND event_key = ?",
        (e, default_exposure_key(e, unit_id)),
    )


def _first_time(conn: sqlite3.Connection, experiment: str, event_key: str) -> bool:
    """Record the event id; False when it was there already."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO seen_events VALUES (?, ?)", (experiment, event_key)
    )
    return cursor.rowcount == 1


def _stat_row(change: Mapping[str, float]) -> tuple[float, ...]:
    return tuple(change.get(stat, 0) for stat in STAT_FIELDS)


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
