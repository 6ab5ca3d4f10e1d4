"""A transaction's statistics and diagnostics increments, written once per distinct row.

Within one write transaction nothing reads ``unit_counts``, ``metric_stats`` or
``diagnostics`` except the day roll, which runs before an experiment's first write of the
transaction (``writes.roll_day``) and so sees none of its pending rows. So the increments of
every event of a batch are summed here and flushed as one upsert per distinct row just before
the commit: what the per-event upserts would have left, with far fewer statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

COUNT_UPSERT = """
    INSERT INTO unit_counts VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET n = n + excluded.n
"""
DIAGNOSTIC_UPSERT = """
    INSERT INTO diagnostics VALUES (?, ?, ?)
    ON CONFLICT DO UPDATE SET count = count + excluded.count
"""

Scope = tuple[str, str, str]


class Pending:
    """Increments keyed by their row: (experiment, scope, variant[, metric]) or (experiment,
    diagnostic name)."""

    def __init__(self, stats_upsert: str) -> None:
        self._stats_upsert = stats_upsert
        self._counts: dict[tuple[str, str, str, str, str], int] = {}
        self._stats: dict[tuple[str, str, str, str, str, str], list[float]] = {}
        self._diagnostics: dict[tuple[str, str], int] = {}

    def count(self, e: str, scope: Scope, variant: str, by: int) -> None:
        key = (e, *scope, variant)
        self._counts[key] = self._counts.get(key, 0) + by

    def stats(
        self, e: str, scope: Scope, variant: str, metric: str, change: Sequence[float]
    ) -> None:
        key = (e, *scope, variant, metric)
        row = self._stats.get(key)
        if row is None:
            self._stats[key] = list(change)
        else:
            for i, by in enumerate(change):
                row[i] += by

    def diagnostic(self, e: str, name: str, by: int = 1) -> None:
        self._diagnostics[(e, name)] = self._diagnostics.get((e, name), 0) + by

    def flush(self, conn: sqlite3.Connection) -> None:
        """One upsert per distinct row, inside the caller's transaction."""
        conn.executemany(COUNT_UPSERT, [(*key, n) for key, n in self._counts.items()])
        conn.executemany(self._stats_upsert, [(*key, *row) for key, row in self._stats.items()])
        conn.executemany(DIAGNOSTIC_UPSERT, [(*key, n) for key, n in self._diagnostics.items()])
        self._counts.clear()
        self._stats.clear()
        self._diagnostics.clear()
