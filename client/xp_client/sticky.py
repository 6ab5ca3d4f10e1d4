"""Sticky assignment: a unit keeps the variant it was first given, whatever the weights say.

A sticky store is any object with ``get(key) -> str | None`` and ``set(key, value)``. Its
keys are :func:`sticky_key` (``<experiment>@<phase>:<unit id>``), its values variant keys.
The rule, applied by :func:`apply_sticky` to the engine's answer (GrowthBook's sticky
bucketing is the model):

- status, schedule, overrides, layer and targeting decide first, as without a store: a
  stopped, shipped, draft, not-started or ended experiment, an override, a unit outside the
  layer range or not targeted gets the engine's answer and the store is not read;
- otherwise a remembered variant that still exists wins over the bucket (weights and
  coverage), with reason ``sticky`` when it differs from what the bucket gives now;
- a unit with no record, or whose remembered variant was removed, is bucketed as usual,
  and an in-experiment answer is remembered;
- a new phase starts afresh: the phase is part of the key.

A store that fails (raises) costs stickiness, never the answer: the bucketed variant is
served and the failure logged at most once a minute per store.

Two stores ship here: :class:`MemorySticky` (an LRU map in the process) and
:class:`RedisSticky` (any redis-py-like client the application passes in; the SDK does not
import redis).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from xp_client.definition import Experiment
from xp_client.engine import ASSIGNED, OUTSIDE_COVERAGE, Assigner, Assignment
from xp_client.lru import LRUDict
from xp_client.unit_ids import canonical_unit_id

log = logging.getLogger("xp.client")

STICKY = "sticky"  # the reason of an answer the store changed
LOG_EVERY = 60.0  # seconds between two logged failures of one store


class StickyStore(Protocol):
    """What the SDK needs of a sticky store."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: str) -> Any: ...


def sticky_key(experiment: Experiment, unit: str) -> str:
    """The store key of ``unit``'s record in ``experiment``'s current phase.

    Experiment keys match ``[a-z0-9-]``, so the first ``:`` ends the experiment part.
    """
    return f"{experiment.key}@{experiment.phase}:{unit}"


def needs_lookup(result: Assignment) -> bool:
    """Whether the store may change ``result``: only an answer decided by the bucket."""
    reason = result[4]
    return reason == ASSIGNED or reason == OUTSIDE_COVERAGE


def apply_sticky(
    experiment: Experiment,
    result: Assignment,
    attributes: Mapping[str, Any],
    store: StickyStore,
) -> Assignment:
    """The engine's ``result`` for the unit in ``attributes`` after the sticky rule."""
    if not needs_lookup(result):
        return result
    unit = attributes.get(experiment.unit)
    if unit.__class__ is not str:  # a string the engine accepted is its canonical form
        unit = canonical_unit_id(unit)
        if unit is None:  # the engine answers missing_unit first; kept as a guard
            return result
    key = sticky_key(experiment, unit)
    try:
        remembered = store.get(key)
    except Exception as exc:
        _failed(store, "read", exc)
        return result
    if isinstance(remembered, bytes):  # a Redis client without decode_responses
        remembered = remembered.decode("utf-8", "replace")
    if remembered is not None:
        if remembered == result[1] and result[3]:
            return result
        variant = experiment.variant(str(remembered))
        if variant is not None:
            return Assignment(experiment.key, variant.key, variant.payload, True, STICKY)
    if result[3]:  # in_experiment: remember it (a removed variant's record is replaced)
        try:
            store.set(key, result[1])
        except Exception as exc:
            _failed(store, "write", exc)
    return result


def sticky_assigner(experiment: Experiment, assigner: Assigner, store: StickyStore) -> Assigner:
    """``assigner`` (the engine's compiled form of ``experiment``) with the sticky rule."""

    def assign(attributes: Mapping[str, Any], now: float | None = None) -> Assignment:
        result: Assignment = assigner(attributes) if now is None else assigner(attributes, now)
        return apply_sticky(experiment, result, attributes, store)

    return assign


_last_logged: dict[int, float] = {}


def _failed(store: object, what: str, exc: Exception) -> None:
    # An outage would otherwise log once per assignment.
    now = time.monotonic()
    if now - _last_logged.get(id(store), -LOG_EVERY) >= LOG_EVERY:
        _last_logged[id(store)] = now
        log.warning(
            "sticky store %s failed (%s: %s); serving the bucketed variant",
            what,
            type(exc).__name__,
            exc,
        )


class MemorySticky:
    """Records in this process, the ``maxsize`` most recently used kept.

    A forgotten unit is bucketed afresh under the current weights: size it above the number of
    units assigned while weights may change, or use :class:`RedisSticky`.
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        self._records = LRUDict(maxsize)

    def get(self, key: str) -> str | None:
        return self._records.get(key)

    def set(self, key: str, value: str) -> None:
        self._records.set(key, value)

    def __len__(self) -> int:
        return len(self._records)


class RedisSticky:
    """Records in Redis through ``client`` (a ``redis.Redis``, or anything with its
    ``get(name)``/``set(name, value, ex=...)``, and ``getex(name, ex=...)`` with a TTL), under
    ``prefix``; ``ttl_seconds`` lets a record expire that long after its last use (each read
    refreshes it, in the same command; None keeps records for ever)."""

    def __init__(
        self, client: Any, prefix: str = "xp:sticky:", ttl_seconds: int | None = None
    ) -> None:
        if ttl_seconds is not None and ttl_seconds < 1:
            raise ValueError(f"ttl_seconds must be at least 1 or None, got {ttl_seconds!r}")
        self._client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    def get(self, key: str) -> str | None:
        name = self.prefix + key
        if self.ttl_seconds is None:
            value = self._client.get(name)
        else:
            value = self._client.getex(name, ex=self.ttl_seconds)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        self._client.set(self.prefix + key, value, ex=self.ttl_seconds)
