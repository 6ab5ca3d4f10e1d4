"""Phases: a definition's ``phase: N`` restarts its assignment and its analysis.

The store keeps each phase apart under its own experiment id, ``key`` for phase 1 and
``key@N`` for phase N (``@`` never appears in a key, so ids cannot collide). The engine's
default salt follows the phase (``xp_client.definition.default_salt``), so a new phase
re-buckets every unit; the old phase's statistics stay in the store, readable.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping

from xp.definitions.model import Definition

SEPARATOR = "@"


def store_key(key: str, phase: int) -> str:
    """The store's experiment id of ``key`` in ``phase``."""
    return key if phase == 1 else f"{key}{SEPARATOR}{phase}"


def split_store_key(experiment: str) -> tuple[str, int]:
    """``(key, phase)`` of a store experiment id (the inverse of :func:`store_key`)."""
    key, sep, phase = experiment.partition(SEPARATOR)
    if sep and phase.isdigit() and int(phase) > 1:
        return key, int(phase)
    return experiment, 1


def store_view(definition: Definition) -> Definition:
    """``definition`` as the store sees it: named by its store id (the same object in phase 1)."""
    if definition.phase == 1:
        return definition
    experiment = dataclasses.replace(
        definition.experiment, key=store_key(definition.key, definition.phase)
    )
    return dataclasses.replace(definition, experiment=experiment)


_cache_lock = threading.Lock()
_cache: tuple[Mapping[str, Definition], Mapping[str, Definition]] | None = None


def store_definitions(definitions: Mapping[str, Definition]) -> Mapping[str, Definition]:
    """The live set keyed by store id; ``definitions`` itself when every phase is 1.

    The result is the same object for the same input (the last one is kept), because the
    store builds its event index once per definitions object.
    """
    global _cache
    cached = _cache
    if cached is not None and cached[0] is definitions:
        return cached[1]
    with _cache_lock:
        if all(d.phase == 1 for d in definitions.values()):
            views: Mapping[str, Definition] = definitions
        else:
            views = {store_key(d.key, d.phase): store_view(d) for d in definitions.values()}
        _cache = (definitions, views)
        return views
