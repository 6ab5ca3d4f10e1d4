"""Batches of raw events into the store: load each, ingest the valid ones, report on all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xp.definitions.model import Definition
from xp.events.model import Event
from xp.events.parse import EventError, load_batch, rejected
from xp.store.base import Store


def ingest_batch(
    store: Store, definitions: Mapping[str, Definition], body: Any, now: float
) -> dict[str, Any]:
    """Validate ``{"events": [...]}``, ingest the valid events, report on each one.

    Raises :class:`BatchError` (or :class:`BatchTooLarge`) when the body is not a batch at all;
    otherwise every event gets a result: ``accepted``, ``duplicate`` or ``rejected`` (with
    ``reason`` and, when one field is at fault, ``field``).
    """
    events = load_batch(body, now)
    results: list[dict[str, Any]] = [{} for _ in events]
    valid: list[Event] = []
    positions: list[int] = []
    for i, event in enumerate(events):
        if isinstance(event, EventError):
            results[i] = rejected(i, event.field, event.message)
        else:
            valid.append(event)
            positions.append(i)
    for i, outcome in zip(positions, store.ingest(valid, definitions, now), strict=True):
        if outcome.status == "rejected":
            results[i] = rejected(i, outcome.field or "", outcome.reason or "rejected")
            continue
        result: dict[str, Any] = {"index": i, "status": outcome.status}
        if outcome.reason:
            result["reason"] = outcome.reason
        results[i] = result
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result["status"]] += 1
    return {
        "results": results,
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
    }
