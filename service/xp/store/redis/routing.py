"""Which server runs what: a single server, or the Redis Cluster master owning each slot.

Calls are grouped by the master that owns their slot and each master gets one plain
pipeline: redis-py's cluster pipeline refuses EVALSHA, and a master's own client needs nothing
cluster-specific. Calls a master turns away did not run and are sent again: after ``MOVED``
(the slot has moved) with a refreshed slot map, after ``ASK`` (it is moving) to the importing
master behind ``ASKING``, after ``TRYAGAIN`` (its keys are split mid-move) after a short wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import redis
from redis.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    MovedError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from xp.store.base import StoreError
from xp.store.redis import keys
from xp.store.redis.scripts import Call, Scripts

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
CLUSTER_RETRIES = 8  # with RETRY_PAUSE: waits up to 1.8 s for a slot to finish moving
RETRY_PAUSE = 0.05  # seconds, times the attempt number, while a slot migrates
T = TypeVar("T")


class Nodes:
    """The redis-py client that serves a key: the one client of a single server, or the
    client of the cluster node owning the key's slot."""

    def __init__(self, url: str) -> None:
        self.cluster: RedisCluster | None = None
        self._single: redis.Redis | None = None
        try:
            if url.startswith(CLUSTER_SCHEMES):
                plain = url.replace("+cluster", "", 1)
                self.cluster = RedisCluster.from_url(plain, decode_responses=True)
            else:
                self._single = redis.Redis.from_url(url, decode_responses=True)
        except (ValueError, RedisError, RedisClusterException) as exc:
            raise StoreError(f"cannot open Redis at {url!r}: {exc}") from exc

    def node_for(self, key: str) -> tuple[str, redis.Redis]:
        if self.cluster is None:
            assert self._single is not None
            return "single", self._single
        node = self.cluster.get_node_from_key(key)
        return node.name, self.cluster.get_redis_connection(node)

    def for_key(self, key: str) -> redis.Redis:
        return self.node_for(key)[1]

    def client_at(self, host: str, port: int) -> redis.Redis:
        assert self.cluster is not None
        node = self.cluster.get_node(host=host, port=port)
        if node is None:
            self.refresh()
            node = self.cluster.get_node(host=host, port=port)
        if node is None:
            raise StoreError(f"the Redis cluster has no node {host}:{port}")
        return self.cluster.get_redis_connection(node)

    def refresh(self) -> None:
        if self.cluster is not None:
            self.cluster.nodes_manager.initialize()

    def ping(self) -> bool:
        if self.cluster is None:
            return bool(self.single().ping())
        nodes = self.cluster.get_primaries()
        return all(bool(self.cluster.get_redis_connection(n).ping()) for n in nodes)

    def single(self) -> redis.Redis:
        if self._single is None:
            raise StoreError("this store runs on a Redis cluster, not a single server")
        return self._single

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
        else:
            client = self.single()
            client.close()
            client.connection_pool.disconnect()


class Router:
    """Runs script calls and reads on the right servers, through redirections and failovers."""

    def __init__(self, nodes: Nodes, scripts: Scripts) -> None:
        self.nodes = nodes
        self.scripts = scripts

    def run(self, calls: Sequence[Call], register: Collection[str] = ()) -> list[Any]:
        """EVALSHA every call, one pipeline per node, after adding ``register`` to
        ``keys.EXPERIMENTS``; one answer per call.

        On a cluster, calls a node turned away (MOVED, ASK, TRYAGAIN) did not run and are sent
        again, up to CLUSTER_RETRIES rounds. A node that cannot be reached (a failover)
        refreshes the map and its calls are sent again; event ids and first-exposure-wins make
        that safe.
        """
        try:
            if register:
                self.read(
                    lambda: self.nodes.for_key(keys.EXPERIMENTS).sadd(
                        keys.EXPERIMENTS, *sorted(register)
                    )
                )
            results: list[Any] = [None] * len(calls)
            pending = list(range(len(calls)))
            for attempt in range(CLUSTER_RETRIES + 1):
                try:
                    self._run_on_nodes(calls, pending, results)
                except (RedisConnectionError, RedisTimeoutError):
                    if self.nodes.cluster is None or attempt == CLUSTER_RETRIES:
                        raise
                    self.nodes.refresh()
                    pending = [i for i in pending if results[i] is None or _redirected(results[i])]
                    continue
                asks = [i for i in pending if _asked(results[i])]
                if asks:
                    self._run_asking(calls, asks, results)
                pending = [i for i in pending if _redirected(results[i])]
                if not pending:
                    break
                if attempt == CLUSTER_RETRIES:
                    first = results[pending[0]]
                    raise StoreError(
                        f"the Redis cluster kept redirecting: {type(first).__name__}: {first}"
                    )
                if any(isinstance(results[i], MovedError) for i in pending):
                    self.nodes.refresh()
                else:  # a slot mid-migration: give the move time to finish
                    time.sleep(RETRY_PAUSE * (attempt + 1))
                for i in pending:
                    results[i] = None
        except RedisError as exc:
            raise StoreError(f"Redis failed: {exc}") from exc
        for result in results:
            if isinstance(result, Exception):
                raise StoreError(f"Redis script failed: {result}") from result
        return results

    def _run_on_nodes(self, calls: Sequence[Call], pending: list[int], results: list[Any]) -> None:
        """Run ``pending`` calls, one pipeline per node, into ``results``."""
        by_node: dict[str, tuple[redis.Redis, list[int]]] = {}
        if self.nodes.cluster is None:  # one server: no routing to do
            by_node["single"] = (self.nodes.single(), pending)
        else:
            for i in pending:
                name, client = self.nodes.node_for(calls[i][1][0])
                by_node.setdefault(name, (client, []))[1].append(i)
        for node, (client, indices) in by_node.items():
            got = self.scripts.run(node, client, calls, indices, asking=False)
            for i, result in zip(indices, got, strict=True):
                results[i] = result

    def _run_asking(self, calls: Sequence[Call], asks: list[int], results: list[Any]) -> None:
        """Send calls answered ASK to the node importing their slot, each after ``ASKING``."""
        by_node: dict[str, list[int]] = {}
        for i in asks:
            by_node.setdefault(f"{results[i].host}:{results[i].port}", []).append(i)
        for node, indices in by_node.items():
            host, port = node.rsplit(":", 1)
            client = self.nodes.client_at(host, int(port))
            got = self.scripts.run(node, client, calls, indices, asking=True)
            for i, result in zip(indices, got, strict=True):
                results[i] = result

    def read(self, action: Callable[[], T]) -> T:
        """``action()``, again after a refreshed slot map (MOVED, an unreachable node) or a
        short wait (a slot mid-migration); :class:`StoreError` when Redis fails."""
        for attempt in range(CLUSTER_RETRIES + 1):
            try:
                return action()
            except (MovedError, RedisConnectionError, RedisTimeoutError) as exc:
                if self.nodes.cluster is None or attempt == CLUSTER_RETRIES:
                    raise StoreError(f"Redis failed: {exc}") from exc
                self.nodes.refresh()
            except (AskError, TryAgainError) as exc:
                if attempt == CLUSTER_RETRIES:
                    raise StoreError(f"Redis failed: {exc}") from exc
                time.sleep(RETRY_PAUSE * (attempt + 1))
            except RedisError as exc:
                raise StoreError(f"Redis failed: {exc}") from exc
        raise AssertionError("unreachable")


def _asked(result: Any) -> bool:
    # redis-py's MovedError is an AskError: MOVED is told apart to refresh the map instead.
    return isinstance(result, AskError) and not isinstance(result, MovedError)


def _redirected(result: Any) -> bool:
    return isinstance(result, MovedError | AskError | TryAgainError)
