"""Storage of exposures, conversions and their sufficient statistics, behind one interface.

``open_store(url, data_dir)`` picks the backend from the URL:

- ``redis://host:port/db`` (also ``rediss://``, ``unix://``): :class:`RedisStore`;
- ``redis+cluster://host:port,host:port/`` (seed nodes, any one reachable is enough; also
  ``rediss+cluster://``): the same on a Redis Cluster;
- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: :class:`SqliteStore`;
- ``None``: SQLite in ``<data_dir>/xp.sqlite3`` (the directory is created).
"""

from __future__ import annotations

from pathlib import Path

from xp.attribution.hold import HoldPolicy
from xp.settings import RedisSettings
from xp.store.base import Store, StoreError
from xp.store.model import ExperimentData, Slice, SufficientStats, UnitRow

SQLITE_PREFIX = "sqlite:///"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
DEFAULT_SQLITE_FILE = "xp.sqlite3"

__all__ = [
    "ExperimentData",
    "Slice",
    "Store",
    "StoreError",
    "SufficientStats",
    "UnitRow",
    "missing_sqlite_file",
    "open_store",
]


def missing_sqlite_file(url: str | None) -> str | None:
    """The path of the SQLite file ``url`` names when that file does not exist (opening it
    would create an empty store: for a command that only reads, a mistyped path)."""
    if not url or not url.startswith(SQLITE_PREFIX):
        return None
    path = url[len(SQLITE_PREFIX) :]
    if not path or path == ":memory:" or Path(path).exists():
        return None
    return path


def open_store(
    url: str | None,
    data_dir: str | Path,
    redis: RedisSettings | None = None,
    hold: HoldPolicy | None = None,
) -> Store:
    """The store ``url`` names, or the default SQLite file in ``data_dir``; ``hold`` says how
    long conversions wait for their unit's exposure (default 24 h); ``redis`` holds the Redis
    client's deadlines and replication wait (defaults when not given)."""
    return _open(url, data_dir, redis, hold)


def _open(
    url: str | None, data_dir: str | Path, redis: RedisSettings | None, hold: HoldPolicy | None
) -> Store:
    if not url:
        directory = Path(data_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {str(directory)!r}: {exc}") from exc
        from xp.store.sqlite.store import SqliteStore

        return SqliteStore(directory / DEFAULT_SQLITE_FILE, hold)
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        if not path or path == ":memory:":
            raise StoreError(f"{url!r} names no file; use sqlite:///path/to/xp.sqlite3")
        from xp.store.sqlite.store import SqliteStore

        return SqliteStore(path, hold)
    if url.startswith(REDIS_SCHEMES):
        from xp.store.redis.store import RedisStore

        return RedisStore(url, redis, hold)
    scheme = url.split("://", 1)[0] if "://" in url else url[:16]
    raise StoreError(
        # No example URL here: the redaction of store URLs would hide it from the reader.
        f"unsupported store URL scheme {scheme!r}: use a redis, redis+cluster or sqlite URL "
        "(README, XP_STORE_URL)"
    )
