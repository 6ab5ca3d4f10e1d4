"""What one service process holds: settings, the live definitions, the store and metrics."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flask import current_app

from xp.definitions.model import Definition
from xp.definitions.registry import Registry
from xp.exposure_buffer import ExposureBuffer
from xp.ingest import ingest_events
from xp.metrics import Metrics
from xp.settings import Settings
from xp_client.engine import Assignment
from xp_client.unit_ids import canonical_unit_id

if TYPE_CHECKING:
    from xp.store.base import Store

log = logging.getLogger("xp.service")


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._store_pid = 0
        self._lock = threading.Lock()
        # The guard reads the fingerprints the store recorded at each (re)load.
        self.registry = Registry(
            settings.experiments_dir,
            settings.reload_interval,
            recorded=lambda: self.store.recorded_definitions(),
            features_dir=settings.features_path,
            holdouts_dir=settings.holdouts_path,
        )
        self.metrics = Metrics()
        # Exposures of /v1/assign go through the same ingestion (and guard) as /v1/events.
        self.exposures = ExposureBuffer(
            lambda events, definitions, now: ingest_events(
                self.store, events, definitions, now, self.on_conflict
            ),
            self.metrics,
            capacity=settings.exposure_buffer_size,
            flush_interval=settings.exposure_flush_interval,
            retry_max=settings.exposure_retry_max,
            shutdown_timeout=settings.exposure_shutdown_timeout,
        )

    @property
    def store(self) -> Store:
        """The store, opened lazily in each process (connections must not cross a fork)."""
        if self._store is None or self._store_pid != os.getpid():
            with self._lock:
                if self._store is None or self._store_pid != os.getpid():
                    from xp.attribution.hold import HoldPolicy
                    from xp.store import open_store

                    self._store = open_store(
                        self.settings.store_url,
                        self.settings.data_dir,
                        redis=self.settings.redis,
                        hold=HoldPolicy(seconds=self.settings.hold_seconds),
                    )
                    self._store_pid = os.getpid()
        return self._store

    def store_ready(self) -> tuple[bool, str]:
        try:
            ok = self.store.ping()
        except Exception as exc:  # readiness reports the failure rather than raising it
            return False, f"{type(exc).__name__}: {exc}"
        return ok, "ok" if ok else "no answer"

    def log_exposures(
        self,
        assignments: Sequence[Assignment],
        attributes: Mapping[str, Any],
        definitions: Mapping[str, Definition],
    ) -> None:
        """Hand an exposure for every assignment that put the unit in its experiment to the
        buffer (:mod:`xp.exposure_buffer`): the request neither waits for nor needs the store."""
        from xp.events.model import Exposure

        now = time.time()
        exposures = []
        for a in assignments:
            if not a.in_experiment:
                continue
            definition = definitions[a.experiment]
            unit_id = canonical_unit_id(attributes[definition.experiment.unit])
            if unit_id is None:  # the engine put no such unit in an experiment
                continue
            exposures.append(
                Exposure.create(a.experiment, unit_id, a.variant, now, dict(attributes))
            )
        self.exposures.offer(exposures, definitions, now)

    def on_conflict(self, key: str) -> None:
        """The store holds another fingerprint for ``key``: reload, so the guard refuses it."""
        self.registry.invalidate()

    def close(self) -> None:
        self.exposures.close()
        self.metrics.close()
        if self._store is not None and self._store_pid == os.getpid():
            self._store.close()
        self._store = None


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["xp"]
    return rt
