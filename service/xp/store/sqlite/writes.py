"""The SQLite backend's writes, each inside the caller's transaction: exposures, conversions
(attributed, or held until their unit's exposure), erasure, and the daily snapshots.

The twin of ``lua/*.lua`` for Redis; the store contract tests hold both to the same numbers.
Statistics and diagnostics increments go to a :class:`~xp.store.sqlite.pending.Pending`, which
the caller flushes, once per distinct row, before it commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from xp.attribution.hold import SWEEP_PER_WRITE, HoldPolicy
from xp.attribution.ops import (
    ACCEPTED,
    BEFORE_EXPOSURE,
    DUPLICATE,
    HELD,
    NOT_EXPOSED,
    OUTSIDE_WINDOW,
    VARIANT_MISMATCH,
    ConversionOp,
    ExposureOp,
    MetricRule,
    default_exposure_key,
    deltas,
    increments,
)
from xp.attribution.scopes import day_of, unit_scopes
from xp.store.model import STAT_FIELDS
from xp.store.sqlite.pending import Pending

STATS_UPSERT = f"""
    INSERT INTO metric_stats (experiment, scope_kind, scope_name, scope_value, variant, metric,
                              {", ".join(STAT_FIELDS)})
    VALUES (?, ?, ?, ?, ?, ?, {", ".join("?" for _ in STAT_FIELDS)})
    ON CONFLICT DO UPDATE SET {", ".join(f"{s} = {s} + excluded.{s}" for s in STAT_FIELDS)}
"""
SNAPSHOT_COUNTS = """
    INSERT OR REPLACE INTO look_counts
    SELECT experiment, ?, variant, n FROM unit_counts WHERE experiment = ? AND scope_kind = 'all'
"""
SNAPSHOT_STATS = f"""
    INSERT OR REPLACE INTO look_stats
    SELECT experiment, ?, variant, metric, {", ".join(STAT_FIELDS)}
    FROM metric_stats WHERE experiment = ? AND scope_kind = 'all'
"""


def roll_day(conn: sqlite3.Connection, e: str, now: float) -> None:
    """Before the first write of a new UTC day: snapshot the overall statistics as they stood
    at the end of the experiment's last write day. A write stamped earlier than the last
    write day (another host's clock) counts in the current day: days never go back."""
    day = day_of(now)
    row = conn.execute("SELECT day FROM write_days WHERE experiment = ?", (e,)).fetchone()
    if row is None:
        conn.execute("INSERT INTO write_days VALUES (?, ?)", (e, day))
        return
    last = int(row[0])
    if day <= last:
        return
    conn.execute(SNAPSHOT_COUNTS, (last, e))
    conn.execute(SNAPSHOT_STATS, (last, e))
    conn.execute("UPDATE write_days SET day = ? WHERE experiment = ?", (day, e))


def sweep(conn: sqlite3.Connection, pending: Pending, e: str, now: float) -> None:
    """Settle a few held conversions whose grace period is over: they count ``not_exposed``."""
    due = conn.execute(
        "SELECT unit_id, event_key FROM held_conversions"
        " WHERE experiment = ? AND expires <= ? LIMIT ?",
        (e, now, SWEEP_PER_WRITE * 4),
    ).fetchall()
    if not due:
        return
    conn.executemany(
        "DELETE FROM held_conversions WHERE experiment = ? AND unit_id = ? AND event_key = ?",
        [(e, unit_id, key) for unit_id, key in due],
    )
    pending.diagnostic(e, "held", -len(due))
    pending.diagnostic(e, "not_exposed", len(due))


def exposure(conn: sqlite3.Connection, pending: Pending, op: ExposureOp, now: float) -> int:
    e = op.experiment
    row = conn.execute(
        "SELECT variant FROM units WHERE experiment = ? AND unit_id = ?", (e, op.unit_id)
    ).fetchone()
    if row is not None:
        if row[0] == op.variant or not first_time(conn, e, op.event_key):
            return DUPLICATE
        pending.diagnostic(e, "variant_mismatch")
        return VARIANT_MISMATCH
    segments, covariates = json.dumps(op.segments), json.dumps(op.covariates)
    conn.execute(
        "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?)",
        (e, op.unit_id, op.variant, op.ts, segments, covariates),
    )
    scopes = unit_scopes(op.ts, op.segments)
    for scope in scopes:
        pending.count(e, scope, op.variant, 1)
    for metric, x in op.covariates:
        change = stat_row({"sum_x": x, "sum_x2": x * x, "n_x": 1})
        for scope in scopes:
            pending.stats(e, scope, op.variant, metric, change)
    _release_held(conn, pending, op, now, (op.variant, op.ts, segments, covariates))
    return ACCEPTED


def _release_held(
    conn: sqlite3.Connection,
    pending: Pending,
    op: ExposureOp,
    now: float,
    unit: tuple[str, float, str, str],
) -> None:
    """Attribute the unit's held conversions as if they came after the exposure."""
    e = op.experiment
    held = conn.execute(
        "SELECT event, ts, value, expires FROM held_conversions"
        " WHERE experiment = ? AND unit_id = ? ORDER BY ts, event_key",
        (e, op.unit_id),
    ).fetchall()
    if not held:
        return
    conn.execute(
        "DELETE FROM held_conversions WHERE experiment = ? AND unit_id = ?", (e, op.unit_id)
    )
    pending.diagnostic(e, "held", -len(held))
    rules = dict(op.held_rules)
    for event, ts, value, expires in held:
        if expires <= now:
            pending.diagnostic(e, "not_exposed")
        elif event in rules:  # a metric still counts the event
            attribute(conn, pending, e, op.unit_id, unit, ts, value, rules[event])


def conversion(
    conn: sqlite3.Connection, pending: Pending, op: ConversionOp, now: float, hold: HoldPolicy
) -> int:
    e = op.experiment
    if not first_time(conn, e, op.event_key):
        return DUPLICATE
    row = conn.execute(
        "SELECT variant, ts, segments, covariates FROM units WHERE experiment = ? AND unit_id = ?",
        (e, op.unit_id),
    ).fetchone()
    if row is None:
        return _hold(conn, pending, op, now, hold)
    return attribute(conn, pending, e, op.unit_id, row, op.ts, op.value, op.rules)


def _hold(
    conn: sqlite3.Connection, pending: Pending, op: ConversionOp, now: float, hold: HoldPolicy
) -> int:
    e = op.experiment
    (waiting,) = conn.execute(
        "SELECT COUNT(*) FROM held_conversions WHERE experiment = ? AND unit_id = ?",
        (e, op.unit_id),
    ).fetchone()
    if waiting >= hold.per_unit or hold.seconds <= 0:
        pending.diagnostic(e, "not_exposed")
        return NOT_EXPOSED
    conn.execute(
        "INSERT INTO held_conversions VALUES (?, ?, ?, ?, ?, ?, ?)",
        (e, op.unit_id, op.event_key, op.event, op.ts, op.value, hold.expires(now)),
    )
    pending.diagnostic(e, "held")
    return HELD


def attribute(
    conn: sqlite3.Connection,
    pending: Pending,
    e: str,
    unit_id: str,
    unit: tuple[str, float, str, str],
    ts: float,
    value: float,
    rules: Sequence[MetricRule],
) -> int:
    """One conversion at ``ts`` of an exposed unit ``(variant, exposed at, segments JSON,
    covariates JSON)``: each metric whose window holds it updates the unit's total and the sums
    of every slice the unit is in."""
    variant, exposed_at, segments, covariates = unit
    after = ts - exposed_at
    if after < 0:
        pending.diagnostic(e, "before_exposure")
        return BEFORE_EXPOSURE
    scopes = unit_scopes(exposed_at, json.loads(segments))
    xs = dict(json.loads(covariates))
    attributed = False
    for rule in rules:
        if not rule.metric.in_window(after):
            pending.diagnostic(e, "outside_window")
            continue
        attributed = True
        has_den = rule.kind.has_denominator
        found = conn.execute(
            "SELECT total, den FROM unit_totals"
            " WHERE experiment = ? AND unit_id = ? AND metric = ?",
            (e, unit_id, rule.name),
        ).fetchone()
        total, den = (found[0], found[1] or 0.0) if found else (0.0, 0.0)
        d, dd = deltas(rule, value, total, den)
        if d == 0 and dd == 0:
            continue
        conn.execute(
            "INSERT OR REPLACE INTO unit_totals VALUES (?, ?, ?, ?, ?)",
            (e, unit_id, rule.name, total + d, den + dd if has_den else None),
        )
        change = stat_row(increments(total, den, d, dd, xs.get(rule.name), has_den))
        for scope in scopes:
            pending.stats(e, scope, variant, rule.name, change)
    return ACCEPTED if attributed else OUTSIDE_WINDOW


def erase(conn: sqlite3.Connection, pending: Pending, unit_id: str, now: float) -> int:
    """Remove ``unit_id`` from every experiment, its held conversions too; how many experiments
    it was exposed in."""
    rows = conn.execute(
        "SELECT experiment, variant, ts, segments, covariates FROM units WHERE unit_id = ?",
        (unit_id,),
    ).fetchall()
    held = dict(
        conn.execute(
            "SELECT experiment, COUNT(*) FROM held_conversions WHERE unit_id = ?"
            " GROUP BY experiment",
            (unit_id,),
        ).fetchall()
    )
    for e in sorted({row[0] for row in rows} | set(held)):
        roll_day(conn, e, now)
    for experiment, variant, ts, segments, covariates in rows:
        _erase(conn, pending, experiment, unit_id, variant, ts, segments, covariates)
    for experiment, count in held.items():
        pending.diagnostic(experiment, "held", -count)
    conn.execute("DELETE FROM held_conversions WHERE unit_id = ?", (unit_id,))
    return len(rows)


def _erase(
    conn: sqlite3.Connection,
    pending: Pending,
    e: str,
    unit_id: str,
    variant: str,
    ts: float,
    segments: str,
    covariates: str,
) -> None:
    scopes = unit_scopes(ts, json.loads(segments))
    xs = dict(json.loads(covariates))
    for scope in scopes:
        pending.count(e, scope, variant, -1)
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
    for metric, change in changes.items():
        row = stat_row(change)
        for scope in scopes:
            pending.stats(e, scope, variant, metric, row)
    conn.execute("DELETE FROM unit_totals WHERE experiment = ? AND unit_id = ?", (e, unit_id))
    conn.execute("DELETE FROM units WHERE experiment = ? AND unit_id = ?", (e, unit_id))
    conn.execute(
        "DELETE FROM seen_events WHERE experiment = ? AND event_key = ?",
        (e, default_exposure_key(e, unit_id)),
    )


def first_time(conn: sqlite3.Connection, experiment: str, event_key: str) -> bool:
    """Record the event id; False when it was there already."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO seen_events VALUES (?, ?)", (experiment, event_key)
    )
    return cursor.rowcount == 1


def stat_row(change: Mapping[str, float]) -> tuple[float, ...]:
    return tuple(change.get(stat, 0) for stat in STAT_FIELDS)
