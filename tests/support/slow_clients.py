"""Slow clients that trickle their requests, and a normal client timing its requests: for the
nginx test (tests/e2e/test_nginx.py) and its benchmark (bench/slow_clients.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

TRICKLE_EVERY = 0.25  # seconds between two bytes of each slow client
NORMAL_REQUESTS = 12


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
