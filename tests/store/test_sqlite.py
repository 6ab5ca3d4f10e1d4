"""What only the SQLite backend promises, and how ``open_store`` reads a URL."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.experiments import make_definition
from xp.events.model import Conversion, Event, Exposure
from xp.store import StoreError, open_store
from xp.store.sqlite.store import SqliteStore

NOW = time.time()
DEFINITIONS = {"exp": make_definition()}


def test_no_url_means_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"

    store = open_store(None, data_dir)

    assert isinstance(store, SqliteStore)
    assert (data_dir / "xp.sqlite3").is_file()
    with sqlite3.connect(data_dir / "xp.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()


def test_sqlite_urls_take_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    relative = open_store("sqlite:///relative.db", "unused")
    absolute = open_store(f"sqlite:///{tmp_path}/absolute.db", "unused")

    assert (tmp_path / "relative.db").is_file() and (tmp_path / "absolute.db").is_file()
    relative.close()
    absolute.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgres://db/xp", "unsupported store URL scheme 'postgres'"),
        ("sqlite:///", "names no file"),
        ("sqlite:///:memory:", "names no file"),
    ],
)
def test_urls_it_cannot_use(url: str, words: str) -> None:
    with pytest.raises(StoreError, match=words):
        open_store(url, "unused")


def test_a_path_it_cannot_open_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{tmp_path}/missing-dir/xp.sqlite3", tmp_path)

    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_a_forked_child_uses_its_own_connections(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    store.ingest([Exposure.create("exp", "parent", "control", NOW)], DEFINITIONS, NOW)

    pid = os.fork()
    if pid == 0:  # the child: same store object, as after gunicorn's preload
        code = 1
        try:
            events: list[Event] = [
                Exposure.create("exp", "child", "treatment", NOW),
                Conversion("purchase", "parent", 5.0, NOW, "c1"),
            ]
            outcomes = store.ingest(events, DEFINITIONS, NOW)
            store.close()
            code = 0 if [o.status for o in outcomes] == ["accepted", "accepted"] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    data = store.experiment_stats(DEFINITIONS["exp"])
    assert data.units == {"control": 1, "treatment": 1}
    assert data.stats("revenue", "control").sum == 5.0
    store.close()


def test_held_conversions_leave_no_rows_once_matched(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/held.db", "unused")
    store.ingest([Conversion("purchase", "u", 1.0, NOW - 50, "p")], DEFINITIONS, NOW)
    store.ingest([Exposure.create("exp", "u", "control", NOW - 100)], DEFINITIONS, NOW)
    store.close()

    with sqlite3.connect(tmp_path / "held.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM held_conversions").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM look_stats").fetchone() == (0,)  # one day
