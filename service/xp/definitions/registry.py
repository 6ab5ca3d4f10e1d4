"""The live set of definitions: loaded at start, reloaded when the files change.

A reload that finds any problem in an experiment file keeps the last good set of experiments
and reports the problems (log and ``/healthz``); feature files reload one by one (a refused
file keeps its feature's last good definition), so one broken file never blocks another.
Each load also checks every definition against the fingerprints the store recorded at each
experiment's first exposure (:mod:`xp.definitions.guard`), so a change that would re-bucket
units with data is refused after a restart as well as on a hot reload. A refused experiment
stays live with its last good definition: the one this process served, or after a restart
the last one the store recorded. Only a new ``phase`` re-buckets.

Holdouts (:mod:`xp.definitions.holdouts`) live among the definitions as experiments, so the
guard, exposures, attribution and results treat them as such; ``/v1/config`` serves them in
their own ``holdouts`` list, and ``/v1/assign`` assigns them only when asked by key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xp.definitions.features import FeatureDefinition, FeatureLoad, load_features
from xp.definitions.features import served as served_feature
from xp.definitions.fingerprint import Recorded, canonical_json, fingerprint
from xp.definitions.guard import History, check, guard_problems
from xp.definitions.holdouts import HoldoutDefinition, HoldoutLoad, load_holdouts
from xp.definitions.loader import Problem, experiment_files, load_directory
from xp.definitions.model import Definition
from xp.definitions.phases import split_store_key, store_key
from xp_client.holdouts import Holdout, holdouts_of_experiment, holdouts_of_feature

log = logging.getLogger("xp.definitions")

Signature = tuple[tuple[str, int, int], ...]
RecordedReader = Callable[[], Mapping[str, Recorded]]


@dataclass(frozen=True)
class Snapshot:
    """One consistent set of definitions and the config document served from it."""

    definitions: Mapping[str, Definition]
    config: dict[str, Any]
    etag: str
    loaded_at: float
    history: History = field(default_factory=History)
    features: Mapping[str, FeatureDefinition] = field(default_factory=dict)
    holdouts: Mapping[str, HoldoutDefinition] = field(default_factory=dict)
    # The engine's holdouts (as SDKs compile /v1/config's), for who opts into which.
    engine_holdouts: Mapping[str, Holdout] = field(default_factory=dict, repr=False, compare=False)
    _behind: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)
    _by_environment: dict[str, tuple[dict[str, Any], str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def config_for(self, environment: str) -> tuple[dict[str, Any], str]:
        """The ``/v1/config`` document of ``environment`` (experiments and that environment's
        features) and its ETag; built once per snapshot and environment."""
        found = self._by_environment.get(environment)
        if found is None:
            features = [
                served_feature(self.features[k], environment) for k in sorted(self.features)
            ]
            document = {
                "experiments": self.config["experiments"],
                "features": features,
                "holdouts": self.config["holdouts"],
                "environment": environment,
            }
            digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
            found = self._by_environment[environment] = (
                {**document, "version": digest},
                f'"{digest}"',
            )
        return found

    def holdouts_of_experiment(self, key: str) -> tuple[str, ...]:
        """Keys of the holdouts experiment ``key`` opts into (the SDK's rule), cached."""
        found = self._behind.get(key)
        if found is None:
            behind = (
                () if key in self.holdouts else holdouts_of_experiment(self.engine_holdouts, key)
            )
            found = self._behind[key] = behind
        return found

    def archived(self) -> dict[str, Definition]:
        """Experiments with stored data and no file: key -> the last definition of its last
        phase that the store recorded."""
        found: dict[str, tuple[int, Definition]] = {}
        for experiment, definition in self.history.definitions.items():
            key, phase = split_store_key(experiment)
            if definition is None or key in self.definitions:
                continue
            if key not in found or phase > found[key][0]:
                found[key] = (phase, definition)
        return {key: d for key, (_, d) in sorted(found.items())}

    def phase_definition(self, key: str, phase: int) -> Definition | None:
        """The definition of ``key`` in ``phase``: the live one, or the store's last one."""
        live = self.definitions.get(key)
        if live is not None and live.phase == phase:
            return live
        return self.history.definitions.get(store_key(key, phase))


def settle(
    candidates: Mapping[str, Definition],
    previous: Mapping[str, Definition],
    history: History,
) -> dict[str, Definition]:
    """``candidates`` with each definition the guard refuses replaced by its last good one:
    the previous live one if it passes, else the store's last recorded (latest phase first);
    left out when there is none."""
    live: dict[str, Definition] = {}
    for key, definition in candidates.items():
        options = [definition, previous.get(key)] + [
            history.definitions.get(e) for _, e in sorted(history.phases(key).items(), reverse=True)
        ]
        for option in options:
            if option is not None and option.key == key and not guard_problems(option, history):
                live[key] = option
                break
        else:
            log.error("experiment %r is out of the live set: no definition passes the guard", key)
    return live


def served(definition: Definition) -> dict[str, Any]:
    """The config an SDK gets; from phase 2 on it names the effective salt, so an SDK that
    does not know the phase rule still buckets like the service."""
    config = definition.config
    if definition.phase > 1 and not config.get("salt"):
        return {**config, "salt": definition.experiment.salt}
    return config


def make_snapshot(
    definitions: Mapping[str, Definition],
    history: History | None = None,
    features: Mapping[str, FeatureDefinition] | None = None,
    holdouts: Mapping[str, HoldoutDefinition] | None = None,
) -> Snapshot:
    holdouts = {k: h for k, h in (holdouts or {}).items() if k in definitions}
    live = [
        served(d)
        for d in sorted(definitions.values(), key=lambda d: d.key)
        if d.is_live and d.key not in holdouts
    ]
    held = [holdouts[k].served() for k in sorted(holdouts)]
    document: dict[str, Any] = {"experiments": live, "holdouts": held}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
    document["version"] = digest
    return Snapshot(
        dict(definitions),
        document,
        f'"{digest}"',
        time.time(),
        history or History(),
        dict(features or {}),
        holdouts,
        {h["key"]: Holdout.from_dict(h) for h in held},
    )


class Registry:
    """Thread-safe holder of the current :class:`Snapshot`; cheap to call per request.

    ``recorded`` reads the store's fingerprints (``Store.recorded_definitions``); without it,
    or while it fails, the guard knows only the running experiments this process served.
    """

    def __init__(
        self,
        directory: str | Path,
        reload_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        recorded: RecordedReader | None = None,
        features_dir: str | Path | None = None,
        holdouts_dir: str | Path | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.features_dir = None if features_dir is None else Path(features_dir)
        self.holdouts_dir = None if holdouts_dir is None else Path(holdouts_dir)
        self.reload_interval = reload_interval
        self._clock = clock
        self._recorded = recorded
        self._lock = threading.Lock()
        self._signature: Signature | None = None
        self._checked_at = float("-inf")
        self.problems: list[Problem] = []
        self.snapshot = make_snapshot({})
        self.reload(force=True)

    def current(self) -> Snapshot:
        """The live snapshot, reloading first when the interval has passed and files changed."""
        if self.reload_interval >= 0 and self._clock() - self._checked_at >= self.reload_interval:
            self.reload()
        return self.snapshot

    def invalidate(self) -> None:
        """Reload at the next :meth:`current` even if no file changed (the store disagreed)."""
        with self._lock:
            self._signature = None
            self._checked_at = float("-inf")

    def reload(self, force: bool = False) -> bool:
        """Re-read the directory when its files changed; return whether the set changed."""
        with self._lock:
            self._checked_at = self._clock()
            signature = self._file_signature()
            if not force and signature == self._signature:
                return False
            self._signature = signature
            result = load_directory(self.directory)
            previous = self.snapshot.definitions
            history = self._history(previous)
            # Holdouts name features: validated against this pass's feature files.
            named = self._features(result.definitions, self.snapshot.features).features
            holdouts = self._holdouts(result.definitions, named)
            # A holdout is guarded like an experiment: a new salt would re-bucket its units.
            candidates = {
                **result.definitions,
                **{k: h.definition for k, h in holdouts.holdouts.items()},
            }
            passed, refused = check(candidates, history)
            problems = result.problems + refused + holdouts.problems
            first_load = not previous and force
            reloaded = not problems or first_load
            if reloaded:
                # At start there is no last good set: serve the valid files, report the rest;
                # a refused experiment with data is served as the store last recorded it.
                live = settle(candidates, previous, history)
                live_holdouts: Mapping[str, HoldoutDefinition] = holdouts.holdouts
            else:
                # The last good set stays, re-checked: the store may have recorded a first
                # exposure under another definition (another process) since it was loaded.
                live = settle(previous, {}, history)
                live_holdouts = self.snapshot.holdouts
            for problem in problems:
                log.error(
                    "%s: %s",
                    "experiment refused" if reloaded else "definitions not reloaded",
                    problem,
                )
            # Features reload file by file whatever the experiments did, so one broken file
            # never holds back a kill switch in another.
            features = self._features(live, self.snapshot.features)
            for problem in features.problems:
                log.error("feature refused: %s", problem)
            self.problems = problems + features.problems
            self.snapshot = make_snapshot(live, history, features.features, live_holdouts)
            if reloaded:
                held = len(live_holdouts)
                log.info("loaded %d experiments from %s", len(live) - held, self.directory)
            return reloaded

    def _features(
        self, experiments: Mapping[str, Definition], previous: Mapping[str, FeatureDefinition]
    ) -> FeatureLoad:
        """The valid feature files; a live feature whose file is now refused keeps its last
        good definition (as an experiment does) until the file is fixed or deleted."""
        if self.features_dir is None:
            return FeatureLoad({}, [], 0)
        found = load_features(self.features_dir, experiments)
        refused = {p.file for p in found.problems}
        kept = {
            k: f for k, f in previous.items() if f.source in refused and k not in found.features
        }
        return FeatureLoad({**kept, **found.features}, found.problems, found.files)

    def _holdouts(
        self, experiments: Mapping[str, Definition], features: Mapping[str, FeatureDefinition]
    ) -> HoldoutLoad:
        if self.holdouts_dir is None:
            return HoldoutLoad({}, [], 0)
        return load_holdouts(self.holdouts_dir, experiments, features)

    def holdout_for_experiment(self, key: str) -> str | None:
        """The first holdout experiment ``key`` opts into (the results pages link it)."""
        found = self.current().holdouts_of_experiment(key)
        return found[0] if found else None

    def holdout_for_feature(self, key: str) -> str | None:
        """The first holdout feature ``key`` opts into."""
        found = holdouts_of_feature(self.current().engine_holdouts, key)
        return found[0] if found else None

    def _history(self, previous: Mapping[str, Definition]) -> History:
        """The store's fingerprints; when it cannot answer, what this process knows."""
        if self._recorded is not None:
            try:
                return History.of(self._recorded())
            except Exception as exc:  # the guard degrades; the service keeps serving
                log.warning("fingerprints not read from the store, guarding in process: %s", exc)
        known = dict(self.snapshot.history.recorded)
        for d in previous.values():
            if d.status == "running":
                sk = store_key(d.key, d.phase)
                known.setdefault(
                    sk, Recorded(sk, fingerprint(d.experiment), canonical_json(d.config))
                )
        return History.of(known)

    def _file_signature(self) -> Signature:
        try:
            files = experiment_files(self.directory)
        except OSError:
            files = []
        for extra in (self.features_dir, self.holdouts_dir):
            if extra is not None:
                try:
                    files = files + experiment_files(extra)
                except OSError:
                    pass
        signature = []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            signature.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(signature)
