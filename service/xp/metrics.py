"""Prometheus metrics by the official client, added up across gunicorn workers.

A scrape reaches one worker, so no worker's memory can answer alone: ``xp serve`` runs
``prometheus_client`` in multiprocess mode, each worker writing its values to memory-mapped
files in a folder of its own instance (``<data_dir>/metrics/<instance>``, the
``PROMETHEUS_MULTIPROC_DIR``), and ``/metrics`` adds up that folder. The folder is held by a
lock for the instance's life: a second ``xp serve`` on the same data folder, even one that
fails on a busy port, makes a new folder and removes only folders whose lock is free (their
instance has exited), so it never wipes a live instance's totals. Without the variable (tests,
one process) the values live in this process's registry.

Requests are counted apart (:meth:`Metrics.count_request`): a ``prometheus_client``
increment takes a lock and, in multiprocess mode, writes a memory-mapped file, ~2-4 us, which
two per request made several times the cost of a counter increment. Each thread adds into
plain integers of its own (no lock: one writer per tally), and :meth:`Metrics.publish` hands
the differences to ``prometheus_client`` at each scrape and, in multiprocess mode, from a
thread of each worker every :data:`PUBLISH_INTERVAL` seconds and at its exit: a scrape sees
the other workers' requests at most that late.

``prometheus_client`` chooses its value class when first imported, so it is imported here
lazily, after :func:`claim_instance_folder` has set the variable.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import sys
import threading
import uuid
import weakref
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOCK_FILE = ".lock"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Request latency buckets, seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUESTS = "xp_http_requests_total"
LATENCY = "xp_http_request_duration_seconds"
PUBLISH_INTERVAL = 1.0  # seconds between a worker's publications in multiprocess mode
# name -> (kind, help, label names)
DEFINITIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "xp_http_requests_total": (
        "counter",
        "HTTP requests by route, method and status.",
        ("method", "route", "status"),
    ),
    "xp_http_request_duration_seconds": ("histogram", "HTTP request latency by route.", ("route",)),
    "xp_events_total": ("counter", "Events posted to /v1/events by outcome.", ("status",)),
    "xp_exposures_logged_total": ("counter", "Exposures logged by /v1/assign.", ()),
    "xp_exposures_dropped_total": (
        "counter",
        "Exposures of /v1/assign dropped, by reason.",
        ("reason",),
    ),
    "xp_exposure_write_failures_total": ("counter", "Failed writes of buffered exposures.", ()),
}
GAUGES = {
    "xp_experiments_loaded": "Experiment definitions being served.",
    "xp_definition_problems": "Problems in the experiment files (last edit refused).",
    "xp_store_up": "1 when the event store answers, else 0.",
    "xp_exposure_buffer_depth": "Exposures waiting in the answering worker's buffer.",
}

# The lock of this process's instance folder, open for the process's life (and its forks').
_held: list[IO[str]] = []


class Metrics:
    """The service's counters and histograms; :meth:`render` is the scrape."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.folder = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        self._children: dict[tuple[Any, ...], Any] = {}
        self._tallies: dict[int, _Tally] = {}  # thread ident -> that thread's request counts
        self._publishing = threading.Lock()
        self._publisher: threading.Thread | None = None
        self._stopped = threading.Event()
        _reset_in_forked_children(self)
        for name, (kind, text, labels) in DEFINITIONS.items():
            if kind == "counter":
                self._metrics[name] = Counter(name, text, labels, registry=self.registry)
            else:
                self._metrics[name] = Histogram(
                    name, text, labels, buckets=BUCKETS, registry=self.registry
                )

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        self._child(name, labels).inc(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._child(name, labels).observe(value)

    def count_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One served request, into the calling thread's plain counters (no lock, no file):
        one row per (route, method, status) of latency bucket counts, then their sum."""
        tally = self._tallies.get(threading.get_ident())
        if tally is None:
            tally = self._new_tally()
        key = (route, method, status)
        row = tally.rows.get(key)
        if row is None:
            row = tally.rows[key] = [0.0] * (len(BUCKETS) + 2)
        # the first bucket whose bound is >= seconds (Prometheus' ``le``); the last slot: sum
        row[bisect_left(BUCKETS, seconds)] += 1
        row[-1] += seconds

    def _new_tally(self) -> _Tally:
        tally = self._tallies[threading.get_ident()] = _Tally()
        if self.folder is not None and self._publisher is None:
            with self._publishing:
                if self._publisher is None:
                    self._publisher = threading.Thread(
                        target=self._publish_every, name="xp-metrics", daemon=True
                    )
                    self._publisher.start()
                    atexit.register(self.publish)  # a worker's graceful exit runs atexit
        return tally

    def _publish_every(self) -> None:
        while not self._stopped.wait(PUBLISH_INTERVAL):
            self.publish()

    def publish(self) -> None:
        """Hand what the threads counted since the last call to ``prometheus_client``: each
        row's requests to the counter of its labels, its latencies to its route's histogram."""
        with self._publishing:
            for tally in list(self._tallies.values()):
                for key, row in list(tally.rows.items()):  # the owner may add rows meanwhile
                    now = list(row)
                    done = tally.published.get(key)
                    if now == done:
                        continue
                    done = done or [0.0] * len(now)
                    added = [n - d for n, d in zip(now, done, strict=True)]
                    route, method, status = key
                    labels = {"route": route, "method": method, "status": str(status)}
                    self._child(REQUESTS, labels).inc(sum(added[:-1]))
                    _add_to_histogram(self._child(LATENCY, {"route": route}), added)
                    tally.published[key] = now

    def _forked(self) -> None:
        """In a new child: no thread of the parent runs here, and its counts are the parent's."""
        self._tallies = {}
        self._publishing = threading.Lock()
        self._publisher = None
        self._stopped = threading.Event()

    def _child(self, name: str, labels: dict[str, str]) -> Any:
        """The labelled series, looked up once: ``labels()`` validates and locks on every call,
        which would cost a request several times a counter increment."""
        key = (name, *labels.items())
        child = self._children.get(key)
        if child is None:
            metric = self._metrics[name]
            child = self._children[key] = metric.labels(**labels) if labels else metric
        return child

    def render(self, gauges: Mapping[str, float]) -> str:
        """Every process's metrics added up, plus ``gauges``, in Prometheus' text format."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        self.publish()
        scrape = CollectorRegistry()
        if self.folder is not None:
            MultiProcessCollector(scrape, path=self.folder)
        else:
            scrape.register(_Collected(self.registry))
        scrape.register(_Gauges(gauges))
        return generate_latest(scrape).decode()

    def close(self) -> None:
        """Publish the last requests and stop the publishing thread."""
        self._stopped.set()
        self.publish()


class _Tally:
    """One thread's request counts, written by that thread only; ``published`` is what
    :meth:`Metrics.publish` has already handed on (touched under its lock only)."""

    __slots__ = ("published", "rows")

    def __init__(self) -> None:
        # (route, method, status) -> count per latency bucket (+Inf last), then their sum
        self.rows: dict[tuple[str, str, int], list[float]] = {}
        self.published: dict[tuple[str, str, int], list[float]] = {}


def _add_to_histogram(child: Any, added: list[float]) -> None:
    """Add bucket counts and a sum of latencies (the last item) to a histogram series.

    ``Histogram.observe`` takes one value; adding many at once needs its value objects
    (non-cumulative ``_buckets``, then ``_sum``), stable across prometheus-client releases
    and pinned by ``tests/api/test_request_metrics.py``.
    """
    for bucket, n in zip(child._buckets, added[:-1], strict=True):
        if n:
            bucket.inc(n)
    child._sum.inc(added[-1])


def _reset_in_forked_children(metrics: Metrics) -> None:
    ref = weakref.ref(metrics)

    def forked() -> None:
        alive = ref()
        if alive is not None:
            alive._forked()

    os.register_at_fork(after_in_child=forked)


class _Collected:
    """This process's registry, as a collector of the scrape's registry."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()


class _Gauges:
    """Gauges computed at scrape time by the scraped process (no file holds them)."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self.values = values

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        for name, text in GAUGES.items():
            if name in self.values:
                yield GaugeMetricFamily(name, text, value=self.values[name])


def claim_instance_folder(data_dir: str | Path) -> Path:
    """A new, locked ``PROMETHEUS_MULTIPROC_DIR`` for this server instance; folders of
    instances that have exited are removed, live ones are left alone."""
    parent = Path(data_dir) / "metrics"
    parent.mkdir(parents=True, exist_ok=True)
    for sibling in parent.iterdir():
        if sibling.is_dir() and _owner_gone(sibling):
            shutil.rmtree(sibling, ignore_errors=True)
        elif sibling.suffix == ".json":  # files of the hand-made aggregator this replaced
            sibling.unlink(missing_ok=True)
    folder = parent / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    lock = open(folder / LOCK_FILE, "w")  # noqa: SIM115 - held until the process exits
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _held.append(lock)
    os.environ[MULTIPROC_ENV] = str(folder)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # imported before the variable was set: switch it now
        values.ValueClass = values.MultiProcessValue()  # type: ignore[attr-defined]
    return folder


def _owner_gone(folder: Path) -> bool:
    """Whether no process holds ``folder``'s lock (a folder without one is left alone)."""
    try:
        with open(folder / LOCK_FILE) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    except OSError:  # BlockingIOError: a live instance holds it
        return False
    return True
