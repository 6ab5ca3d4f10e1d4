"""Event ids: unique, and cheap enough for the first ``get_variant`` of every unit.

``uuid4()`` reads the OS's random source on every call (several microseconds here); a random
per-process prefix and a counter are unique just the same. A forked child draws a new prefix,
or it would repeat its parent's ids and the service would drop its events as replays.
"""

from __future__ import annotations

import itertools
import os

_prefix = os.urandom(10).hex()
_counter = itertools.count()


def new_event_id() -> str:
    return f"{_prefix}{next(_counter):x}"


def _reseed() -> None:
    global _prefix, _counter
    _prefix = os.urandom(10).hex()
    _counter = itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)
