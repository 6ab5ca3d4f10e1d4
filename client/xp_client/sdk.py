"""``Client``: local (or remote) assignment, exposure logging and conversion tracking.

Nothing here raises into the host application: every public method catches, logs through
``logging.getLogger("xp.client")`` and falls back to the control (or the caller's default).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Mapping
from types import TracebackType
from typing import Any

from xp_client import schedule
from xp_client.config_source import FEATURES, HOLDOUTS, ConfigPoller, Experiments, compile_config
from xp_client.engine import Assignment, assigner_for
from xp_client.event_processor import EventProcessor
from xp_client.features import Feature
from xp_client.holdouts import Holdout, guard, holdouts_of_experiment
from xp_client.ids import new_event_id
from xp_client.key_check import KeyCheck
from xp_client.limits import conversion_problem, unit_id_problem
from xp_client.lru import LRUSet
from xp_client.sdk_features import ERROR, NOT_READY, OVERRIDE, UNKNOWN_EXPERIMENT, FeatureMethods
from xp_client.sdk_remote import RemoteMethods
from xp_client.sticky import StickyStore, sticky_assigner
from xp_client.transport import HttpTransport, Transport
from xp_client.unit_ids import canonical_unit_id

log = logging.getLogger("xp.client")


# ``get_variant`` answers with the engine's own result object: ``experiment``, ``key`` (an
# alias of ``variant``), ``payload``, ``in_experiment``, ``reason``. No copy on the hot path.
Variant = Assignment

# Per experiment: (its assigner, unit attribute, the units exposed most recently (the LRU's
# young generation), the LRU's ``seen``: expose-or-refresh).
_Entry = tuple[
    Callable[[Mapping[str, Any]], Assignment],
    str,
    Container[Any],
    Callable[[Any], bool],
]


class Client(FeatureMethods, RemoteMethods):
    """The xp SDK. Use as a context manager, or call :meth:`close` (also run at exit)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        mode: str = "local",
        config: Mapping[str, Any] | None = None,
        init_timeout: float = 2.0,
        poll_interval: float = 30.0,
        request_timeout: float = 0.5,
        flush_interval: float = 5.0,
        batch_size: int = 500,
        capacity: int = 10_000,
        exposure_cache_size: int = 100_000,
        max_retries: int = 5,
        backoff_max: float = 30.0,
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
        sticky: StickyStore | None = None,
    ) -> None:
        """``clock`` (seconds since the epoch) is the time schedules are judged at and events
        are stamped with; the default, ``time.time``, is read only for experiments with a
        ``start`` or ``end``. ``sticky`` (local mode) remembers each unit's variant
        (:mod:`xp_client.sticky`); remote mode uses the service's (``XP_STICKY``)."""
        if mode not in ("local", "remote"):
            raise ValueError(f"mode must be 'local' or 'remote', not {mode!r}")
        if sticky is not None and mode != "local":
            raise ValueError("sticky applies to local mode; the service's XP_STICKY serves remote")
        self._sticky = sticky
        self.mode = mode
        self.request_timeout = request_timeout
        self._experiments: Experiments = {}
        self._extras: dict[str, Any] = {}
        self._overrides: dict[tuple[str, str | None], str] = {}
        self._apply_lock = threading.Lock()  # a config and an override() build entries in turn
        self._ready = threading.Event()
        self._key = KeyCheck(log)  # remote mode's ready
        self._closed = False
        self._exposure_cache_size = exposure_cache_size
        self._exposed: dict[str, LRUSet] = {}
        self._entries: dict[str, _Entry] = {}
        self._features: dict[str, Feature] = {}
        self._clock = clock
        self._time = clock or time.time  # events are stamped by the clock schedules are judged by
        if mode == "remote":
            self.get_variant = self._get_variant_remote  # type: ignore[method-assign]
            self.evaluate = self._evaluate_remote  # type: ignore[method-assign]
        if transport is None and base_url is not None:
            transport = HttpTransport(base_url, api_key=api_key)
        self._transport = transport
        self._events: EventProcessor | None = None
        self._poller: ConfigPoller | None = None
        if config is not None:
            self._apply_document(config)
        if transport is None:
            return
        self._events = EventProcessor(
            transport,
            flush_interval=flush_interval,
            batch_size=batch_size,
            capacity=capacity,
            max_retries=max_retries,
            backoff_max=backoff_max,
        )
        if mode == "local":
            self._poller = ConfigPoller(
                transport, self._apply, poll_interval, max(request_timeout, 2.0), log
            )
            self._poller.start()
            if not self._ready.is_set() and init_timeout > 0:
                self._ready.wait(init_timeout)

    @classmethod
    def offline(
        cls,
        config: Mapping[str, Any],
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
        sticky: StickyStore | None = None,
    ) -> Client:
        """Evaluate from ``config`` (a ``/v1/config`` document) with no network by default."""
        return cls(
            config=config,
            transport=transport,
            mode="local",
            init_timeout=0,
            clock=clock,
            sticky=sticky,
        )

    # -- assignment ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Local mode: whether a config is loaded. Remote mode: whether the service accepts
        the API key (false after a 401/403 answer, :mod:`xp_client.key_check`)."""
        if self.mode == "remote":
            return self._key.accepted
        return self._ready.is_set()

    def get_variant(
        self,
        experiment: str,
        user_id: str | int | float | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: str | None = None,
    ) -> Variant:
        """The unit's variant; never raises. ``user_id`` joins ``attributes`` as ``user_id``."""
        # The hot path of every host application: keep it to lookups, no copies, no locks.
        try:
            if attributes is None:
                attrs: Mapping[str, Any] = {} if user_id is None else {"user_id": user_id}
            elif user_id is None or attributes.get("user_id") == user_id:
                attrs = attributes
            else:
                attrs = {**attributes, "user_id": user_id}
            try:
                entry = self._entries[experiment]  # a subscript is cheaper than .get()
            except KeyError:
                if self._overrides:  # an override of an experiment the config does not have
                    unit = canonical_unit_id(attrs.get("user_id"))
                    forced = self._overrides.get((experiment, unit))
                    if forced is not None:
                        return self._forced(experiment, forced)
                reason = UNKNOWN_EXPERIMENT if self._ready.is_set() else NOT_READY
                return Variant(experiment, default or "control", None, False, reason)
            # An experiment with overrides has them checked first by its assigner (_apply).
            result: Assignment = entry[0](attrs)
            if result[3]:  # in_experiment
                unit_id = attrs[entry[1]]
                # A unit exposed recently is one lookup with no lock and nothing to write (the
                # LRU's young generation); any other goes through ``seen``, off the hot path.
                if unit_id not in entry[2] and not entry[3](unit_id):
                    self._queue_exposure(result, unit_id, attrs)
            return result
        except Exception:
            log.exception("get_variant(%r) failed; serving the default", experiment)
            return Variant(experiment, default or "control", None, False, ERROR)

    def _overriding(
        self,
        key: str,
        assigner: Callable[[Mapping[str, Any]], Assignment],
        units: dict[str | None, str],
    ) -> Callable[[Mapping[str, Any]], Assignment]:
        """``assigner`` after the overrides of experiment ``key`` (unit id -> variant): a
        forced unit gets its variant, not in the experiment (no exposure)."""

        def assign(attributes: Mapping[str, Any]) -> Assignment:
            forced = units.get(canonical_unit_id(attributes.get("user_id")))
            if forced is not None:
                return self._forced(key, forced)
            return assigner(attributes)

        return assign

    def _forced(self, experiment: str, variant: str) -> Variant:
        exp = self._experiments.get(experiment)
        found = exp.variant(variant) if exp else None
        return Variant(experiment, variant, found.payload if found else None, False, OVERRIDE)

    # -- events -------------------------------------------------------------------------------

    def track(
        self,
        event: str,
        user_id: str | int | float,
        value: float | None = None,
        ts: float | None = None,
        event_id: str | None = None,
    ) -> None:
        """Queue a conversion; never raises. One the service would reject is dropped here
        (logged, counted as ``dropped_invalid``) so it cannot cost the rest of its batch."""
        try:
            problem = conversion_problem(event, user_id, value, event_id)
            if problem:
                self._drop_invalid(f"track({event!r}): {problem}")
                return
            record: dict[str, Any] = {
                "type": "conversion",
                "event": event,
                "user_id": canonical_unit_id(user_id),
                "ts": self._time() if ts is None else ts,
                "event_id": event_id or new_event_id(),
            }
            if value is not None:
                record["value"] = value
            self._put(record)
        except Exception:
            log.exception("track(%r) failed", event)

    def _queue_exposure(self, result: Assignment, unit: Any, attrs: Mapping[str, Any]) -> None:
        # Logged in the form the engine hashed: 42.0 is exposed as "42", as it is tracked.
        unit_id = canonical_unit_id(unit)
        if unit_id is None:  # the engine refuses such ids first; kept as a guard
            self._drop_invalid(f"exposure to {result.experiment!r}: {unit_id_problem(unit)}")
            return
        segments = self._extras.get(result.experiment, {}).get("segments", ())
        record: dict[str, Any] = {
            "type": "exposure",
            "experiment": result.experiment,
            "user_id": unit_id,
            "variant": result.variant,
            "ts": self._time(),
            "event_id": new_event_id(),
        }
        if segments:
            record["attributes"] = {k: attrs[k] for k in segments if k in attrs}
        self._put(record)

    def _drop_invalid(self, what: str) -> None:
        if self._events is not None:
            self._events.drop_invalid(what)

    def _put(self, record: dict[str, Any]) -> None:
        if self._events is not None and not self._closed:
            self._events.put(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; True when it all went out. Waits ``timeout`` seconds
        at most; ``None`` waits until the retry budget is spent (client/README.md)."""
        try:
            return self._events.flush(timeout) if self._events is not None else True
        except Exception:
            log.exception("flush failed")
            return False

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the background threads; idempotent. Returns within ``timeout`` + 0.5 s;
        events still undelivered then are abandoned (logged)."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        try:
            if self._poller is not None:
                self._poller.stop(min(1.0, timeout))
            if self._events is not None:
                self._events.close(max(0.0, deadline - time.monotonic()))
            close_transport = getattr(self._transport, "close", None)
            if callable(close_transport):
                close_transport()
        except Exception:
            log.exception("close failed")

    def stats(self) -> dict[str, Any]:
        """Counters of the event queue and the config poller."""
        out: dict[str, Any] = dict(self._events.stats()) if self._events is not None else {}
        out["experiments"] = len(self._experiments)
        if self._poller is not None:
            out["config_fetches"] = self._poller.fetches
            out["config_failures"] = self._poller.failures
        return out

    # -- testing helpers ----------------------------------------------------------------------

    def override(self, experiment: str, user_id: str | int | float, variant: str | None) -> None:
        """Force ``variant`` for one unit in this client (``None`` removes the override)."""
        unit = canonical_unit_id(user_id)
        if unit is None:
            raise ValueError(f"cannot override for unit {user_id!r}: {unit_id_problem(user_id)}")
        with self._apply_lock:
            if variant is None:
                self._overrides.pop((experiment, unit), None)
            else:
                self._overrides[(experiment, unit)] = variant
            if self._ready.is_set():  # the entries check overrides: build them again
                self._build_entries(self._experiments, self._extras)

    def refresh(self) -> bool:
        """Fetch the config now (tests; normally the poller does it)."""
        return self._poller.fetch_now() if self._poller is not None else False

    # -- config -------------------------------------------------------------------------------

    def _apply_document(self, document: Mapping[str, Any]) -> None:
        experiments, extras = compile_config(document, log)
        self._apply(experiments, extras)

    def _apply(self, experiments: Experiments, extras: dict[str, Any]) -> None:
        with self._apply_lock:
            self._build_entries(experiments, extras)

    def _build_entries(self, experiments: Experiments, extras: dict[str, Any]) -> None:
        overridden: dict[str, dict[str | None, str]] = {}
        for (key, unit), forced in self._overrides.items():
            overridden.setdefault(key, {})[unit] = forced
        entries: dict[str, _Entry] = {}
        holdouts: dict[str, Holdout] = extras.get(HOLDOUTS) or {}
        # A holdout is assigned and its exposures logged as an experiment's (its own entry);
        # an opted-in experiment asks it first, through get_variant (xp_client.holdouts).
        for key, exp in [*experiments.items(), *((k, h.experiment) for k, h in holdouts.items())]:
            exposed = self._exposed.get(key)
            if exposed is None:
                exposed = self._exposed[key] = LRUSet(self._exposure_cache_size)
            assigner = assigner_for(exp)
            clock = self._clock
            if clock is not None and (exp.start is not None or exp.end is not None):
                assigner = schedule.judged_at(assigner, clock)
            if self._sticky is not None and key not in holdouts:
                assigner = sticky_assigner(exp, assigner, self._sticky)
            if key not in holdouts:
                behind = holdouts_of_experiment(holdouts, key)
                assigner = guard(assigner, exp, behind, self._local_assign)
            if key in overridden:
                assigner = self._overriding(key, assigner, overridden[key])
            entries[key] = (assigner, exp.unit, exposed.hot_path(), exposed.seen)
        # Readers see either the old or the new dicts, each whole: reference swaps are atomic.
        self._experiments, self._extras, self._entries = experiments, extras, entries
        self._features = extras.get(FEATURES) or {}
        self._ready.set()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
