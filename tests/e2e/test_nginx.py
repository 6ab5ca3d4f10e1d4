"""Slow clients: behind nginx (deploy/nginx/proxy.conf) 50 connections trickling bytes do not
delay a normal client; straight at gunicorn they stall it. A real nginx, a real ``xp serve``."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import EXPERIMENTS_DIR
from tests.support.nginx import COMPOSE_CONF, PROXY_CONF, check_config, require_nginx, running_nginx
from tests.support.service_process import running_service

SLOW_CLIENTS = 50
TRICKLE_EVERY = 0.25  # seconds between two bytes of each slow client
NORMAL_REQUESTS = 12
ALLOWED_DELAY = 1.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_nginx()  # before starting anything
    data = tmp_path_factory.mktemp("nginx") / "data"
    with running_service(EXPERIMENTS_DIR, data) as url:
        yield url


@contextmanager
def slow_clients(url: str, count: int) -> Iterator[None]:
    """``count`` connections sending one byte every TRICKLE_EVERY s: half of them their
    headers, half a body they announced; they never finish while the block runs."""
    host, port = url.removeprefix("http://").split(":")
    sockets: list[tuple[socket.socket, bytes]] = []
    for i in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        if i % 2:
            sock.sendall(
                b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n"
            )
            sockets.append((sock, b" "))
        else:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append((sock, b"a"))
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(TRICKLE_EVERY):
            for sock, byte in sockets:
                try:
                    sock.send(byte)
                except OSError:
                    pass  # dropped by the server: it may do that

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # every slow client is in the middle of its request
        yield
    finally:
        stop.set()
        thread.join(5)
        for sock, _ in sockets:
            sock.close()


def normal_latencies(url: str, timeout: float, stop_over: float | None = None) -> list[float]:
    """Seconds each of NORMAL_REQUESTS requests took (``timeout`` when it got no answer);
    with ``stop_over``, stops after the first one that took longer."""
    body = json.dumps({"user_id": "u-1", "attributes": {"country": "US"}}).encode()
    took = []
    for i in range(NORMAL_REQUESTS):
        if i % 2:
            request = urllib.request.Request(
                f"{url}/v1/assign", body, {"Content-Type": "application/json"}
            )
        else:
            request = urllib.request.Request(f"{url}/healthz")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                assert response.status == 200
                response.read()
            took.append(time.monotonic() - start)
        except (TimeoutError, urllib.error.URLError):
            took.append(timeout)
        if stop_over is not None and took[-1] > stop_over:
            break
        time.sleep(0.1)
    return took


def test_behind_nginx_slow_clients_do_not_delay_a_normal_client(service: str) -> None:
    upstream = int(service.rsplit(":", 1)[1])
    with running_nginx(upstream) as proxy:
        assert max(normal_latencies(proxy, timeout=5)) < ALLOWED_DELAY  # warm, unloaded
        with slow_clients(proxy, SLOW_CLIENTS):
            took = normal_latencies(proxy, timeout=5)
        assert max(took) < ALLOWED_DELAY, took


def test_without_the_proxy_the_same_slow_clients_stall_gunicorn(service: str) -> None:
    """Teeth: the threads of 2 gunicorn workers (8) are all held by slow clients."""
    with slow_clients(service, SLOW_CLIENTS):
        took = normal_latencies(service, timeout=2, stop_over=ALLOWED_DELAY)
    assert max(took) > ALLOWED_DELAY, took
    # Once they are gone, gunicorn answers again.
    assert max(normal_latencies(service, timeout=5)) < ALLOWED_DELAY


def test_the_compose_nginx_conf_is_valid() -> None:
    text = (
        COMPOSE_CONF.read_text()
        .replace("server xp:8000;", "server 127.0.0.1:8000;")
        .replace("/etc/nginx/xp/proxy.conf", str(PROXY_CONF))
    )
    done = check_config(text)
    assert done.returncode == 0, done.stderr
