"""The Lua scripts: read once from ``lua/`` with importlib.resources, loaded on each server
once, called by SHA in one pipeline per server.

Each script is ``lib.lua``, ``kinds.lua`` (the per-kind steps) and ``attribute.lua`` followed
by its own file.
After a ``NOSCRIPT`` (a restarted or flushed server) the scripts are loaded again and the
calls that got it, which did not run, are sent again.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

from xp.store.base import StoreError

SCRIPTS = ("ingest", "erase")
PRELUDE = ("lib", "kinds", "attribute")  # prepended to every script, in this order

Call = tuple[str, list[str], list[Any]]  # script name, keys, args
# WAIT after a pipeline: a key on its node to INCR (so WAIT covers every earlier write on
# the node, even when this pipeline's scripts wrote nothing), replicas, timeout in ms.
Ack = tuple[str, int, int]


class ReplicasBehind(StoreError):
    """Fewer replicas than asked hold a batch's writes: it ran but is not acknowledged."""


def lua_source(*parts: str) -> str:
    """The ``lua/<part>.lua`` files, one after the other."""
    folder = resources.files("xp.store.redis") / "lua"
    return "\n".join((folder / f"{part}.lua").read_text("utf-8") for part in parts)


def script_source(name: str) -> str:
    return lua_source(*PRELUDE, name)


class Scripts:
    """The scripts' sources and SHAs, and which servers hold them already."""

    def __init__(self) -> None:
        self.sources = {name: script_source(name) for name in SCRIPTS}
        self.shas = {
            name: hashlib.sha1(source.encode()).hexdigest() for name, source in self.sources.items()
        }
        self._loaded: set[str] = set()  # nodes holding the scripts
        self._lock = threading.Lock()

    def run(
        self,
        node: str,
        client: redis.Redis,
        calls: Sequence[Call],
        indices: list[int],
        asking: bool,
        ack: Ack | None = None,
    ) -> list[Any]:
        """EVALSHA ``calls[i]`` for each of ``indices`` on one node, in one pipeline; answers
        (errors included, as exceptions) in order. ``asking`` sends ``ASKING`` before each;
        ``ack`` ends the pipeline with ``WAIT`` (:class:`ReplicasBehind` when it falls short)."""
        if node not in self._loaded:
            self._load(node, client)
        got = self._pipeline(client, calls, indices, asking, ack)
        missing = [i for i, r in zip(indices, got, strict=True) if isinstance(r, NoScriptError)]
        if missing:
            # A NOSCRIPT call did not run, so sending it again cannot count it twice.
            self._load(node, client)
            got = _spread(got, self._pipeline(client, calls, missing, asking, ack))
        return got

    def _pipeline(
        self,
        client: redis.Redis,
        calls: Sequence[Call],
        indices: list[int],
        asking: bool,
        ack: Ack | None = None,
    ) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for i in indices:
            name, call_keys, args = calls[i]
            if asking:  # ASKING admits the next command only
                pipe.execute_command("ASKING")
            pipe.evalsha(self.shas[name], len(call_keys), *call_keys, *args)
        if ack is not None:  # WAIT counts replicas holding this connection's last write
            if asking:
                pipe.execute_command("ASKING")
            pipe.incr(ack[0])
            pipe.execute_command("WAIT", ack[1], ack[2])
        answers = list(pipe.execute(raise_on_error=False))
        if ack is not None:
            answers, acked = answers[: -2 - asking], answers[-1]
            if isinstance(acked, Exception) or int(acked) < ack[1]:
                raise ReplicasBehind(
                    f"{acked} of {ack[1]} replicas acknowledged within {ack[2]} ms; "
                    "the batch may have been applied: send it again (event ids make that safe)"
                )
        return answers[1::2] if asking else answers

    def _load(self, node: str, client: redis.Redis) -> None:
        with self._lock:
            for name, source in self.sources.items():
                sha = client.script_load(source)
                if sha != self.shas[name]:
                    raise StoreError(f"Redis returned SHA {sha} for script {name!r}")
            self._loaded.add(node)


def _spread(got: Sequence[Any], again: Sequence[Any]) -> list[Any]:
    """``again`` (answers to the NOSCRIPT calls of ``got``, in order) laid over ``got``."""
    answers = iter(again)
    return [next(answers) if isinstance(first, NoScriptError) else first for first in got]
