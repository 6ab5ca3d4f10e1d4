"""The sending side of event delivery: a bounded queue, one daemon thread, retries with backoff.

A failed batch is retried with the same events, so the same ``event_id`` values, and the
service's deduplication makes the retry safe. Nothing here raises into the application:
errors are logged and counted. :class:`~xp_client.event_processor.EventProcessor` is the
public face.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from xp_client import shutdown
from xp_client.answers import AUTH_REFUSALS, RETRYABLE_4XX, refusal, rejections, retry_after
from xp_client.ids import new_event_id
from xp_client.transport import Response, Transport, TransportError, encode_json

EVENTS_PATH = "/v1/events"
PAYLOAD_ID_HEADER = "X-XP-Payload-Id"
COUNTERS = (
    "sent",
    "batches_sent",
    "retries",
    "dropped_queue_full",
    "dropped_4xx",
    "dropped_after_retries",
    "dropped_invalid",
    "rejected_by_service",
)

_log = logging.getLogger("xp.client")


class Pipeline:
    """The queue, the counters and the sending thread, shared by a processor and its thread."""

    def __init__(
        self,
        transport: Transport,
        *,
        flush_interval: float,
        batch_size: int,
        capacity: int,
        max_retries: int,
        backoff_base: float,
        backoff_max: float,
        request_timeout: float,
        logger: logging.Logger,
        sleep: Callable[[float], object] | None,
    ) -> None:
        self.transport = transport
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.capacity = capacity
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.log = logger
        self._sleep = sleep
        self._closed = False
        self._closed_warned = False
        self._reset()
        shutdown.register(self)

    def _reset(self) -> None:
        """Fresh locks, an empty queue, zero counts and no thread: at start and after a fork.

        In a forked child the parent's locks may be held by threads that no longer exist, and
        the queued events are the parent's to send.
        """
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the thread waits here for events
        self._progress = threading.Condition(self._lock)  # flush() waits here for the thread
        self._abort = threading.Event()
        self._queue: deque[dict[str, Any]] = deque()
        self._thread: threading.Thread | None = None
        self._accepted = 0  # events put in the queue
        self._taken = 0  # events the thread took out of it
        self._done = 0  # events the thread finished with: sent or dropped
        self._flush_upto = 0  # send without waiting for the timer until _taken reaches this
        # The batch in flight failed max_retries + 1 times without reaching the service; it is
        # still retried, but flush(None) stops waiting for it.
        self._stalled = False
        self._full_warned = False
        self._auth_logged = False
        self._lost = 0  # events the thread dropped (refused, given up on, not JSON)
        # Events are taken in order: the batch ending at this position lost some (flush()
        # reports it once), and flush() has reported up to _reported.
        self._lost_upto = self._reported = 0
        self._counts = dict.fromkeys(COUNTERS, 0)

    # -- application side ---------------------------------------------------------------

    def drop_invalid(self, what: str) -> None:
        with self._lock:
            self._counts["dropped_invalid"] += 1
            n = self._counts["dropped_invalid"]
        # The first few in full, then one line per thousand: a loop of bad calls must not
        # flood the host's log.
        if n <= 10 or n % 1000 == 0:
            self.log.warning("xp: dropped an invalid event (%d so far): %s", n, what)

    def put(self, event: Mapping[str, Any]) -> bool:
        record = dict(event)  # the caller may reuse its dict; the thread may add an event_id
        warn_closed = warn_full = False
        with self._lock:
            if self._closed:
                warn_closed, self._closed_warned = not self._closed_warned, True
            elif len(self._queue) >= self.capacity:
                self._counts["dropped_queue_full"] += 1
                warn_full, self._full_warned = not self._full_warned, True
            else:
                self._queue.append(record)
                self._accepted += 1
                if self._thread is None:
                    self._start_locked()
                elif len(self._queue) >= self.batch_size:
                    self._work.notify()
                return True
        if warn_closed:
            self.log.warning("xp: the event processor is closed; dropping events")
        elif warn_full:
            self.log.warning(
                "xp: event queue is full (%d events); dropping events until it drains",
                self.capacity,
            )
        return False

    def flush(self, timeout: float | None) -> bool:
        """Wait ``timeout`` seconds at most; ``None``: until the retry budget is spent.

        ``False`` too when an event queued since the last flush was dropped (refused by the
        service, given up on after the retries): "sent or dropped" is not "delivered".
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._accepted
            if self._done >= target:
                return self._report_locked(target)
            if self._thread is threading.current_thread():
                return False  # waiting for ourselves would never end
            self._flush_upto = max(self._flush_upto, target)
            if self._thread is None and not self._closed:
                self._start_locked()
            self._work.notify()
            while self._done < target:
                if self._thread is None or (deadline is None and self._stalled):
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._progress.wait(left)
            return self._report_locked(target)

    def _report_locked(self, target: int) -> bool:
        """True when no event up to ``target`` was lost since the last report."""
        delivered = self._lost_upto <= self._reported
        self._reported = max(self._reported, target)
        return delivered

    def close(self, timeout: float | None) -> bool:
        """Stop, wait ``timeout`` seconds (None: the retry budget), then abort: returns
        within ``timeout`` + ``shutdown.ABORT_GRACE``."""
        self.stop()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return self._done >= self._accepted
        if timeout is None and not self._wait_budget():
            timeout = 0.0
        if self.join_until(None if timeout is None else time.monotonic() + timeout):
            return self._done >= self._accepted
        self._abort.set()  # cut retries short; a request in flight is abandoned
        self.join_until(time.monotonic() + shutdown.ABORT_GRACE)
        with self._lock:
            left = self._accepted - self._done
        self.log.warning(
            "xp: event processor still busy after %ss; abandoning %d undelivered events",
            timeout,
            left,
        )
        return False

    def _wait_budget(self) -> bool:
        """Wait while the thread works and the retry budget lasts; False when it ran out."""
        with self._lock:
            while self._thread is not None and self._thread.is_alive() and not self._stalled:
                self._progress.wait()
            return not self._stalled

    def join_until(self, deadline: float | None) -> bool:
        """Wait for the thread to end, at most until ``deadline``; True when it is not running."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def abort(self) -> None:
        """Give up retrying; the thread ends after its current request."""
        self._abort.set()

    def stop(self) -> None:
        """Refuse new events and let the thread send what is queued, then end; do not wait."""
        with self._lock:
            self._closed = True
            self._flush_upto = self._accepted
            self._work.notify()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"queued": len(self._queue), **self._counts}

    def _start_locked(self) -> None:
        thread = threading.Thread(target=self._run, name="xp-events", daemon=True)
        self._thread = thread
        try:
            thread.start()
        except BaseException:
            self._thread = None
            raise

    # -- the sending thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            next_tick = time.monotonic() + self.flush_interval
            while True:
                with self._lock:
                    while True:
                        if self._abort.is_set():
                            return
                        now = time.monotonic()
                        if self._queue:
                            if (
                                len(self._queue) >= self.batch_size
                                or self._flush_upto > self._taken
                                or now >= next_tick
                            ):
                                break
                        elif self._closed:
                            return
                        if now >= next_tick:
                            next_tick = now + self.flush_interval
                        self._work.wait(next_tick - now)
                    if now >= next_tick:
                        next_tick = now + self.flush_interval
                    size = min(self.batch_size, len(self._queue))
                    batch = [self._queue.popleft() for _ in range(size)]
                    self._taken += size
                    end, lost_before = self._taken, self._lost
                    self._full_warned = False  # the queue is below capacity again
                try:
                    self._deliver(batch)
                except Exception:
                    self.log.exception("xp: unexpected error sending %d events; dropped", size)
                    self._count("dropped_after_retries", size)
                finally:
                    with self._lock:
                        if self._lost > lost_before:
                            self._lost_upto = end
                        self._done += size
                        self._progress.notify_all()
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
                self._progress.notify_all()

    def _set_stalled(self, stalled: bool) -> None:
        with self._lock:
            if self._stalled != stalled:
                self._stalled = stalled
                self._progress.notify_all()

    def _note_rejections(self, response: Response) -> None:
        rejected, first = rejections(response)
        if rejected:
            self._count("rejected_by_service", rejected)
            self.log.warning(
                "xp: the service rejected %d events of a batch (first: %s)", rejected, first
            )

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Send one batch, retrying it whole; count the outcome."""
        for event in batch:
            if "event_id" not in event:
                event["event_id"] = new_event_id()
        headers = {PAYLOAD_ID_HEADER: new_event_id()}  # the same on every retry
        attempt = 0
        while True:
            wait_at_least = 0.0
            unreachable = False
            try:
                response = self.transport.request(
                    "POST", EVENTS_PATH, {"events": batch}, headers, self.request_timeout
                )
            except (TypeError, ValueError) as exc:
                encodable = self._drop_unencodable(batch)
                if len(encodable) < len(batch):
                    batch = encodable
                    if not batch:
                        return
                    continue
                failure = repr(exc)
            except TransportError as exc:
                failure = str(exc)
                unreachable = True
            except Exception as exc:  # a custom transport's bug: retried, then given up on
                failure = repr(exc)
            else:
                self._set_stalled(False)
                status = response.status
                if 200 <= status < 300:
                    self._count("sent", len(batch))
                    self._count("batches_sent", 1)
                    self._note_rejections(response)
                    return
                if status == 413 and len(batch) > 1:
                    # Too large as a whole: halves go separately, so one oversized event
                    # costs only itself.
                    half = len(batch) // 2
                    self._deliver(batch[:half])
                    self._deliver(batch[half:])
                    return
                if status < 500 and status not in RETRYABLE_4XX:
                    self._log_refusal(len(batch), response)
                    self._count("dropped_4xx", len(batch))
                    return
                failure = f"HTTP {status}"
                wait_at_least = retry_after(response)
            # An unreachable service is retried until close(): the queue bound is what limits
            # memory, and events queued during an outage must arrive once it is back.
            # max_retries bounds answers that refuse this batch (5xx, 408, 429).
            if (attempt >= self.max_retries and not unreachable) or self._abort.is_set():
                self.log.error(
                    "xp: giving up on %d events after %d attempts (last error: %s); dropped",
                    len(batch),
                    attempt + 1,
                    failure,
                )
                self._count("dropped_after_retries", len(batch))
                return
            if unreachable and attempt >= self.max_retries:
                self._set_stalled(True)
            attempt += 1
            delay = self._backoff(attempt, wait_at_least)
            self.log.log(
                logging.WARNING if attempt <= self.max_retries else logging.DEBUG,
                "xp: sending %d events failed (%s); retry %d in %.2fs",
                len(batch),
                failure,
                attempt,
                delay,
            )
            self._count("retries", 1)
            if self._sleep is not None:
                self._sleep(delay)
            else:
                self._abort.wait(delay)

    def _backoff(self, attempt: int, wait_at_least: float) -> float:
        """Full jitter: uniform in ``[0, min(max, base * 2**(attempt-1))]``, or Retry-After."""
        cap = min(self.backoff_max, self.backoff_base * 2.0 ** min(attempt - 1, 64))
        return min(self.backoff_max, max(random.uniform(0.0, cap), wait_at_least))

    def _drop_unencodable(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        encodable = []
        error: Exception | None = None
        for event in batch:
            try:
                encode_json(event)
            except (TypeError, ValueError) as exc:
                error = exc
            else:
                encodable.append(event)
        dropped = len(batch) - len(encodable)
        if dropped:
            self.log.error("xp: dropped %d events that are not valid JSON: %s", dropped, error)
            self._count("dropped_invalid", dropped)
        return encodable

    def _log_refusal(self, n: int, response: Response) -> None:
        # One line for a wrong key: every later batch would be refused the same way.
        repeated = response.status in AUTH_REFUSALS and self._auth_logged
        self._auth_logged = self._auth_logged or response.status in AUTH_REFUSALS
        self.log.log(logging.DEBUG if repeated else logging.ERROR, "%s", refusal(n, response))

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            self._counts[name] += n
            if name.startswith("dropped_"):  # the thread's losses, which flush() reports
                self._lost += n
