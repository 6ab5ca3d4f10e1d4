"""The Redis backend: one Lua call per (event, experiment), pipelined per batch.

Scripts live in ``lua/*.lua`` (each prefixed with ``lua/lib.lua``), are loaded once and called
by SHA; after a ``NOSCRIPT`` (a restarted or flushed server) they are loaded again and the calls
that did not run are sent again. Every key a call touches carries the experiment's hash tag,
so the store is valid on Redis Cluster slot by slot (see :mod:`service.store.keys`).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any, TypeVar

import redis
from redis.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from xp.attribution.ops import ConversionOp, ExposureOp, MetricRule, Op, default_exposure_key
from xp.attribution.scopes import ALL, Scope, day_label
from xp.definitions.model import DAY_SECONDS, Definition
from xp.store.base import Store, StoreError
from xp.store.model import ExperimentData, RawStats, UnitRow, experiment_data
from xp.store.redis import keys

SCRIPTS = ("exposure", "conversion", "erase")
KIND_CODES = {"binomial": "b", "retention": "b", "count": "c", "sum": "s", "ratio": "r"}
STAT_CODES = {
    "s": "sum",
    "ss": "sum_squares",
    "ds": "den_sum",
    "dss": "den_sum_squares",
    "sp": "sum_product",
    "x": "sum_x",
    "xx": "sum_x2",
    "xy": "sum_xy",
    "nx": "n_x",
}
BUCKETS_PER_ROUND_TRIP = 256
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
CLUSTER_RETRIES = 8  # with RETRY_PAUSE: waits up to 1.8 s for a slot to finish moving
RETRY_PAUSE = 0.05  # seconds, times the attempt number, while a slot migrates
T = TypeVar("T")

Call = tuple[str, list[str], list[Any]]  # script name, keys, args


def script_source(name: str) -> str:
    folder = resources.files("xp.store.redis") / "lua"
    return (
        (folder / "lib.lua").read_text("utf-8") + "\n" + (folder / f"{name}.lua").read_text("utf-8")
    )


class RedisStore(Store):
    """Redis or Redis Cluster (``redis+cluster://host:port``, any node of the cluster).

    Every key of an experiment carries the hash tag ``{<experiment>}``, so one experiment lives
    on one cluster node and every script call touches one slot. Calls are grouped by the node
    that owns their slot and each node gets one pipeline: redis-py's cluster pipeline refuses
    EVALSHA, and a node's own client needs nothing cluster-specific.
    """

    def __init__(self, url: str) -> None:
        self._nodes = Nodes(url)
        self._sources = {name: script_source(name) for name in SCRIPTS}
        self._shas = {
            name: hashlib.sha1(source.encode()).hexdigest()
            for name, source in self._sources.items()
        }
        self._loaded: set[str] = set()  # nodes holding the scripts
        self._registered: set[str] = set()  # experiments this process added to keys.EXPERIMENTS
        self._lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------

    def _apply(self, ops: Sequence[Op]) -> list[int]:
        calls = [
            exposure_call(op) if isinstance(op, ExposureOp) else conversion_call(op) for op in ops
        ]
        new = {op.experiment for op in ops} - self._registered
        results = self._run(calls, register=new)
        self._registered |= new
        return [int(r) for r in results]

    def _run(self, calls: Sequence[Call], register: Collection[str] = ()) -> list[Any]:
        """EVALSHA every call, one pipeline per node; load scripts where a node lacks them.

        On a cluster, calls a node turned away (MOVED: the slot moved; ASK: it is moving;
        TRYAGAIN: its keys are split mid-move) did not run and are sent again, after a slot-map
        refresh, with ASKING to the importing node, or after a short wait. A node that cannot
        be reached (a failover) refreshes the map and its calls are sent again; event ids and
        first-exposure-wins make that safe.
        """
        try:
            if register:
                self._read(
                    lambda: self._nodes.for_key(keys.EXPERIMENTS).sadd(
                        keys.EXPERIMENTS, *sorted(register)
                    )
                )
            results: list[Any] = [None] * len(calls)
            pending = list(range(len(calls)))
            for attempt in range(CLUSTER_RETRIES + 1):
                try:
                    self._run_on_nodes(calls, pending, results)
                except (RedisConnectionError, RedisTimeoutError):
                    if self._nodes.cluster is None or attempt == CLUSTER_RETRIES:
                        raise
                    self._nodes.refresh()
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
                    self._nodes.refresh()
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
        if self._nodes.cluster is None:  # one server: no routing to do
            by_node["single"] = (self._nodes.single(), pending)
        else:
            for i in pending:
                name, client = self._nodes.node_for(calls[i][1][0])
                by_node.setdefault(name, (client, []))[1].append(i)
        for node, (client, indices) in by_node.items():
            got = self._on_node(node, client, calls, indices, asking=False)
            for i, result in zip(indices, got, strict=True):
                results[i] = result

    def _run_asking(self, calls: Sequence[Call], asks: list[int], results: list[Any]) -> None:
        """Send calls answered ASK to the node importing their slot, each after ``ASKING``."""
        by_node: dict[str, list[int]] = {}
        for i in asks:
            by_node.setdefault(f"{results[i].host}:{results[i].port}", []).append(i)
        for node, indices in by_node.items():
            host, port = node.rsplit(":", 1)
            client = self._nodes.client_at(host, int(port))
            got = self._on_node(node, client, calls, indices, asking=True)
            for i, result in zip(indices, got, strict=True):
                results[i] = result

    def _on_node(
        self,
        node: str,
        client: redis.Redis,
        calls: Sequence[Call],
        indices: list[int],
        asking: bool,
    ) -> list[Any]:
        if node not in self._loaded:
            self._load_scripts(node, client)
        got = self._pipeline(client, calls, indices, asking)
        missing = [i for i, r in zip(indices, got, strict=True) if isinstance(r, NoScriptError)]
        if missing:
            # A NOSCRIPT call did not run, so sending it again cannot count it twice.
            self._load_scripts(node, client)
            got = _spread(got, self._pipeline(client, calls, missing, asking))
        return got

    def _pipeline(
        self, client: redis.Redis, calls: Sequence[Call], indices: list[int], asking: bool
    ) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for i in indices:
            name, call_keys, args = calls[i]
            if asking:  # ASKING admits the next command only
                pipe.execute_command("ASKING")
            pipe.evalsha(self._shas[name], len(call_keys), *call_keys, *args)
        answers = list(pipe.execute(raise_on_error=False))
        return answers[1::2] if asking else answers

    def _load_scripts(self, node: str, client: redis.Redis) -> None:
        with self._lock:
            for name, source in self._sources.items():
                sha = client.script_load(source)
                if sha != self._shas[name]:
                    raise StoreError(f"Redis returned SHA {sha} for script {name!r}")
            self._loaded.add(node)

    # -- reading ---------------------------------------------------------------------------

    def experiment_stats(self, definition: Definition) -> ExperimentData:
        e = definition.key

        def snapshot() -> list[Any]:
            pipe = self._nodes.for_key(keys.stats(e)).pipeline(transaction=True)  # consistent
            pipe.hgetall(keys.stats(e))
            pipe.hgetall(keys.names(e))
            pipe.hgetall(keys.diagnostics(e))
            return list(pipe.execute())

        stats, names, diagnostics = self._read(snapshot)
        decoder = NameDecoder(names)
        raw = RawStats(diagnostics={k: int(v) for k, v in diagnostics.items()})
        for field, value in stats.items():
            parts = field.split(":")
            scope = decoder.scope(parts[0])
            variant = decoder.name(parts[1])
            if len(parts) == 3:
                raw.add_count(scope, variant, int(value))
            else:
                raw.add_sum(
                    scope, variant, decoder.name(parts[2]), STAT_CODES[parts[3]], float(value)
                )
        return experiment_data(definition, raw)

    def iter_units(self, definition: Definition) -> Iterator[UnitRow]:
        e = definition.key
        decoder = NameDecoder(self._hgetall(keys.names(e)))
        for start in range(0, keys.UNIT_BUCKETS, BUCKETS_PER_ROUND_TRIP):

            def read(start: int = start) -> list[Any]:
                pipe = self._nodes.for_key(keys.units(e, start)).pipeline(transaction=False)
                for bucket in range(start, min(start + BUCKETS_PER_ROUND_TRIP, keys.UNIT_BUCKETS)):
                    pipe.hgetall(keys.units(e, bucket))
                return list(pipe.execute())

            for records in self._read(read):
                for unit_id, record in records.items():
                    try:
                        yield unit_row(definition, unit_id, record, decoder)
                    except KeyError:  # a name added since the names were read
                        decoder = NameDecoder(self._hgetall(keys.names(e)))
                        yield unit_row(definition, unit_id, record, decoder)

    def _hgetall(self, key: str) -> dict[str, str]:
        found = self._read(lambda: self._nodes.for_key(key).hgetall(key))
        return {str(k): str(v) for k, v in found.items()}

    def _read(self, action: Callable[[], T]) -> T:
        """``action()``, again after a refreshed slot map (MOVED, an unreachable node) or a
        short wait (a slot mid-migration); :class:`StoreError` when Redis fails."""
        for attempt in range(CLUSTER_RETRIES + 1):
            try:
                return action()
            except (MovedError, RedisConnectionError, RedisTimeoutError) as exc:
                if self._nodes.cluster is None or attempt == CLUSTER_RETRIES:
                    raise StoreError(f"Redis failed: {exc}") from exc
                self._nodes.refresh()
            except (AskError, TryAgainError) as exc:
                if attempt == CLUSTER_RETRIES:
                    raise StoreError(f"Redis failed: {exc}") from exc
                time.sleep(RETRY_PAUSE * (attempt + 1))
            except RedisError as exc:
                raise StoreError(f"Redis failed: {exc}") from exc
        raise AssertionError("unreachable")

    # -- erasure and the rest --------------------------------------------------------------

    def erase_unit(self, unit_id: str, definitions: Mapping[str, Definition]) -> int:
        members = self._read(
            lambda: self._nodes.for_key(keys.EXPERIMENTS).smembers(keys.EXPERIMENTS)
        )
        known = {str(e) for e in members}
        experiments = sorted(known | set(definitions))
        calls = [erase_call(e, unit_id) for e in experiments]
        return sum(int(r) for r in self._run(calls)) if calls else 0

    def ping(self) -> bool:
        """True when Redis answers; :class:`StoreError` saying why when it does not."""
        return self._read(self._nodes.ping)

    def close(self) -> None:
        self._nodes.close()

    @property
    def client(self) -> redis.Redis:
        """The redis-py client of a single server (tests and benchmarks)."""
        return self._nodes.single()


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


def exposure_call(op: ExposureOp) -> Call:
    e = op.experiment
    digest = keys.event_digest(op.event_key)
    call_keys = [
        keys.unit(e, op.unit_id),
        keys.stats(e),
        keys.names(e),
        keys.diagnostics(e),
        keys.seen(e, digest),
    ]
    args: list[Any] = [op.unit_id, op.variant, repr(op.ts), keys.seen_field(digest)]
    args.append(len(op.segments))
    for name, value in op.segments:
        args += (name, value)
    args.append(len(op.covariates))
    for metric, x in op.covariates:
        args += (metric, repr(x))
    return "exposure", call_keys, args


def conversion_call(op: ConversionOp) -> Call:
    e = op.experiment
    digest = keys.event_digest(op.event_key)
    call_keys = [
        keys.unit(e, op.unit_id),
        keys.stats(e),
        keys.names(e),
        keys.diagnostics(e),
        keys.seen(e, digest),
    ]
    args = [op.unit_id, repr(op.ts), repr(op.value), keys.seen_field(digest), metric_spec(op.rules)]
    return "conversion", call_keys, args


@functools.lru_cache(maxsize=1024)
def metric_spec(rules: tuple[MetricRule, ...]) -> str:
    """The metrics of one (experiment, event) as conversion.lua's ARGV[5]."""
    specs = []
    for rule in rules:
        start, end = rule.metric.window or (0.0, None)
        specs.append(
            f"{rule.name},{KIND_CODES[rule.metric.kind]},{int(rule.numerator)},"
            f"{int(rule.denominator)},{start * DAY_SECONDS!r},"
            + ("" if end is None else repr(end * DAY_SECONDS))
        )
    return ";".join(specs)


def erase_call(experiment: str, unit_id: str) -> Call:
    digest = keys.event_digest(default_exposure_key(experiment, unit_id))
    call_keys = [
        keys.unit(experiment, unit_id),
        keys.stats(experiment),
        keys.seen(experiment, digest),
    ]
    return "erase", call_keys, [unit_id, keys.seen_field(digest)]


class NameDecoder:
    """Reads the ids of an experiment's names hash back as names and slices."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self._by_id = {v: k.split("\x1f", 1)[1] for k, v in names.items() if k != "#"}

    def name(self, id_: str) -> str:
        return self._by_id[id_]

    def scope(self, code: str) -> Scope:
        if code == "a":
            return ALL
        if code[0] == "d":
            return ("day", "", day_label(int(code[1:])))
        segment, value = self._by_id[code[1:]].split("\x1f", 1)
        return ("segment", segment, value)


def unit_row(definition: Definition, unit_id: str, record: str, decoder: NameDecoder) -> UnitRow:
    vid, ts, segs, _covs, tots = record.split("|")
    segments = dict(decoder.name(sid).split("\x1f", 1) for sid in segs.split(",") if sid)
    totals: dict[str, tuple[float, float]] = {}
    for item in tots.split(","):
        if item:
            mid, *values = item.split(":")
            totals[decoder.name(mid)] = (float(values[0]), float(values[1]) if values[1:] else 0.0)
    return UnitRow(
        unit_id=unit_id,
        variant=decoder.name(vid),
        first_exposure=float(ts),
        segments=segments,
        metrics={m.name: totals.get(m.name, (0.0, 0.0))[0] for m in definition.metrics},
        denominators={
            m.name: totals.get(m.name, (0.0, 0.0))[1]
            for m in definition.metrics
            if m.kind == "ratio"
        },
    )


def _asked(result: Any) -> bool:
    # redis-py's MovedError is an AskError: MOVED is told apart to refresh the map instead.
    return isinstance(result, AskError) and not isinstance(result, MovedError)


def _redirected(result: Any) -> bool:
    return isinstance(result, MovedError | AskError | TryAgainError)


def _spread(got: Sequence[Any], again: Sequence[Any]) -> list[Any]:
    """``again`` (answers to the NOSCRIPT calls of ``got``, in order) laid over ``got``."""
    answers = iter(again)
    return [next(answers) if isinstance(first, NoScriptError) else first for first in got]
