"""Every public SDK call returns within its documented deadline (client/README.md), against a
server that trickles bytes, one that never answers, and a closed port: real sockets, threads."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from xp_client.event_processor import EventProcessor
from xp_client.sdk import Client
from xp_client.sdk_features import REMOTE_ERROR
from xp_client.transport import HttpTransport, TransportError

TRICKLE_EVERY = 0.1  # seconds between bytes: well inside any per-read timeout used here
SLACK = 0.75  # scheduling on a shared machine; the deadlines themselves are what is tested


class Peer:
    """A TCP server in a thread that answers every connection with ``behave(conn)``."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._behave = behave
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._behave(conn, self.stop)
            except OSError:
                pass  # the client gave up: what these tests want

    def close(self) -> None:
        self.stop.set()
        self._accepting.join(5)
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header byte every TRICKLE_EVERY seconds, never ending."""
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(TRICKLE_EVERY):
        conn.sendall(b"a")


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """Whole headers announcing a large body, then one body byte at a time."""
    _read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99999\r\n\r\n"
    )
    while not stop.wait(TRICKLE_EVERY):
        conn.sendall(b" ")


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accepts, reads nothing, answers nothing."""
    stop.wait(60)


@contextmanager
def peer(behave: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    server = Peer(behave)
    try:
        yield server.url
    finally:
        server.close()


@contextmanager
def closed_port() -> Iterator[str]:
    with socket.socket() as probe:  # nobody listens on it once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@contextmanager
def full_backlog() -> Iterator[str]:
    """A listener that never accepts, its backlog filled: a connect's SYN goes unanswered."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


SERVERS = {
    "trickle_headers": lambda: peer(trickle_headers),
    "trickle_body": lambda: peer(trickle_body),
    "silent": lambda: peer(silent),
    "closed_port": closed_port,
    "full_backlog": full_backlog,
}


@contextmanager
def timed(bound: float) -> Iterator[None]:
    start = time.monotonic()
    yield
    took = time.monotonic() - start
    assert took < bound + SLACK, f"took {took:.2f} s, deadline {bound} s"


def test_the_trickling_server_defeats_a_per_read_timeout() -> None:
    """Teeth: a plain http.client with a 0.3 s socket timeout is still waiting after 1.5 s."""
    with peer(trickle_headers) as url:
        port = int(url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.3)
        outcome: list[object] = []

        def ask() -> None:
            try:
                conn.request("GET", "/v1/config")
                outcome.append(conn.getresponse())
            except Exception as exc:
                outcome.append(exc)

        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        thread.join(1.5)
        assert thread.is_alive() and outcome == []
        conn.close()


@pytest.mark.parametrize("server", SERVERS)
def test_a_request_is_bounded_by_its_timeout(server: str) -> None:
    with SERVERS[server]() as url, HttpTransport(url) as transport:
        for _ in range(2):  # a fresh connection, then one the first failure left behind
            with timed(0.5), pytest.raises(TransportError):
                transport.request("POST", "/v1/assign", {"user_id": "u"}, {}, 0.5)


@pytest.mark.parametrize("server", SERVERS)
def test_remote_get_variant_returns_within_request_timeout(server: str) -> None:
    with SERVERS[server]() as url:
        client = Client(url, mode="remote", request_timeout=0.3, flush_interval=60)
        try:
            for _ in range(2):
                with timed(0.3):
                    variant = client.get_variant("checkout-button", "u-1", default="control")
                assert (variant.key, variant.reason) == ("control", REMOTE_ERROR)
        finally:
            with timed(0.3 + 0.5):
                client.close(timeout=0.3)


@pytest.mark.parametrize("server", ["trickle_headers", "silent", "closed_port"])
def test_local_client_start_refresh_and_close_are_bounded(server: str) -> None:
    with SERVERS[server]() as url:
        with timed(0.5):
            client = Client(url, init_timeout=0.5, request_timeout=0.5, poll_interval=60)
        assert not client.ready
        with timed(2.0):  # a config fetch's deadline: max(request_timeout, 2 s)
            assert client.refresh() is False
        client.track("purchase", "u-1", value=1.0)
        with timed(0.3 + 0.5):
            client.close(timeout=0.3)


@pytest.mark.parametrize("server", SERVERS)
def test_flush_without_timeout_returns_when_the_retry_budget_is_spent(server: str) -> None:
    # Budget: (max_retries + 1) requests of request_timeout, plus the backoff caps between.
    retries, request_timeout, base = 2, 0.3, 0.05
    budget = (retries + 1) * request_timeout + base * (1 + 2)
    with SERVERS[server]() as url, HttpTransport(url) as transport:
        processor = EventProcessor(
            transport,
            flush_interval=60,
            max_retries=retries,
            backoff_base=base,
            request_timeout=request_timeout,
        )
        processor.put({"type": "conversion", "event": "purchase", "user_id": "u-1"})
        with timed(budget):
            assert processor.flush() is False
        stats = processor.stats()
        assert stats["queued"] == 0 and stats["sent"] == 0 and stats["dropped_after_retries"] == 0
        with timed(0.3 + 0.5):
            assert processor.close(timeout=0.3) is False
        assert processor.stats()["dropped_after_retries"] == 1  # abandoned at close, counted


def test_flush_without_timeout_still_waits_for_a_service_that_comes_back() -> None:
    """The budget ends a wait for an unreachable service; it does not cut a slow success."""
    answered = threading.Event()

    def late(conn: socket.socket, stop: threading.Event) -> None:
        _read_request(conn)
        stop.wait(0.2)
        body = b'{"accepted": 1}'
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        answered.set()
        stop.wait(1)

    with peer(late) as url, HttpTransport(url) as transport:
        processor = EventProcessor(transport, flush_interval=60, request_timeout=2.0)
        processor.put({"type": "conversion", "event": "purchase", "user_id": "u-1"})
        assert processor.flush() is True and answered.is_set()
        assert processor.stats()["sent"] == 1
        processor.close(timeout=1.0)


def test_flush_with_a_timeout_keeps_it_while_the_service_is_down() -> None:
    with closed_port() as url, HttpTransport(url) as transport:
        processor = EventProcessor(transport, flush_interval=60, max_retries=0, backoff_base=0.01)
        processor.put({"type": "conversion", "event": "purchase", "user_id": "u-1"})
        start = time.monotonic()
        assert processor.flush(timeout=0.6) is False
        assert time.monotonic() - start >= 0.6  # waited the timeout it was given
        processor.close(timeout=0.1)


def test_interpreter_exit_is_bounded_however_many_clients() -> None:
    """Three clients with events queued to a silent server: exit waits once, not per client."""
    with peer(silent) as url:
        script = textwrap.dedent(
            f"""
            import time
            from xp_client import Client, shutdown
            shutdown.EXIT_TIMEOUT = 1.0
            clients = [Client({url!r}, init_timeout=0, poll_interval=60, flush_interval=0.05)
                       for _ in range(3)]
            for client in clients:
                client.track("purchase", "u-1", value=1.0)
            time.sleep(0.3)  # every batch is in flight to the silent server
            print(time.monotonic(), flush=True)
            """
        )
        with subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            proc.wait(30)
            exited = time.monotonic()
    assert proc.returncode == 0
    # EXIT_TIMEOUT + ABORT_GRACE = 1.5 s for all three (per client it would be 4.5 s).
    assert exited - float(line) < 1.5 + SLACK


# -- HTTPS: the TLS handshake and the encrypted reads share the deadline ----------------------

TLS = Path(__file__).resolve().parent.parent / "support" / "tls"  # self-signed, 100 years


def _client_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(TLS / "localhost.crt"))
    return context


def tls_trickle(conn: socket.socket, stop: threading.Event) -> None:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
    conn.settimeout(5)
    with server.wrap_socket(conn, server_side=True) as tls:
        trickle_headers(tls, stop)


@pytest.mark.parametrize("behave", [tls_trickle, silent], ids=["trickle", "no_handshake"])
def test_an_https_request_is_bounded_by_its_timeout(
    behave: Callable[[socket.socket, threading.Event], None],
) -> None:
    with peer(behave) as url:
        https = url.replace("http://", "https://")
        with HttpTransport(https, ssl_context=_client_context()) as transport:
            with timed(0.5), pytest.raises(TransportError):
                transport.request("GET", "/v1/config", None, {}, 0.5)


def test_https_works_with_the_test_certificate() -> None:
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
        conn.settimeout(5)
        with server.wrap_socket(conn, server_side=True) as tls:
            _read_request(tls)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

    with peer(answer) as url:
        https = url.replace("http://", "https://")
        with HttpTransport(https, ssl_context=_client_context()) as transport:
            assert transport.request("GET", "/v1/config", None, {}, 2.0).json() == {}
