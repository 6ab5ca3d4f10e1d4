"""Which server runs what: a single server, or the Redis Cluster master owning each slot.

Calls are grouped by the master that owns their slot and each master gets one plain
pipeline: redis-py's cluster pipeline refuses EVALSHA, and a master's own client needs nothing
cluster-specific. Calls a master turns away did not run and are sent again: after ``MOVED``
(the slot has moved) with a refreshed slot map, after ``ASK`` (it is moving) to the importing
master behind ``ASKING``, after ``TRYAGAIN`` (its keys are split mid-move) after a short wait.

A master that cannot be reached (killed, frozen, ``CLUSTERDOWN`` while its replica is being
elected) is a failover in progress: the store waits it out, refreshing the slot map with a
growing pause, for up to ``failover_timeout`` seconds, instead of spending its retries in a few
milliseconds. A frozen master costs at most ``socket_timeout`` per attempt, so the wait ends
within one attempt of its replica's promotion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from xp.redaction import redact
from xp.settings import RedisSettings
from xp.store.base import StoreError
from xp.store.redis import keys
from xp.store.redis.scripts import Call, Scripts
from xp.store.redis.urls import is_cluster_url, parse_cluster_url

CLUSTER_RETRIES = 8  # with RETRY_PAUSE: waits up to 1.8 s for a slot to finish moving
RETRY_PAUSE = 0.05  # seconds, times the attempt number, while a slot migrates
FAILOVER_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)  # then 1.0 s between attempts
# The node cannot serve now but the command did not run: a failover is under way.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ClusterDownError, ReadOnlyError)
T = TypeVar("T")


def client_options(settings: RedisSettings) -> dict[str, Any]:
    """Deadlines for every connection, whatever redis-py's own defaults are: a frozen server
    costs ``socket_timeout``, not forever (redis-py < 8) nor four times over (its retries)."""
    return {
        "decode_responses": True,
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.socket_timeout,
        "health_check_interval": settings.health_check_interval,
    }


class Nodes:
    """The redis-py client that serves a key: the one client of a single server, or the
    client of the cluster node owning the key's slot."""

    def __init__(self, url: str, settings: RedisSettings) -> None:
        self.cluster: RedisCluster | None = None
        self._single: redis.Redis | None = None
        self.failover_timeout = settings.failover_timeout
        options = client_options(settings)
        try:
            if is_cluster_url(url):
                parsed = parse_cluster_url(url)
                others = [ClusterNode(host, port) for host, port in parsed.seeds[1:]]
                self.cluster = RedisCluster.from_url(parsed.first, startup_nodes=others, **options)
            else:
                # One retry, on a dropped connection only (a restarted server); a timeout is
                # not retried, so the deadline is the one configured.
                retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
                self._single = redis.Redis.from_url(url, retry=retry, **options)
        except (ValueError, RedisError, RedisClusterException) as exc:
            raise StoreError(f"cannot open Redis at {redact(url)!r}: {exc}") from exc

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

    def refresh(self, failed: str | None = None) -> None:
        """A new slot map from any reachable node, asking ``failed`` (``host:port``) last."""
        if self.cluster is not None:
            self.cluster.nodes_manager.initialize(last_failed_node_name=failed)

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


class Unreachable(Exception):
    """``node`` could not serve (``cause``): refreshing the slot map asks it last."""

    def __init__(self, node: str, cause: Exception) -> None:
        super().__init__(str(cause))
        self.node, self.cause = node, cause


class Failover:
    """The wait of one request for the cluster to route again: a growing pause and a fresh slot
    map before each new attempt, until ``timeout`` seconds have passed since the first
    failure. One instance per request."""

    def __init__(self, nodes: Nodes, timeout: float | None = None) -> None:
        self.nodes = nodes
        self.timeout = nodes.failover_timeout if timeout is None else timeout
        self.started: float | None = None
        self.attempt = 0

    def wait(self, exc: Exception, failed: str | None = None) -> None:
        """Pause and refresh, or :class:`StoreError` once the failover took too long."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
        left = self.started + self.timeout - now
        if self.nodes.cluster is None or left <= 0:
            waited = f" after waiting {now - self.started:.1f} s" if self.attempt else ""
            raise StoreError(f"Redis failed{waited}: {type(exc).__name__}: {exc}") from exc
        pause = FAILOVER_PAUSES[min(self.attempt, len(FAILOVER_PAUSES) - 1)]
        time.sleep(min(pause, left))
        self.attempt += 1
        try:
            self.nodes.refresh(failed)
        except (RedisError, RedisClusterException):
            pass  # no node could answer yet: the next attempt (or the deadline) decides


class Router:
    """Runs script calls and reads on the right servers, through redirections and failovers."""

    def __init__(
        self, nodes: Nodes, scripts: Scripts, wait_replicas: int = 0, wait_timeout: float = 1.0
    ) -> None:
        self.nodes = nodes
        self.scripts = scripts
        self.wait_replicas = wait_replicas
        self.wait_ms = max(1, round(wait_timeout * 1000))  # WAIT 0 would mean forever

    def run(self, calls: Sequence[Call], register: Collection[str] = ()) -> list[Any]:
        """EVALSHA every call, one pipeline per node, after adding ``register`` to
        ``keys.EXPERIMENTS``; one answer per call.

        On a cluster, calls a node turned away (MOVED, ASK, TRYAGAIN) did not run and are sent
        again, up to CLUSTER_RETRIES rounds. Calls on a node that cannot serve (unreachable,
        CLUSTERDOWN, a demoted master's READONLY) wait out the failover (:class:`Failover`)
        and are sent again; event ids and first-exposure-wins make that safe.
        """
        failover = Failover(self.nodes)
        try:
            if register:
                self.read(
                    lambda: self.nodes.for_key(keys.EXPERIMENTS).sadd(
                        keys.EXPERIMENTS, *sorted(register)
                    ),
                    failover,
                )
            results: list[Any] = [None] * len(calls)
            pending = list(range(len(calls)))
            redirects = 0
            while pending:
                try:
                    self._run_on_nodes(calls, pending, results)
                except Unreachable as exc:
                    failover.wait(exc.cause, exc.node)
                    pending = [i for i in pending if results[i] is None or _again(results[i])]
                    continue
                except (*UNAVAILABLE, RedisClusterException) as exc:
                    failover.wait(exc)
                    pending = [i for i in pending if results[i] is None or _again(results[i])]
                    continue
                asks = [i for i in pending if _asked(results[i])]
                if asks:
                    self._run_asking(calls, asks, results)
                refused = [i for i in pending if isinstance(results[i], UNAVAILABLE)]
                pending = [i for i in pending if _again(results[i])]
                if refused:
                    failover.wait(results[refused[0]])
                elif pending:
                    if redirects == CLUSTER_RETRIES:
                        first = results[pending[0]]
                        raise StoreError(
                            f"the Redis cluster kept redirecting: {type(first).__name__}: {first}"
                        )
                    redirects += 1
                    if any(isinstance(results[i], MovedError) for i in pending):
                        self._refresh(failover)
                    else:  # a slot mid-migration: give the move time to finish
                        time.sleep(RETRY_PAUSE * redirects)
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
            try:
                got = self._run_acknowledged(node, client, calls, indices, asking=False)
            except UNAVAILABLE as exc:
                raise Unreachable(node, exc) from exc
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
            got = self._run_acknowledged(node, client, calls, indices, asking=True)
            for i, result in zip(indices, got, strict=True):
                results[i] = result

    def _run_acknowledged(
        self,
        node: str,
        client: redis.Redis,
        calls: Sequence[Call],
        indices: list[int],
        asking: bool,
    ) -> list[Any]:
        """The scripts' answers, once ``wait_replicas`` replicas hold their writes."""
        ack = None
        if self.wait_replicas:
            ack = (keys.acks(calls[indices[0]][1][0]), self.wait_replicas, self.wait_ms)
        return self.scripts.run(node, client, calls, indices, asking=asking, ack=ack)

    def _refresh(self, failover: Failover) -> None:
        """A new slot map after MOVED; no node answering is a failover to wait out."""
        try:
            self.nodes.refresh()
        except (RedisError, RedisClusterException) as exc:
            failover.wait(exc)

    def read(self, action: Callable[[], T], failover: Failover | None = None) -> T:
        """``action()``, again after a refreshed slot map (MOVED), a short wait (a slot
        mid-migration) or a failover's wait (an unreachable node); :class:`StoreError` when
        Redis fails."""
        failover = failover or Failover(self.nodes)
        redirects = 0
        while True:
            try:
                return action()
            except (*UNAVAILABLE, RedisClusterException) as exc:
                failover.wait(exc)
            except MovedError as exc:
                if self.nodes.cluster is None or redirects == CLUSTER_RETRIES:
                    raise StoreError(f"Redis failed: {exc}") from exc
                redirects += 1
                self._refresh(failover)
            except (AskError, TryAgainError) as exc:
                if redirects == CLUSTER_RETRIES:
                    raise StoreError(f"Redis failed: {exc}") from exc
                redirects += 1
                time.sleep(RETRY_PAUSE * redirects)
            except RedisError as exc:
                raise StoreError(f"Redis failed: {exc}") from exc


def _asked(result: Any) -> bool:
    # redis-py's MovedError is an AskError: MOVED is told apart to refresh the map instead.
    return isinstance(result, AskError) and not isinstance(result, MovedError)


def _again(result: Any) -> bool:
    """A call that did not run and is sent again: redirected, or its node unavailable."""
    return isinstance(result, (MovedError, AskError, TryAgainError, *UNAVAILABLE))
