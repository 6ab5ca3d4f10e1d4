"""Event delivery: a bounded queue, one daemon thread that sends batches, retries with backoff.

Modelled on the LaunchDarkly server SDK's event processor. The application thread only appends
to a queue; a background thread posts ``{"events": [...]}`` to ``/v1/events`` every
``flush_interval`` seconds, or as soon as ``batch_size`` events wait. A failed batch is retried
with the same events, so the same ``event_id`` values, and the service's deduplication makes the
retry safe. Nothing here raises into the application: errors are logged and counted.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from xp_client.delivery import Pipeline
from xp_client.transport import Transport

_log = logging.getLogger("xp.client")


class EventProcessor:
    """Queues events and sends them in batches from one daemon thread.

    ``put`` never blocks: when ``capacity`` events already wait, the event is dropped and
    counted. ``flush`` sends what is queued and waits; ``close`` flushes, waits at most
    ``timeout`` seconds and stops the thread (it also runs at interpreter exit). The thread
    starts on the first ``put`` and, in a child process after ``os.fork()``, again on the
    child's first ``put``: the child drops the events it inherited, which are the parent's.

    ``sleep`` replaces the wait between retries (tests pass a function that returns at once).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        flush_interval: float = 5.0,
        batch_size: int = 500,
        capacity: int = 10_000,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        request_timeout: float = 5.0,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        for name, value in (
            ("flush_interval", flush_interval),
            ("batch_size", batch_size),
            ("capacity", capacity),
            ("request_timeout", request_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if max_retries < 0 or backoff_base < 0 or backoff_max < 0:
            raise ValueError(
                "max_retries, backoff_base and backoff_max must not be negative, got "
                f"{max_retries!r}, {backoff_base!r}, {backoff_max!r}"
            )
        self._pipeline = Pipeline(
            transport,
            flush_interval=flush_interval,
            batch_size=batch_size,
            capacity=capacity,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            request_timeout=request_timeout,
            logger=logger or _log,
            sleep=sleep,
        )
        # The thread holds only the pipeline, so a forgotten processor can be collected;
        # collecting it lets the thread send what is left and end.
        weakref.finalize(self, self._pipeline.stop).atexit = False

    def put(self, event: Mapping[str, Any]) -> bool:
        """Queue a copy of ``event``; ``False`` when it was dropped (queue full, closed)."""
        try:
            return self._pipeline.put(event)
        except Exception:
            self._pipeline.log.exception("xp: could not queue an event")
            return False

    def drop_invalid(self, what: str) -> None:
        """Count an event dropped before queueing because the service would reject it."""
        try:
            self._pipeline.drop_invalid(what)
        except Exception:
            self._pipeline.log.exception("xp: counting a dropped event failed")

    def flush(self, timeout: float | None = None) -> bool:
        """Send every event queued now and wait until each is sent or dropped.

        ``False`` when ``timeout`` seconds passed first, the processor is closed, or an event
        queued since the last flush was dropped (refused by the service, e.g. a wrong key, or
        given up on after the retries).
        """
        try:
            return self._pipeline.flush(timeout)
        except Exception:
            self._pipeline.log.exception("xp: flushing events failed")
            return False

    def close(self, timeout: float | None = 5.0) -> bool:
        """Flush, wait at most ``timeout`` seconds, stop the thread. Safe to call twice.

        ``False`` when events were still undelivered at the deadline; those are abandoned.
        """
        try:
            return self._pipeline.close(timeout)
        except Exception:
            self._pipeline.log.exception("xp: closing the event processor failed")
            return False

    def stats(self) -> dict[str, int]:
        """``queued`` (waiting now) and totals of sent, retried and dropped events.

        ``sent`` and ``dropped_*`` count events; ``batches_sent`` and ``retries`` count
        requests. ``dropped_invalid`` counts events that could not be encoded as JSON,
        ``rejected_by_service`` events the service answered ``rejected`` (see the log).
        """
        try:
            return self._pipeline.stats()
        except Exception:
            self._pipeline.log.exception("xp: reading event stats failed")
            return {}

    def __enter__(self) -> EventProcessor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
