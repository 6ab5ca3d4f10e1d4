-- The SQLite store (xp/store/sqlite/store.py): one file in WAL mode, shared by every
-- worker process on the host. Every statement is idempotent; it runs at each open.
-- A slice ("scope") is (kind, name, value): ('all', '', ''), ('day', '', '2026-11-01') or
-- ('segment', 'country', 'US').

-- One row per exposed unit and experiment: the first exposure, which wins.
CREATE TABLE IF NOT EXISTS units (
    experiment  TEXT NOT NULL,
    unit_id     TEXT NOT NULL,
    variant     TEXT NOT NULL,
    ts          REAL NOT NULL,  -- first exposure, seconds since the epoch
    segments    TEXT NOT NULL,  -- JSON [[segment, value], ...] at first exposure
    covariates  TEXT NOT NULL,  -- JSON [[metric, pre-period value], ...]
    PRIMARY KEY (experiment, unit_id)
) WITHOUT ROWID;

-- Which experiments a unit is in, for erasure.
CREATE INDEX IF NOT EXISTS units_by_unit ON units (unit_id);

-- Each unit's running totals per metric: what keeps sum_squares exact.
CREATE TABLE IF NOT EXISTS unit_totals (
    experiment  TEXT NOT NULL,
    unit_id     TEXT NOT NULL,
    metric      TEXT NOT NULL,
    total       REAL NOT NULL,
    den         REAL,           -- ratio metrics: the denominator total
    PRIMARY KEY (experiment, unit_id, metric)
) WITHOUT ROWID;

-- Exposed units per slice and variant.
CREATE TABLE IF NOT EXISTS unit_counts (
    experiment   TEXT NOT NULL,
    scope_kind   TEXT NOT NULL,
    scope_name   TEXT NOT NULL,
    scope_value  TEXT NOT NULL,
    variant      TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (experiment, scope_kind, scope_name, scope_value, variant)
) WITHOUT ROWID;

-- Sufficient statistics per slice, variant and metric (see xp/store/model.py).
CREATE TABLE IF NOT EXISTS metric_stats (
    experiment       TEXT NOT NULL,
    scope_kind       TEXT NOT NULL,
    scope_name       TEXT NOT NULL,
    scope_value      TEXT NOT NULL,
    variant          TEXT NOT NULL,
    metric           TEXT NOT NULL,
    sum              REAL NOT NULL DEFAULT 0,
    sum_squares      REAL NOT NULL DEFAULT 0,
    den_sum          REAL NOT NULL DEFAULT 0,
    den_sum_squares  REAL NOT NULL DEFAULT 0,
    sum_product      REAL NOT NULL DEFAULT 0,
    sum_x            REAL NOT NULL DEFAULT 0,
    sum_x2           REAL NOT NULL DEFAULT 0,
    sum_xy           REAL NOT NULL DEFAULT 0,
    n_x              INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, scope_kind, scope_name, scope_value, variant, metric)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS diagnostics (
    experiment  TEXT NOT NULL,
    name        TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (experiment, name)
) WITHOUT ROWID;

-- Event ids already applied to an experiment ('x:' exposures, 'c:' conversions).
CREATE TABLE IF NOT EXISTS seen_events (
    experiment  TEXT NOT NULL,
    event_key   TEXT NOT NULL,
    PRIMARY KEY (experiment, event_key)
) WITHOUT ROWID;

-- The assignment fingerprint of each experiment id (xp/definitions/fingerprint.py), set by
-- its first exposure and never changed, with the last definition that took data.
CREATE TABLE IF NOT EXISTS fingerprints (
    experiment   TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    definition   TEXT NOT NULL,  -- canonical JSON of the definition's config
    claimed_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
) WITHOUT ROWID;

-- Looks (docs/storage.md): the UTC day (days since the epoch, of the write's store time) of
-- each experiment's latest write. The first write of a later day copies the overall
-- statistics, as they stood at the end of that day, into look_counts and look_stats.
CREATE TABLE IF NOT EXISTS write_days (
    experiment  TEXT NOT NULL PRIMARY KEY,
    day         INTEGER NOT NULL
) WITHOUT ROWID;

-- Exposed units per variant at the end of each day (cumulative).
CREATE TABLE IF NOT EXISTS look_counts (
    experiment  TEXT NOT NULL,
    day         INTEGER NOT NULL,
    variant     TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (experiment, day, variant)
) WITHOUT ROWID;

-- The overall sufficient statistics at the end of each day (cumulative), as metric_stats.
CREATE TABLE IF NOT EXISTS look_stats (
    experiment       TEXT NOT NULL,
    day              INTEGER NOT NULL,
    variant          TEXT NOT NULL,
    metric           TEXT NOT NULL,
    sum              REAL NOT NULL DEFAULT 0,
    sum_squares      REAL NOT NULL DEFAULT 0,
    den_sum          REAL NOT NULL DEFAULT 0,
    den_sum_squares  REAL NOT NULL DEFAULT 0,
    sum_product      REAL NOT NULL DEFAULT 0,
    sum_x            REAL NOT NULL DEFAULT 0,
    sum_x2           REAL NOT NULL DEFAULT 0,
    sum_xy           REAL NOT NULL DEFAULT 0,
    n_x              INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, day, variant, metric)
) WITHOUT ROWID;

-- Conversions of units not exposed yet, waiting for the exposure until ``expires`` (store
-- time); their event ids are in seen_events already.
CREATE TABLE IF NOT EXISTS held_conversions (
    experiment  TEXT NOT NULL,
    unit_id     TEXT NOT NULL,
    event_key   TEXT NOT NULL,
    event       TEXT NOT NULL,
    ts          REAL NOT NULL,
    value       REAL NOT NULL,
    expires     REAL NOT NULL,
    PRIMARY KEY (experiment, unit_id, event_key)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS held_by_expiry ON held_conversions (experiment, expires);
CREATE INDEX IF NOT EXISTS held_by_unit ON held_conversions (unit_id);

-- Sticky assignment (XP_STICKY): each unit's remembered variant per experiment and phase
-- (``experiment`` is ``key@phase``, xp_client.sticky.sticky_key); ``expires`` (epoch seconds,
-- NULL: never) is XP_STICKY_TTL_DAYS after the last use.
CREATE TABLE IF NOT EXISTS sticky_variants (
    experiment  TEXT NOT NULL,
    unit_id     TEXT NOT NULL,
    variant     TEXT NOT NULL,
    expires     REAL,
    PRIMARY KEY (experiment, unit_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS sticky_by_unit ON sticky_variants (unit_id);
CREATE INDEX IF NOT EXISTS sticky_by_expiry ON sticky_variants (expires);
