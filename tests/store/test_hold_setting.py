"""``XP_HOLD_SECONDS`` reaches the store the service opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from xp.attribution.hold import DEFAULT_HOLD_SECONDS, HoldPolicy
from xp.runtime import Runtime
from xp.settings import Settings, SettingsError
from xp.store import Store, open_store
from xp.store.redis.store import RedisStore
from xp.store.sqlite.store import SqliteStore


def test_the_grace_period_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"XP_DATA_DIR": str(tmp_path), "XP_EXPERIMENTS_DIR": str(tmp_path)}
    assert Settings.from_env(env).hold_seconds == DEFAULT_HOLD_SECONDS == 86_400
    runtime = Runtime(Settings.from_env({**env, "XP_HOLD_SECONDS": "600"}))
    try:
        assert runtime.store.hold == HoldPolicy(seconds=600)
    finally:
        runtime.close()


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_a_bad_grace_period_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="XP_HOLD_SECONDS"):
        Settings.from_env({"XP_HOLD_SECONDS": value})


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="hold period"):
        HoldPolicy(seconds=float("nan"))
    with pytest.raises(ValueError, match="cap"):
        HoldPolicy(per_unit=-1)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_the_policy_is_given_to_the_constructor(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    policy = HoldPolicy(seconds=5, per_unit=3)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/hold.sqlite3"
        direct: Store = SqliteStore(tmp_path / "direct.sqlite3", policy)
    else:
        url = request.getfixturevalue("redis_url")
        direct = RedisStore(url, hold=policy)
    opened = open_store(url, tmp_path, hold=policy)
    try:
        assert opened.hold == direct.hold == policy
        assert Store.hold == HoldPolicy()  # the class default is untouched
    finally:
        opened.close()
        direct.close()
