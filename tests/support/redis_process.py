"""A ``redis-server`` a test can freeze (SIGSTOP), thaw, kill -9 and restart on the same port
with the same data (AOF), and a Redis Cluster of such servers with replicas."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis

from tests.support.redis_server import SLOTS, cluster_port, free_port, redis_binary


class RedisProcess:
    """One redis-server on ``port`` keeping its files in ``workdir`` (AOF ``always`` when
    ``durable``: a kill -9 then loses nothing it acknowledged)."""

    def __init__(
        self, port: int | None = None, durable: bool = True, extra: tuple[str, ...] = ()
    ) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.binary = binary
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="xp-redis-fault-"))
        self.args = (
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes" if durable else "no", "--appendfsync", "always"),
            *("--dir", str(self.workdir)),
            *extra,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [self.binary, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def kill(self) -> None:
        """kill -9: no shutdown, no final write; a frozen server dies without running what
        its clients sent while it was frozen."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.frozen = False

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            if self.frozen:
                self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def redis_process(durable: bool = True, extra: tuple[str, ...] = ()) -> Iterator[RedisProcess]:
    server = RedisProcess(durable=durable, extra=extra).start()
    try:
        yield server
    finally:
        server.close()


def client(server: RedisProcess) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)


@contextmanager
def cluster_with_replicas(
    masters: int = 3, node_timeout_ms: int = 1000
) -> Iterator[tuple[list[RedisProcess], list[RedisProcess]]]:
    """``masters`` masters sharing the slots, one replica each, a short cluster-node-timeout
    so failovers happen in about a second; yields (masters, replicas), replicas[i] of
    masters[i]. No persistence: a restarted node resyncs from its master."""
    extra = (
        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
        *("--cluster-node-timeout", str(node_timeout_ms)),
    )
    with ExitStack() as stack:
        nodes: list[RedisProcess] = []
        for _ in range(2 * masters):
            node = RedisProcess(port=cluster_port(), durable=False, extra=extra)
            stack.callback(node.close)
            nodes.append(node.start())
        primaries, replicas = nodes[:masters], nodes[masters:]
        clients = [stack.enter_context(client(n)) for n in nodes]
        bounds = [SLOTS * i // masters for i in range(masters + 1)]
        for c, low, high in zip(clients, bounds, bounds[1:], strict=False):
            c.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high - 1)
        for node in nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        _wait(lambda: all(_known(c) == 2 * masters for c in clients), "meet")
        for i, replica in enumerate(replicas):
            master_id = clients[i].execute_command("CLUSTER", "MYID").decode()
            _wait(functools.partial(_replicate, replica, master_id), "replicate")
        _wait(lambda: all(_state_ok(c) for c in clients), "form")
        for c in clients[:masters]:  # every master sees its replica in sync
            _wait(functools.partial(_in_sync, c), "sync")
        yield primaries, replicas


def cluster_url(nodes: list[RedisProcess]) -> str:
    return "redis+cluster://" + ",".join(n.address for n in nodes) + "/"


def master_of(nodes: list[RedisProcess], key_slot: int) -> RedisProcess:
    """The node serving ``key_slot`` now, as the live nodes see it."""
    for node in nodes:
        if node.proc is None or node.frozen:
            continue
        with client(node) as c:
            for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                if start <= key_slot <= end:
                    port = int(master[1])
                    return next(n for n in nodes if n.port == port)
    raise AssertionError(f"no live node knows slot {key_slot}")


def _replicate(replica: RedisProcess, master_id: str) -> bool:
    try:
        with client(replica) as c:
            c.execute_command("CLUSTER", "REPLICATE", master_id)
        return True
    except redis.ResponseError:  # the replica does not know the master yet
        return False


def _in_sync(c: redis.Redis) -> bool:
    info = c.info("replication")
    return bool(info.get("connected_slaves") == 1 and "online" in str(info.get("slave0", "")))


def _known(c: redis.Redis) -> int:
    text = bytes(c.execute_command("CLUSTER", "INFO")).decode()
    return int(text.split("cluster_known_nodes:")[1].split()[0])


def _state_ok(c: redis.Redis) -> bool:
    return b"cluster_state:ok" in bytes(c.execute_command("CLUSTER", "INFO"))


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Redis cluster did not {what} within {timeout} s")
        time.sleep(0.1)
