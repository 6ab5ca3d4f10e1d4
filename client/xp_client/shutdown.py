"""What happens to every event pipeline at ``os.fork()`` and at interpreter exit.

At exit all pipelines flush together and the whole exit waits at most :data:`EXIT_TIMEOUT`
plus :data:`ABORT_GRACE`, however many processors the application made; a request still in
flight then is abandoned (the sending threads are daemons).
"""

from __future__ import annotations

import atexit
import logging
import os
import time
import weakref
from typing import Protocol

EXIT_TIMEOUT = 5.0
ABORT_GRACE = 0.5


class Stoppable(Protocol):
    log: logging.Logger

    def stop(self) -> None: ...

    def abort(self) -> None: ...

    def join_until(self, deadline: float | None) -> bool: ...

    def _reset(self) -> None: ...


_pipelines: weakref.WeakSet[Stoppable] = weakref.WeakSet()


def register(pipeline: Stoppable) -> None:
    """Reset ``pipeline`` in a forked child and close it at exit, for as long as it lives."""
    _pipelines.add(pipeline)


def _reset_in_child() -> None:
    for pipeline in list(_pipelines):
        pipeline._reset()


def close_all(timeout: float | None = None, grace: float | None = None) -> bool:
    """Stop every pipeline, wait ``timeout`` for all, abort the rest and wait ``grace``
    (defaults: the module's EXIT_TIMEOUT and ABORT_GRACE when called)."""
    timeout = EXIT_TIMEOUT if timeout is None else timeout
    grace = ABORT_GRACE if grace is None else grace
    pipelines = list(_pipelines)
    for pipeline in pipelines:
        pipeline.stop()
    deadline = time.monotonic() + timeout
    for pipeline in pipelines:
        pipeline.join_until(deadline)
    busy = [p for p in pipelines if not p.join_until(time.monotonic())]
    for pipeline in busy:
        pipeline.abort()
    deadline = time.monotonic() + grace
    done = True
    for pipeline in busy:
        if not pipeline.join_until(deadline):
            pipeline.log.warning("xp: abandoning undelivered events at exit")
            done = False
    return done


def _close_at_exit() -> None:
    try:
        close_all()
    except Exception:  # never fail the host's exit
        logging.getLogger("xp.client").exception("xp: closing event processors at exit failed")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
atexit.register(_close_at_exit)
