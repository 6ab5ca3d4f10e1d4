"""Prometheus metrics that add up across gunicorn workers.

A scrape reaches one worker, so no worker's memory can answer alone. Each process keeps its
counters in memory and a daemon thread writes them, at most once a second and only when they
changed, to its own file in ``<data_dir>/metrics``; ``/metrics`` writes the scraping process's
file and adds every file up (the multiprocess mode of the official client, without the
dependency). A worker that died leaves its file, so totals never go down; ``xp serve`` clears
the folder when it starts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("xp.service")

# Request latency buckets, seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DESCRIPTIONS = {
    "xp_http_requests_total": ("counter", "HTTP requests by route, method and status."),
    "xp_http_request_duration_seconds": ("histogram", "HTTP request latency by route."),
    "xp_events_total": ("counter", "Events posted to /v1/events by outcome."),
    "xp_exposures_logged_total": ("counter", "Exposures logged by /v1/assign."),
    "xp_exposures_dropped_total": ("counter", "Exposures of /v1/assign dropped, by reason."),
    "xp_exposure_write_failures_total": ("counter", "Failed writes of buffered exposures."),
    "xp_exposure_buffer_depth": ("gauge", "Exposures waiting in the answering worker's buffer."),
    "xp_experiments_loaded": ("gauge", "Experiment definitions being served."),
    "xp_definition_problems": ("gauge", "Problems in the experiment files (last edit refused)."),
    "xp_store_up": ("gauge", "1 when the event store answers, else 0."),
}

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Counters and histograms of this process, written to ``folder/<pid>.json``."""

    def __init__(self, folder: str | Path, interval: float = 1.0) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, Labels], float] = {}
        # name, labels -> [count per bucket (not cumulative)..., +Inf count, sum]
        self._histograms: dict[tuple[str, Labels], list[float]] = {}
        self._dirty = False
        self._writer_pid = 0
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._name_pid = 0
        self._name = ""

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = (name, _labels(labels))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0.0) + value
            self._dirty = True
        self._ensure_writer()

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = (name, _labels(labels))
        with self._lock:
            cells = self._histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            slot = next((i for i, bound in enumerate(BUCKETS) if value <= bound), len(BUCKETS))
            cells[slot] += 1
            cells[-1] += value
            self._dirty = True
        self._ensure_writer()

    def write(self) -> None:
        """Write this process's file now (atomically: readers never see half of it)."""
        # One writer at a time, snapshot to rename: an older snapshot must never replace a
        # newer one, or a scrape would see a counter go down (a reset, to Prometheus).
        with self._write_lock:
            self._write()

    def _write(self) -> None:
        with self._lock:
            document = {
                "counters": [[n, list(map(list, ls)), v] for (n, ls), v in self._counters.items()],
                "histograms": [
                    [n, list(map(list, ls)), cells] for (n, ls), cells in self._histograms.items()
                ],
            }
            self._dirty = False
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self._file_name()}.json"
        temporary = path.with_suffix(f".{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(document))
        os.replace(temporary, path)

    def _file_name(self) -> str:
        """``<pid>-<random>``: a later process that reuses a pid must not overwrite the totals
        a dead worker left."""
        pid = os.getpid()
        if self._name_pid != pid:
            self._name_pid, self._name = pid, f"{pid}-{os.urandom(4).hex()}"
        return self._name

    def render(self, gauges: Mapping[str, float]) -> str:
        """Every process's metrics added up, plus ``gauges``, in Prometheus' text format."""
        self.write()
        counters: dict[tuple[str, Labels], float] = {}
        histograms: dict[tuple[str, Labels], list[float]] = {}
        for document in self._read_all():
            for name, labels, value in document.get("counters", []):
                key = (name, _labels(dict(labels)))
                counters[key] = counters.get(key, 0.0) + float(value)
            for name, labels, cells in document.get("histograms", []):
                key = (name, _labels(dict(labels)))
                total = histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
                for i, cell in enumerate(cells[: len(total)]):
                    total[i] += float(cell)
        lines: list[str] = []
        for name in DESCRIPTIONS:
            kind, text = DESCRIPTIONS[name]
            rows = _rows(name, kind, counters, histograms, gauges)
            if rows:
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *rows]
        return "\n".join(lines) + "\n"

    def clear_folder(self) -> None:
        """Forget every process's totals (``xp serve`` at start)."""
        for path in self.folder.glob("*.json"):
            path.unlink(missing_ok=True)

    def _read_all(self) -> Iterable[dict[str, Any]]:
        for path in sorted(self.folder.glob("*.json")):
            try:
                yield json.loads(path.read_text())
            except (OSError, ValueError) as exc:  # a file being replaced, or damaged
                log.warning("metrics: skipping %s: %s", path, exc)

    def _ensure_writer(self) -> None:
        pid = os.getpid()
        if self._writer_pid == pid or self._stop.is_set():
            return
        with self._lock:
            if self._writer_pid == pid:
                return
            self._writer_pid = pid  # also after a fork: threads do not survive it
            thread = threading.Thread(target=self._write_loop, name="xp-metrics", daemon=True)
        thread.start()

    def close(self) -> None:
        """Stop the writer thread after a last write of what changed."""
        self._stop.set()
        if self._dirty:
            try:
                self.write()
            except OSError as exc:
                log.warning("metrics: cannot write %s: %s", self.folder, exc)

    def _write_loop(self) -> None:
        pid = os.getpid()
        while self._writer_pid == pid and not self._stop.wait(self.interval):
            if self._dirty:
                try:
                    self.write()
                except OSError as exc:
                    log.warning("metrics: cannot write %s: %s", self.folder, exc)


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def _rows(
    name: str,
    kind: str,
    counters: Mapping[tuple[str, Labels], float],
    histograms: Mapping[tuple[str, Labels], list[float]],
    gauges: Mapping[str, float],
) -> list[str]:
    if kind == "gauge":
        return [f"{name} {_number(gauges[name])}"] if name in gauges else []
    if kind == "counter":
        return [
            f"{name}{_format(labels)} {_number(value)}"
            for (n, labels), value in sorted(counters.items())
            if n == name
        ]
    rows = []
    for (n, labels), cells in sorted(histograms.items()):
        if n != name:
            continue
        cumulative = 0.0
        for bound, cell in zip((*BUCKETS, math.inf), cells, strict=False):
            cumulative += cell
            le = "+Inf" if math.isinf(bound) else repr(bound)
            rows.append(f"{name}_bucket{_format((*labels, ('le', le)))} {_number(cumulative)}")
        rows.append(f"{name}_sum{_format(labels)} {_number(cells[-1])}")
        rows.append(f"{name}_count{_format(labels)} {_number(cumulative)}")
    return rows


def _format(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
