"""A bounded set that forgets the least recently seen key: exposure deduplication in the SDK."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Container, Hashable


class LRUSet:
    """Remembers up to ``maxsize`` keys, forgetting the least recently seen first; thread-safe.

    The SDK keeps one per experiment, keyed by unit id, so each unit's exposure is sent once
    while it stays among the most recent units of that experiment. A forgotten key is sent
    again, which is harmless: the service keeps the first exposure of each unit.

    Two generations, so that a hit is one dict lookup with no write: ``young`` holds the keys
    seen since the last rotation (at most half of ``maxsize``), ``old`` the generation before,
    in the order they were last seen. A key seen again while old moves to young; when young is
    full it becomes the newest end of old; beyond ``maxsize`` the oldest of old is forgotten.
    Every key among the ``maxsize // 2`` most recently seen is remembered, and a key is
    forgotten only after every key seen later than it (recency is tracked per generation).
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize!r}")
        self.maxsize = maxsize
        self._young_max = max(1, maxsize // 2)
        # The same dict object for the client's life: the SDK's hot path holds it.
        self._young: dict[Hashable, None] = {}
        self._old: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: Hashable) -> bool:
        """Whether ``key`` is already here; adds it if not. Either way it becomes the newest."""
        # A young hit is a single C lookup, atomic under the GIL: no lock on the SDK's hot path.
        if key in self._young:
            return True
        with self._lock:
            young, old = self._young, self._old
            if key in young:
                return True
            found = key in old
            if found:
                del old[key]
            young[key] = None
            if len(young) >= self._young_max:
                old.update(young)  # young's keys are newer than every old one
                young.clear()
            while len(young) + len(old) > self.maxsize:
                old.popitem(last=False)
            return found

    def __contains__(self, key: object) -> bool:
        """Membership without touching recency."""
        with self._lock:
            return key in self._young or key in self._old

    def hot_path(self) -> Container[Hashable]:
        """The young generation, for an inlined lock-free hit path: ``key in young`` is a hit
        with nothing to update; otherwise call :meth:`seen`."""
        return self._young

    def __len__(self) -> int:
        with self._lock:
            return len(self._young) + len(self._old)

    def clear(self) -> None:
        with self._lock:
            self._young.clear()
            self._old.clear()


class LRUDict:
    """Up to ``maxsize`` key -> value pairs, forgetting the least recently used; thread-safe.

    What :class:`xp_client.sticky.MemorySticky` keeps its records in.
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize!r}")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        """The value of ``key`` (which becomes the newest), or None."""
        # No lock, as LRUSet.seen's hits: `get` and `move_to_end` are single C calls, atomic
        # under the GIL, and this runs on every sticky get_variant.
        value = self._items.get(key)
        if value is not None:
            try:
                self._items.move_to_end(key)
            except KeyError:  # evicted by another thread in between: the value still stands
                pass
        return value

    def set(self, key: Hashable, value: str) -> None:
        """Store ``value`` under ``key`` as the newest, evicting the oldest beyond ``maxsize``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
