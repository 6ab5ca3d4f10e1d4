"""Sticky records expire ``ttl`` seconds after their last use (``XP_STICKY_TTL_DAYS``): on
SQLite (an ``expires`` column, a bounded cleanup), Redis and a Redis Cluster (key expiry)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from xp.settings import Settings, SettingsError
from xp.store import Store, open_store


def test_a_record_expires_unless_used(store: Store) -> None:
    store.remember_variants([("exp@1", "used", "treatment"), ("exp@1", "idle", "control")], 2)
    store.remember_variants([("exp@1", "kept", "control")])  # no ttl: for ever
    time.sleep(1.2)  # past half the life: the read refreshes it (SQLite writes only then)
    assert store.sticky_variants([("exp@1", "used")], 2) == ["treatment"]
    time.sleep(1.2)
    found = store.sticky_variants([("exp@1", "idle"), ("exp@1", "used"), ("exp@1", "kept")], 2)
    assert found == [None, "treatment", "control"]


def test_without_a_ttl_nothing_expires(store: Store) -> None:
    store.remember_variants([("exp@1", "u", "control")], None)
    assert store.sticky_variants([("exp@1", "u")], None) == ["control"]


def rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM sticky_variants").fetchone()[0])


def test_sqlite_cleans_up_expired_records_a_bounded_number_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "xp.sqlite3"
    store = open_store(f"sqlite:///{path}", tmp_path)
    try:
        store.remember_variants([("exp@1", f"u-{i}", "control") for i in range(250)], 1)
        time.sleep(1.1)
        assert rows(path) == 250  # expired, not yet removed: reads ignore them
        assert store.sticky_variants([("exp@1", "u-0")], 1) == [None]
        store.remember_variants([("exp@1", "new", "treatment")], 1)
        assert rows(path) == 251 - 100  # one write removes at most 100
        store.remember_variants([("exp@1", "new-2", "treatment")], 1)
        store.remember_variants([("exp@1", "new-3", "treatment")], 1)
        assert rows(path) == 3
    finally:
        store.close()


def test_sqlite_files_from_before_the_ttl_keep_their_records(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE sticky_variants (experiment TEXT NOT NULL, unit_id TEXT NOT NULL,"
            " variant TEXT NOT NULL, PRIMARY KEY (experiment, unit_id)) WITHOUT ROWID"
        )
        conn.execute("INSERT INTO sticky_variants VALUES ('exp@1', 'u-1', 'treatment')")
    conn.close()
    store = open_store(f"sqlite:///{path}", tmp_path)
    try:
        assert store.sticky_variants([("exp@1", "u-1")], 60) == ["treatment"]  # now dated
        store.remember_variants([("exp@1", "u-2", "control")], 60)
        assert store.sticky_variants([("exp@1", "u-2")], 60) == ["control"]
    finally:
        store.close()


def test_the_setting() -> None:
    assert Settings.from_env({}).sticky_ttl == 90 * 86_400
    assert Settings.from_env({"XP_STICKY_TTL_DAYS": "0.5"}).sticky_ttl == 43_200
    assert Settings.from_env({"XP_STICKY_TTL_DAYS": "0"}).sticky_ttl is None
    for bad in ("-1", "soon", "inf", "nan"):
        with pytest.raises(SettingsError, match="XP_STICKY_TTL_DAYS"):
            Settings.from_env({"XP_STICKY_TTL_DAYS": bad})
