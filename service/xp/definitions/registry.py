"""The live set of definitions: loaded at start, reloaded when the files change.

A reload that finds any problem keeps the last good set and reports the problems (log and
``/healthz``). Changes that would re-bucket units of a running experiment (salt, variant
order or weights) are refused unless the new definition says ``allow_rebucket: true``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xp.definitions.loader import Problem, experiment_files, load_directory
from xp.definitions.model import Definition

log = logging.getLogger("xp.definitions")

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Snapshot:
    """One consistent set of definitions and the config document served from it."""

    definitions: Mapping[str, Definition]
    config: dict[str, Any]
    etag: str
    loaded_at: float


def make_snapshot(definitions: Mapping[str, Definition]) -> Snapshot:
    live = [d.config for d in sorted(definitions.values(), key=lambda d: d.key) if d.is_live]
    document: dict[str, Any] = {"experiments": live}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
    document["version"] = digest
    return Snapshot(dict(definitions), document, f'"{digest}"', time.time())


def rebucket_problems(
    old: Mapping[str, Definition], new: Mapping[str, Definition]
) -> list[Problem]:
    """Running experiments whose units would move, unless the new file allows it."""
    problems = []
    for key, after in new.items():
        before = old.get(key)
        if before is None or before.status != "running" or after.status != "running":
            continue
        if after.config.get("allow_rebucket"):
            continue
        a, b = before.experiment, after.experiment
        changes = []
        if a.salt != b.salt:
            changes.append(f"salt {a.salt!r} -> {b.salt!r}")
        if [v.key for v in a.variants] != [v.key for v in b.variants]:
            changes.append("variant order")
        elif [v.weight for v in a.variants] != [v.weight for v in b.variants]:
            changes.append("weights")
        if changes:
            problems.append(
                Problem(
                    after.source,
                    "variants" if "salt" not in changes[0] else "salt",
                    f"changing {', '.join(changes)} of a running experiment re-buckets its units; "
                    "set allow_rebucket: true to do it anyway (coverage ramps are always fine)",
                )
            )
    return problems


class Registry:
    """Thread-safe holder of the current :class:`Snapshot`; cheap to call per request."""

    def __init__(
        self,
        directory: str | Path,
        reload_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.reload_interval = reload_interval
        self._clock = clock
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
            problems = result.problems + rebucket_problems(previous, result.definitions)
            first_load = not previous and force
            if problems and not first_load:
                self.problems = problems
                for problem in problems:
                    log.error("definitions not reloaded: %s", problem)
                return False
            # At start there is no last good set: serve the valid files, report the rest.
            self.problems = problems
            for problem in problems:
                log.error("experiment refused: %s", problem)
            self.snapshot = make_snapshot(result.definitions)
            log.info("loaded %d experiments from %s", len(result.definitions), self.directory)
            return True

    def _file_signature(self) -> Signature:
        try:
            files = experiment_files(self.directory)
        except OSError:
            return ()
        signature = []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            signature.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(signature)
