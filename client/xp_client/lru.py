"""A bounded set that forgets the least recently seen key: exposure deduplication in the SDK."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, KeysView


class LRUSet:
    """Remembers up to ``maxsize`` keys; :meth:`seen` is O(1) and thread-safe.

    The SDK keeps one per experiment, keyed by unit id, so each unit's exposure is sent once
    while it stays among the ``maxsize`` most recent units of that experiment. A forgotten key
    is sent again, which is harmless: the service keeps the first exposure of each unit.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize!r}")
        self.maxsize = maxsize
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: Hashable) -> bool:
        """Whether ``key`` is already here; adds it if not. Either way it becomes the newest."""
        keys = self._keys
        # Hits skip the lock: `in` and `move_to_end` are single C calls, atomic under the GIL,
        # and this is the SDK's hot path (every get_variant of an already-exposed unit).
        if key in keys:
            try:
                keys.move_to_end(key)
            except KeyError:  # evicted by another thread in between: it was still seen
                pass
            return True
        with self._lock:
            keys = self._keys
            if key in keys:
                keys.move_to_end(key)
                return True
            keys[key] = None
            if len(keys) > self.maxsize:
                keys.popitem(last=False)
            return False

    def __contains__(self, key: object) -> bool:
        """Membership without touching recency."""
        with self._lock:
            return key in self._keys

    def hot_path(self) -> tuple[KeysView[Hashable], Callable[[Hashable], None]]:
        """A live keys view and the bound ``move_to_end`` for an inlined, lock-free hit path:
        ``if key in view: touch(key)`` (catching ``KeyError``) is what :meth:`seen` does on a
        hit, without the call."""
        return self._keys.keys(), self._keys.move_to_end

    def __len__(self) -> int:
        return len(self._keys)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


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
