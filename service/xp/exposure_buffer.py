"""Exposures off the request path: a bounded per-process buffer written by a background thread.

``POST /v1/assign`` hands its exposures to :meth:`ExposureBuffer.offer` (a lock, an append) and
answers; a daemon thread of the same process takes up to :data:`MAX_BATCH` at a time, at least
every ``flush_interval`` seconds, and writes them in slices of :data:`WRITE_SLICE` through
``Store.ingest``, the one way in that ``POST /v1/events`` uses too. While the store fails, a
batch stays at the head of the buffer and is sent again after a growing pause (up to
``retry_max``): every exposure carries the stable event id ``exposure:<experiment>:<unit>``
(:class:`Exposure`), and only a unit's first exposure counts, so a batch sent twice (an answer
lost after Redis applied it) counts once. A full buffer drops the new exposures and counts them
instead of blocking the request. :meth:`close` (the worker's exit, atexit) writes what is left.

A worker killed without a graceful stop loses what it held: at most ``flush_interval``
seconds of exposures while the store is up, everything buffered while it is down.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from xp.attribution.ops import Outcome
from xp.definitions.model import Definition
from xp.events.model import Exposure
from xp.metrics import Metrics
from xp.store.base import StoreError

log = logging.getLogger("xp.service")

MAX_BATCH = 500  # exposures taken from the buffer at once, as a large POST /v1/events batch
# Exposures per Store.ingest call. Planning and ingesting a slice holds the GIL that the
# worker's request threads need; slices of this size, with the GIL let go between them, keep
# a request from waiting behind a whole batch (the p99 of logged /v1/assign).
WRITE_SLICE = 100
FIRST_RETRY = 0.1  # seconds; doubled after each failure up to retry_max

Write = Callable[[Sequence[Exposure], Mapping[str, Definition], float], list[Outcome]]


# One buffered exposure with the definitions and clock of the request that made it: a plain
# tuple, since building one is on the request path (a frozen dataclass costs ~1 us more).
Held = tuple[Exposure, Mapping[str, Definition], float]


@dataclass(frozen=True)
class BufferStatus:
    depth: int  # exposures waiting, in flight included
    dropped: int  # since this process started: buffer full, or a batch that could not be written
    failing_since: float | None  # epoch seconds of the first failure of the current outage


class ExposureBuffer:
    """At most ``capacity`` exposures waiting for one writer thread (started on first use in
    each process: threads do not survive a fork)."""

    def __init__(
        self,
        write: Write,
        metrics: Metrics,
        capacity: int,
        flush_interval: float,
        retry_max: float,
        shutdown_timeout: float,
    ) -> None:
        self._write = write
        self._metrics = metrics
        self.capacity = capacity
        self.flush_interval = flush_interval
        self.retry_max = max(retry_max, FIRST_RETRY)
        self.shutdown_timeout = shutdown_timeout
        self._queue: deque[Held] = deque()
        self._in_flight = 0
        self._dropped = 0
        self._failing_since: float | None = None
        self._wake = threading.Condition()
        self._flush_now = False
        self._closing = False
        self._thread_pid = 0
        self._thread: threading.Thread | None = None

    # -- the request side ------------------------------------------------------------------

    def offer(
        self, exposures: Sequence[Exposure], definitions: Mapping[str, Definition], now: float
    ) -> int:
        """Queue ``exposures``; how many were taken (the rest were dropped and counted)."""
        if not exposures:
            return 0
        self._ensure_thread()
        with self._wake:
            room = self.capacity - len(self._queue) - self._in_flight
            taken = max(0, min(room, len(exposures)))
            self._queue.extend([(e, definitions, now) for e in exposures[:taken]])
            if len(self._queue) >= MAX_BATCH:
                self._wake.notify()
        if taken < len(exposures):
            self._drop(len(exposures) - taken, "buffer_full")
        return taken

    def status(self) -> BufferStatus:
        with self._wake:
            return BufferStatus(
                len(self._queue) + self._in_flight, self._dropped, self._failing_since
            )

    def flush(self, timeout: float) -> bool:
        """Write everything queued now; whether the buffer emptied within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._wake:
            if not self._queue and not self._in_flight:
                return True
            if self._thread is None or self._thread_pid != os.getpid():
                self._start_thread()
            self._flush_now = True
            self._wake.notify_all()
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
            return True

    def close(self, timeout: float | None = None) -> None:
        """Write what is left (for at most ``timeout`` s, by default ``shutdown_timeout``,
        retrying a failing store), then stop the writer; what is still unwritten is logged."""
        if not self.flush(self.shutdown_timeout if timeout is None else timeout):
            lost = self.status().depth
            log.error("exposure buffer: %d exposures not written at shutdown (store down)", lost)
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        atexit.unregister(self._at_exit)

    # -- the writer side -------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread_pid == os.getpid():
            return
        with self._wake:
            if self._thread_pid != os.getpid():
                self._start_thread()

    def _start_thread(self) -> None:
        """(Re)start the writer in this process; the caller holds ``_wake``."""
        self._thread_pid = os.getpid()
        self._in_flight = 0  # a batch in flight in the parent belongs to the parent
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="xp-exposures", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)  # a gunicorn worker's graceful exit runs atexit

    def _at_exit(self) -> None:
        self.close()  # prometheus-client writes each value as it changes: nothing to flush

    def _run(self) -> None:
        pid = os.getpid()
        pause = FIRST_RETRY
        while True:
            with self._wake:
                if not self._closing and len(self._queue) < MAX_BATCH and not self._flush_now:
                    self._wake.wait(self.flush_interval)
                if self._thread_pid != pid or self._closing:  # close() flushed first
                    return
                self._flush_now = False
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                self._in_flight = len(batch)
            if not batch:
                continue
            written = self._write_batch(batch)
            ok = written == len(batch)
            with self._wake:
                self._in_flight = 0
                if ok:
                    self._failing_since = None
                else:  # the rest back at the head, in order, for the next attempt
                    self._queue.extendleft(reversed(batch[written:]))
                self._wake.notify_all()
            if ok:
                pause = FIRST_RETRY
            else:
                with self._wake:  # a flush or close does not cut a retry pause short
                    self._wake.wait_for(lambda: self._thread_pid != pid, pause)
                pause = min(pause * 2, self.retry_max)

    def _write_batch(self, batch: list[Held]) -> int:
        """Write ``batch`` in runs of at most :data:`WRITE_SLICE` sharing one definitions set;
        how many are done with (the rest is to be sent again: the store failed)."""
        start = 0
        try:
            while start < len(batch):
                if start:
                    time.sleep(0)  # let the request threads run between slices
                definitions = batch[start][1]
                end, stop = start, min(len(batch), start + WRITE_SLICE)
                while end < stop and batch[end][1] is definitions:
                    end += 1
                run = batch[start:end]
                outcomes = self._write([h[0] for h in run], definitions, run[-1][2])
                accepted = sum(1 for o in outcomes if o.status == "accepted")
                if accepted:
                    self._metrics.inc("xp_exposures_logged_total", accepted)
                start = end
            return start
        except StoreError as exc:
            with self._wake:
                if self._failing_since is None:
                    self._failing_since = time.time()
                    log.warning("exposure buffer: store unavailable, retrying: %s", exc)
            self._metrics.inc("xp_exposure_write_failures_total")
            return start
        except Exception:  # a bug, not an outage: retrying would wedge the buffer for good
            log.exception("exposure buffer: dropping %d exposures", len(batch) - start)
            self._drop(len(batch) - start, "error")
            return len(batch)

    def _drop(self, count: int, reason: str) -> None:
        with self._wake:
            self._dropped += count
        self._metrics.inc("xp_exposures_dropped_total", count, reason=reason)
