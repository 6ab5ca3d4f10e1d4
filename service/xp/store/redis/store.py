"""The Redis backend: one Lua call per (batch, experiment), pipelined per batch.

Every key a call touches carries the experiment's hash tag (:mod:`xp.store.redis.keys`), so
the store is valid on Redis Cluster slot by slot. The parts: :mod:`~xp.store.redis.codec`
(ops as script arguments, hashes read back), :mod:`~xp.store.redis.scripts` (the Lua, loaded
once, called by SHA) and :mod:`~xp.store.redis.routing` (which server runs each call).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import redis

from xp.attribution.hold import HoldPolicy
from xp.attribution.ops import Op
from xp.definitions.fingerprint import Recorded
from xp.definitions.model import Definition
from xp.settings import RedisSettings
from xp.store.base import Store
from xp.store.model import ExperimentData, UnitCells, UnitValues, experiment_data
from xp.store.redis import keys
from xp.store.redis.codec import erase_call, ingest_calls, raw_stats
from xp.store.redis.routing import Failover, Nodes, Router
from xp.store.redis.scripts import Scripts
from xp.store.redis.units import LineDecoder, RowDecoder, UnitDecoder

BUCKETS_PER_ROUND_TRIP = 256
T = TypeVar("T")


def hgetall_many(client: redis.Redis, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The fields and the values of every hash of ``names``, one after the other, read with
    one ``HGETALL`` each in one round trip on one of ``client``'s pooled connections, as a
    pipeline would: retried as ``client`` retries, the first error reply raised (the
    connection then dropped, its other replies unread). Straight on the connection because
    redis-py's pipeline spends ~4 us of Python per command queueing, parsing and calling
    back replies hiredis has already parsed: a third of the client's CPU time reading an
    experiment's units (``bench/export.py``); as two lists, not a dict, which would hash
    every unit id for nothing."""
    pool = client.connection_pool
    conn = pool.get_connection()

    def attempt() -> list[Any]:
        conn.send_packed_command([hgetall_commands(conn.encoder.encode, names)])
        return [conn.read_response() for _ in names]

    try:
        replies = conn.retry.call_with_retry(attempt, lambda _error: conn.disconnect())
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
    if replies and isinstance(replies[0], dict):  # RESP3 (a ``protocol=3`` URL): maps
        return [f for reply in replies for f in reply], [
            v for reply in replies for v in reply.values()
        ]
    flat = list(itertools.chain.from_iterable(replies))  # RESP2: [field, value, ...] each
    return flat[::2], flat[1::2]


def hgetall_commands(encode: Callable[[str], bytes], names: Sequence[str]) -> bytes:
    """``HGETALL`` of each of ``names`` as the protocol writes it (what redis-py's
    ``pack_commands`` writes, with a third of its per-command Python: 0.7 ms a round trip)."""
    return b"".join(
        [b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%s\r\n" % (len(key), key) for key in map(encode, names)]
    )


class RedisStore(Store):
    """Redis or Redis Cluster (``redis+cluster://host:port,host:port``, seed nodes).

    Every key of an experiment carries the hash tag ``{<experiment>}``, so one experiment lives
    on one cluster node and every script call touches one slot.
    """

    def __init__(
        self, url: str, settings: RedisSettings | None = None, hold: HoldPolicy | None = None
    ) -> None:
        if hold is not None:  # set before any use: a store is never seen half-configured
            self.hold = hold
        settings = settings or RedisSettings()
        self._nodes = Nodes(url, settings)
        self._scripts = Scripts()
        self._sources = self._scripts.sources  # benchmarks load them by hand
        self._router = Router(
            self._nodes, self._scripts, settings.wait_replicas, settings.wait_timeout
        )
        self._registered: set[str] = set()  # experiments this process added to keys.EXPERIMENTS
        self._sticky_registered: set[str] = set()  # E@N ids this process added to keys.STICKY

    # -- writing ---------------------------------------------------------------------------

    def _apply(self, ops: Sequence[Op], now: float) -> list[int]:
        batched = ingest_calls(ops, now, self.hold)
        new = {op.experiment for op in ops} - self._registered
        results = self._router.run([call for call, _ in batched], register=new)
        self._registered |= new
        codes = [0] * len(ops)
        for (_, indices), answer in zip(batched, results, strict=True):
            for i, code in zip(indices, answer, strict=True):
                codes[i] = int(code)
        return codes

    # -- reading ---------------------------------------------------------------------------

    def experiment_stats(self, definition: Definition) -> ExperimentData:
        e = definition.key

        def snapshot() -> list[Any]:
            pipe = self._nodes.for_key(keys.stats(e)).pipeline(transaction=True)  # consistent
            pipe.hgetall(keys.stats(e))
            pipe.hgetall(keys.names(e))
            pipe.hgetall(keys.diagnostics(e))
            pipe.hgetall(keys.overall(e))
            pipe.hgetall(keys.looks(e))
            return list(pipe.execute())

        stats, names, diagnostics, overall, looks = self._router.read(snapshot)
        return experiment_data(definition, raw_stats(stats, names, diagnostics, overall, looks))

    def iter_unit_values(self, definition: Definition) -> Iterator[UnitValues]:
        decoded = self._unit_records(definition, lambda names: UnitDecoder(definition, names))
        return itertools.chain.from_iterable(decoded)

    def iter_unit_rows(self, definition: Definition, cells: UnitCells) -> Iterator[list[str]]:
        decoded = self._unit_records(definition, lambda names: RowDecoder(definition, names, cells))
        return itertools.chain.from_iterable(decoded)

    def iter_unit_lines(self, definition: Definition, cells: UnitCells) -> Iterator[list[str]]:
        return self._unit_records(definition, lambda names: LineDecoder(definition, names, cells))

    def _unit_records(
        self,
        definition: Definition,
        decoder: Callable[[dict[str, str]], Callable[[list[str], list[str]], list[T]]],
    ) -> Iterator[list[T]]:
        """Every unit record of ``definition`` through a decoder of its names (a ``KeyError``:
        a name added since it was read, then read again), the buckets read
        :data:`BUCKETS_PER_ROUND_TRIP` to a round trip and decoded, and yielded, a round trip
        at a time (before the next round trip: memory stays bounded and the first rows go out
        early)."""
        e = definition.key
        decode = decoder(self._hgetall(keys.names(e)))
        for start in range(0, keys.UNIT_BUCKETS, BUCKETS_PER_ROUND_TRIP):

            def read(start: int = start) -> tuple[list[str], list[str]]:
                buckets = range(start, min(start + BUCKETS_PER_ROUND_TRIP, keys.UNIT_BUCKETS))
                return hgetall_many(
                    self._nodes.for_key(keys.units(e, start)), [keys.units(e, b) for b in buckets]
                )

            unit_ids, records = self._router.read(read)  # decoded a round trip at a time
            try:
                decoded = decode(unit_ids, records)
            except KeyError:
                decode = decoder(self._hgetall(keys.names(e)))
                decoded = decode(unit_ids, records)
            yield decoded

    def _hgetall(self, key: str) -> dict[str, str]:
        found = self._router.read(lambda: self._nodes.for_key(key).hgetall(key))
        return {str(k): str(v) for k, v in found.items()}

    # -- erasure and the rest --------------------------------------------------------------

    def erase_unit(
        self, unit_id: str, definitions: Mapping[str, Definition], now: float | None = None
    ) -> int:
        members = self._router.read(
            lambda: self._nodes.for_key(keys.EXPERIMENTS).smembers(keys.EXPERIMENTS)
        )
        known = {str(e) for e in members}
        experiments = sorted(known | set(definitions))
        at = time.time() if now is None else now  # one time for every experiment
        calls = [erase_call(e, unit_id, at) for e in experiments]
        self._sticky_erase(unit_id)
        return sum(int(r) for r in self._router.run(calls)) if calls else 0

    def ping(self) -> bool:
        """True when Redis answers; :class:`StoreError` saying why when it does not (at once:
        a health check must not wait out a failover)."""
        return self._router.read(self._nodes.ping, Failover(self._nodes, timeout=0))

    def close(self) -> None:
        self._nodes.close()

    @property
    def client(self) -> redis.Redis:
        """The redis-py client of a single server (tests and benchmarks)."""
        return self._nodes.single()

    # -- assignment fingerprints -----------------------------------------------------------

    def claim_fingerprint(self, experiment: str, fingerprint: str, definition_json: str) -> str:
        key = keys.fingerprint(experiment)

        def claim() -> Any:
            # One slot: HSETNX keeps the first fingerprint; the definition follows it only
            # when it is that fingerprint's. Once per process and experiment, never per event.
            node = self._nodes.for_key(key)
            pipe = node.pipeline(transaction=True)
            pipe.hsetnx(key, "fingerprint", fingerprint)
            pipe.hget(key, "fingerprint")
            stored = str(pipe.execute()[1])
            if stored == fingerprint:
                node.hset(key, "definition", definition_json)
            return stored

        stored = str(self._router.read(claim))
        self._router.read(
            lambda: self._nodes.for_key(keys.FINGERPRINTED).sadd(keys.FINGERPRINTED, experiment)
        )
        return stored

    def recorded_definitions(self) -> dict[str, Recorded]:
        members = self._router.read(
            lambda: self._nodes.for_key(keys.FINGERPRINTED).smembers(keys.FINGERPRINTED)
        )
        found = {}
        for experiment in sorted(str(m) for m in members):
            record = self._hgetall(keys.fingerprint(experiment))
            if "fingerprint" in record:
                found[experiment] = Recorded(
                    experiment, record["fingerprint"], record.get("definition", "{}")
                )
        return found

    # -- sticky assignment -----------------------------------------------------------------

    def sticky_variants(
        self, records: Sequence[tuple[str, str]], ttl: float | None = None
    ) -> list[str | None]:
        ex = None if ttl is None else max(1, round(ttl))
        found = self._sticky_pipelined(
            [keys.sticky(e, unit) for e, unit in records],
            # GETEX refreshes the expiry on use, in the same command
            lambda pipe, key, i: pipe.get(key) if ex is None else pipe.getex(key, ex=ex),
        )
        return [None if v is None else str(v) for v in found]

    def remember_variants(
        self, records: Sequence[tuple[str, str, str]], ttl: float | None = None
    ) -> None:
        ex = None if ttl is None else max(1, round(ttl))
        new = {e for e, _, _ in records} - self._sticky_registered
        if new:  # once per process and experiment phase, for erase_unit
            self._router.read(lambda: self._nodes.for_key(keys.STICKY).sadd(keys.STICKY, *new))
            self._sticky_registered |= new
        self._sticky_pipelined(
            [keys.sticky(e, unit) for e, unit, _ in records],
            lambda pipe, key, i: pipe.set(key, records[i][2], ex=ex),
        )

    def _sticky_erase(self, unit_id: str) -> None:
        members = self._router.read(lambda: self._nodes.for_key(keys.STICKY).smembers(keys.STICKY))
        self._sticky_pipelined(
            [keys.sticky(str(e), unit_id) for e in sorted(members)],
            lambda pipe, key, i: pipe.delete(key),
        )

    def _sticky_pipelined(
        self, names: Sequence[str], command: Callable[[Any, str, int], Any]
    ) -> list[Any]:
        """``command(pipeline, names[i], i)`` for each i, one pipeline per node; answers in
        the order of ``names``."""
        if not names:
            return []

        def run() -> list[Any]:
            by_node: dict[str, tuple[redis.Redis, list[int]]] = {}
            for i, name in enumerate(names):
                node_name, node = self._nodes.node_for(name)
                by_node.setdefault(node_name, (node, []))[1].append(i)
            answers: list[Any] = [None] * len(names)
            for node, indexes in by_node.values():
                pipe = node.pipeline(transaction=False)
                for i in indexes:
                    command(pipe, names[i], i)
                for i, answer in zip(indexes, pipe.execute(), strict=True):
                    answers[i] = answer
            return answers

        return self._router.read(run)
