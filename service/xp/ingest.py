"""Batches of raw events into the store: load each, ingest the valid ones, report on all.

Every exposure the service records goes through :func:`ingest_events`, which also records
each experiment's assignment fingerprint at its first accepted exposure (once per process,
experiment and definition: no store round trip per exposure).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xp.attribution.ops import Outcome
from xp.definitions.fingerprint import canonical_json, fingerprint
from xp.definitions.model import Definition
from xp.definitions.phases import store_definitions, store_key
from xp.events.model import Event, Exposure, exposure_event_id
from xp.events.parse import EventError, load_batch, rejected
from xp.store.base import Store, StoreError

log = logging.getLogger("xp.definitions")

# Per store object (one per process): experiment id -> the definition object last claimed.
# Compared by identity, so a batch of a claimed experiment costs one dict lookup.
_claimed: weakref.WeakKeyDictionary[Store, dict[str, Definition]] = weakref.WeakKeyDictionary()
_claimed_lock = threading.Lock()

Conflict = Callable[[str], None]


def ingest_events(
    store: Store,
    events: Sequence[Event],
    definitions: Mapping[str, Definition],
    now: float,
    on_conflict: Conflict | None = None,
) -> list[Outcome]:
    """``store.ingest`` of ``events`` against the live ``definitions`` (keyed by experiment
    key), each phase in its own store experiment, then the fingerprints of first exposures.

    ``on_conflict(key)`` is called when the store already holds another fingerprint for an
    experiment this process served (another process loaded another file first).
    """
    stored = store_definitions(definitions)
    if stored is not definitions:  # some phase > 1: exposures name the phase's store id
        events = [_in_phase(event, definitions) for event in events]
    outcomes = store.ingest(events, stored, now)
    exposed = {
        event.experiment
        for event, outcome in zip(events, outcomes, strict=True)
        if isinstance(event, Exposure) and outcome.status == "accepted"
    }
    for experiment in sorted(exposed):
        definition = stored.get(experiment)
        if definition is not None:
            claim_fingerprint(store, experiment, definition, on_conflict)
    return outcomes


def claim_fingerprint(
    store: Store, experiment: str, definition: Definition, on_conflict: Conflict | None = None
) -> bool:
    """Record ``definition``'s fingerprint for store id ``experiment`` unless this process did
    already; False (logged) when the store holds another one."""
    with _claimed_lock:
        done = _claimed.setdefault(store, {})
        if done.get(experiment) is definition:
            return True
    fp = fingerprint(definition.experiment)
    text = canonical_json(definition.config)
    try:
        stored = store.claim_fingerprint(experiment, fp, text)
    except StoreError as exc:  # the events are in; the next batch claims again
        log.warning("fingerprint of %r not recorded: %s", experiment, exc)
        return True
    if stored != fp:
        log.error(
            "experiment %r: the store recorded assignment %s at its first exposure, this "
            "process serves %s (%s); reloading definitions",
            experiment,
            stored,
            fp,
            definition.source,
        )
        if on_conflict is not None:
            on_conflict(definition.key)
        return False
    with _claimed_lock:
        done[experiment] = definition
    return True


def _in_phase(event: Event, definitions: Mapping[str, Definition]) -> Event:
    """An exposure renamed to its phase's store id (``key@N``); other events unchanged."""
    if not isinstance(event, Exposure):
        return event
    definition = definitions.get(event.experiment)
    if definition is None or definition.phase == 1:
        return event
    experiment = store_key(event.experiment, definition.phase)
    # A default event id names the experiment: rebuild it so erasure finds it in the phase.
    default = event.event_id == exposure_event_id(event.experiment, event.user_id)
    return Exposure(  # built directly: dataclasses.replace costs ~10x more per event
        experiment,
        event.user_id,
        event.variant,
        event.ts,
        event.attributes,
        event.covariates,
        "" if default else event.event_id,
    )


def ingest_batch(
    store: Store,
    definitions: Mapping[str, Definition],
    body: Any,
    now: float,
    on_conflict: Conflict | None = None,
) -> dict[str, Any]:
    """Validate ``{"events": [...]}``, ingest the valid events, report on each one.

    Raises :class:`BatchError` (or :class:`BatchTooLarge`) when the body is not a batch at all;
    otherwise every event gets a result: ``accepted``, ``duplicate`` or ``rejected`` (with
    ``reason`` and, when one field is at fault, ``field``).
    """
    events = load_batch(body, now)
    valid = [event for event in events if not isinstance(event, EventError)]
    outcomes = iter(ingest_events(store, valid, definitions, now, on_conflict))
    results: list[dict[str, Any]] = []
    add = results.append
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for i, event in enumerate(events):
        if isinstance(event, EventError):
            add(rejected(i, event.field, event.message))
            counts["rejected"] += 1
            continue
        outcome = next(outcomes)
        status = outcome.status
        counts[status] += 1
        if status == "rejected":
            add(rejected(i, outcome.field or "", outcome.reason or "rejected"))
        elif outcome.reason:
            add({"index": i, "status": status, "reason": outcome.reason})
        else:
            add({"index": i, "status": status})
    return {
        "results": results,
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
    }
