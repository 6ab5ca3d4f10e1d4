"""A throwaway ``redis-server`` on a free port, for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def running_redis(extra_args: tuple[str, ...] = (), port: int | None = None) -> Iterator[str]:
    """Start ``redis-server`` on a free port with no persistence; yield its URL."""
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="xp-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            *extra_args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def redis_required() -> bool:
    return os.environ.get("XP_REQUIRE_REDIS") == "1"


SLOTS = 16384


@dataclass(frozen=True)
class Cluster:
    url: str  # redis+cluster://, what the store takes
    nodes: tuple[str, ...]  # redis:// of each master

    def flush(self) -> None:
        for node in self.nodes:
            with redis.Redis.from_url(node) as client:
                client.flushall()


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is a valid port too."""
    while True:
        port = free_port()
        if port + 10000 <= 65535:
            return port


@contextmanager
def running_redis_cluster(masters: int = 3) -> Iterator[Cluster]:
    """A Redis Cluster of ``masters`` servers sharing the 16384 slots, no replicas."""
    with ExitStack() as stack:
        args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
        nodes = [
            stack.enter_context(running_redis(args, port=cluster_port())) for _ in range(masters)
        ]
        clients = [stack.enter_context(redis.Redis.from_url(n)) for n in nodes]
        bounds = [SLOTS * i // masters for i in range(masters + 1)]
        for client, low, high in zip(clients, bounds, bounds[1:], strict=False):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high - 1)
        for node in nodes[1:]:
            port = int(node.rsplit(":", 1)[1].split("/")[0])
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
        deadline = time.monotonic() + 30
        while True:
            infos = [c.execute_command("CLUSTER", "INFO") for c in clients]
            texts = [i.decode() if isinstance(i, bytes) else str(i) for i in infos]
            formed = f"cluster_known_nodes:{masters}"
            if all("cluster_state:ok" in t and formed in t for t in texts):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis cluster did not form: {texts[0]}")
            time.sleep(0.1)
        first = nodes[0].rsplit("/", 1)[0].replace("redis://", "redis+cluster://")
        yield Cluster(first, tuple(nodes))
