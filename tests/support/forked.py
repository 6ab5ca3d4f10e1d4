"""Run a function in a forked child and get its JSON report back, for fork-safety tests."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any


def in_forked_child(report: Callable[[], Any], timeout: float = 15.0) -> Any:
    """``report()`` run in a child of ``os.fork()``; its JSON-able result, or ``{"error"}``.

    The child never returns into pytest. A child that hangs (a lock inherited locked) is killed
    and reported as ``{"error": "hung"}``.
    """
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            os.write(write_fd, json.dumps(report()).encode())
            code = 0
        except BaseException as exc:  # pragma: no cover - only a failing child gets here
            os.write(write_fd, json.dumps({"error": repr(exc)}).encode())
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return {"error": "hung"}
        time.sleep(0.01)
    with os.fdopen(read_fd, "rb") as pipe:
        return json.loads(pipe.read() or b'{"error": "no report"}')
