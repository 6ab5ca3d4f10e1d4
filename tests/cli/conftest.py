"""A seeded SQLite store in XP_DATA_DIR and its experiments folder, for the CLI commands."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.seed import Unit, seed
from xp.cli import cli
from xp.store import open_store


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("XP_DATA_DIR", str(path))
    monkeypatch.delenv("XP_STORE_URL", raising=False)
    monkeypatch.delenv("XP_API_KEYS", raising=False)
    return path


@pytest.fixture
def experiments(tmp_path: Path) -> Path:
    return tmp_path / "experiments"


@pytest.fixture
def seeded(data_dir: Path, experiments: Path) -> list[Unit]:
    store = open_store(None, data_dir)
    try:
        return seed(experiments, store, time.time())
    finally:
        store.close()


@pytest.fixture
def xp(experiments: Path) -> Callable[..., Result]:
    """Run an ``xp`` command with ``--experiments`` pointing at the test folder."""

    def run(*args: Any) -> Result:
        return CliRunner().invoke(cli, [*map(str, args), "--experiments", str(experiments)])

    return run
