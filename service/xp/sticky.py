"""Sticky assignment for ``POST /v1/assign`` (``XP_STICKY=1``), kept in the configured store.

The engine assigns, then :func:`xp_client.sticky.apply_sticky` applies the SDK's rule (one
rule for both): a remembered variant wins over the weights; status, schedule, overrides,
layer and targeting decide first; a new phase starts afresh. One request reads every record
it needs in one store round trip and writes the new ones in one.

A store that fails costs stickiness, not the request: the bucketed variants are served and
the failure is logged (at most once a minute per process).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from xp.definitions.model import Definition
from xp.store.base import Store, StoreError
from xp_client.engine import Assignment
from xp_client.sticky import apply_sticky, needs_lookup, sticky_key
from xp_client.unit_ids import canonical_unit_id

log = logging.getLogger("xp.service")

LOG_EVERY = 60.0


class RequestRecords:
    """A sticky store over one request's records, read before and written after it."""

    def __init__(self, known: Mapping[str, str]) -> None:
        self.known = known
        self.written: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.known.get(key)

    def set(self, key: str, value: str) -> None:
        self.written[key] = value


def sticky_assignments(
    assignments: Mapping[str, Assignment],
    definitions: Mapping[str, Definition],
    attributes: Mapping[str, Any],
    store_of: Callable[[], Store],
    ttl: float | None = None,
) -> dict[str, Assignment]:
    """``assignments`` (experiment key -> the engine's answer) after the sticky rule.

    ``store_of()`` gives the store (the runtime opens it lazily: a store that cannot even be
    opened counts as failed, too). Records live ``ttl`` seconds after their last use
    (``XP_STICKY_TTL_DAYS``; None: for ever).
    """
    keys = []
    for key, result in assignments.items():
        experiment = definitions[key].experiment
        unit = canonical_unit_id(attributes.get(experiment.unit))
        if unit is not None and needs_lookup(result):
            keys.append(sticky_key(experiment, unit))
    if not keys:
        return dict(assignments)
    try:
        store = store_of()
        found = store.sticky_variants([_split(k) for k in keys], ttl)
    except StoreError as exc:
        _failed("read", exc)
        return dict(assignments)
    records = RequestRecords({k: v for k, v in zip(keys, found, strict=True) if v is not None})
    out = {
        key: apply_sticky(definitions[key].experiment, result, attributes, records)
        for key, result in assignments.items()
    }
    if records.written:
        try:
            store.remember_variants(
                [(*_split(k), variant) for k, variant in records.written.items()], ttl
            )
        except StoreError as exc:
            _failed("write", exc)
    return out


def _split(key: str) -> tuple[str, str]:
    """``(experiment@phase, unit)`` of a sticky key: experiment keys hold no ``:``."""
    experiment_phase, _, unit = key.partition(":")
    return experiment_phase, unit


_last_logged = [-LOG_EVERY]


def _failed(what: str, exc: StoreError) -> None:
    now = time.monotonic()
    if now - _last_logged[0] >= LOG_EVERY:
        _last_logged[0] = now
        log.warning("sticky %s failed (%s); serving the bucketed variants", what, exc)
