"""Keeps the SDK's experiment definitions fresh: fetches ``/v1/config`` and re-polls it."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from xp_client.definition import DefinitionError, Experiment
from xp_client.features import compile_features
from xp_client.holdouts import compile_holdouts
from xp_client.transport import Transport, TransportError

Experiments = dict[str, Experiment]
# The compiled features ride in ``extras`` under a name no experiment key can take.
FEATURES = "@features"
HOLDOUTS = "@holdouts"


def compile_config(document: Any, logger: logging.Logger) -> tuple[Experiments, dict[str, Any]]:
    """Experiments of a ``/v1/config`` document; a bad entry is skipped and logged, not fatal."""
    experiments: Experiments = {}
    extras: dict[str, Any] = {}
    entries = document.get("experiments") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise DefinitionError("config document has no 'experiments' list")
    for entry in entries:
        try:
            experiment = Experiment.from_dict(entry)
        except Exception as exc:  # one bad definition must not hide the others
            logger.warning("skipping experiment config %r: %s", _key(entry), exc)
            continue
        experiments[experiment.key] = experiment
        extras[experiment.key] = {"segments": tuple(entry.get("segments") or ())}
    holdouts = compile_holdouts(document.get("holdouts"), logger)
    extras[HOLDOUTS] = holdouts
    extras[FEATURES] = compile_features(document.get("features"), logger, holdouts)
    return experiments, extras


def _key(entry: Any) -> Any:
    return entry.get("key") if isinstance(entry, Mapping) else entry


class ConfigPoller:
    """A daemon thread polling ``GET /v1/config`` with ``If-None-Match``.

    ``on_config(experiments, extras)`` runs for each new document. Restarts itself lazily in
    a forked child (gunicorn ``--preload``), since threads do not survive ``fork``.
    """

    def __init__(
        self,
        transport: Transport,
        on_config: Callable[[Experiments, dict[str, Any]], None],
        interval: float,
        timeout: float,
        logger: logging.Logger,
    ) -> None:
        self._transport = transport
        self._on_config = on_config
        self.interval = interval
        self.timeout = timeout
        self._log = logger
        self._etag: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.fetches = 0
        self.failures = 0
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _restart_in_child(ref))

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        self._stop.clear()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="xp-config", daemon=True)
        self._thread.start()

    def fetch_now(self) -> bool:
        """One fetch in the caller's thread; True when a new config was applied."""
        headers = {"Accept": "application/json"}
        if self._etag:
            headers["If-None-Match"] = self._etag
        try:
            response = self._transport.request("GET", "/v1/config", None, headers, self.timeout)
        except TransportError as exc:
            self.failures += 1
            self._log.info("config fetch failed: %s", exc)
            return False
        self.fetches += 1
        if response.status == 304:
            return False
        if response.status != 200:
            self.failures += 1
            self._log.warning("config fetch answered %s", response.status)
            return False
        try:
            experiments, extras = compile_config(response.json(), self._log)
        except Exception as exc:  # a broken document keeps the current config
            self.failures += 1
            self._log.warning("config document refused: %s", exc)
            return False
        self._etag = response.headers.get("ETag") or response.headers.get("etag")
        self._on_config(experiments, extras)
        return True

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                self.fetch_now()
            except Exception:  # the poller thread must never die
                self._log.exception("config poller error")
            self._wake.wait(self.interval)
            self._wake.clear()
            delay = 0.0

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def _after_fork(self) -> None:
        self._thread = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.start()


def _restart_in_child(ref: weakref.ref[ConfigPoller]) -> None:
    poller = ref()
    if poller is not None and poller._thread is not None:
        poller._after_fork()
