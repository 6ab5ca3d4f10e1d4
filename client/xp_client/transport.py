"""How the SDK talks to the service: one small :class:`Transport` interface, two implementations.

:class:`HttpTransport` speaks JSON over ``http.client`` with one keep-alive connection per
thread. :class:`FakeTransport` records requests and replays scripted answers; it lives here,
not in the tests, so applications can use it in their own tests.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import os
import socket
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

USER_AGENT = "xp-python/0.1.0"
# Larger answers are refused: no xp answer comes near it, and a hostile server must not be
# able to fill the host's memory.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class TransportError(Exception):
    """The request did not get an HTTP answer: connection refused or reset, timeout, TLS error."""


@dataclass(frozen=True)
class Response:
    """An HTTP answer. Header names are lower-cased so lookups do not depend on the server."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})

    def json(self) -> Any:
        """The body decoded as JSON; ``None`` when it is empty."""
        return json.loads(self.body) if self.body else None


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Response:
        """Send one request; raise :class:`TransportError` when no HTTP answer came back.

        ``timeout`` bounds the whole request (connect, send, receive), not each socket read.
        A body that is not JSON-serializable raises ``TypeError`` or ``ValueError``.
        """
        ...


def encode_json(body: dict[str, Any]) -> bytes:
    """The wire form of a body. NaN and infinities are refused: they are not JSON."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


# Errors that mean a kept-alive connection went stale before the request reached the server.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_transports: weakref.WeakSet[HttpTransport] = weakref.WeakSet()


class _DeadlineSocket:
    """A connected socket whose every send and receive gets only the time left until its
    connection's ``deadline``: a server trickling one byte at a time cannot stretch a request
    past it, as it can with a per-read socket timeout."""

    def __init__(self, sock: socket.socket, owner: _Deadline) -> None:
        self._sock = sock
        self._owner = owner

    def _arm(self) -> None:
        left = self._owner.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self._sock.settimeout(left)

    # Arguments passed on as given: an SSL socket reads nbytes=0 as "zero bytes".
    def recv_into(self, *args: Any) -> int:
        self._arm()
        return self._sock.recv_into(*args)

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return self._sock.recv(*args)

    def sendall(self, *args: Any) -> None:
        self._arm()  # since Python 3.5 the timeout bounds the whole sendall
        self._sock.sendall(*args)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        # http.client reads the answer through this file; its reads come back to recv_into.
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        pass  # the file above holds no reference the real socket counts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Deadline:
    """What a connection's sockets read their deadline from; set before each request."""

    deadline: float = math.inf

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # socket.create_connection gives each address of the host the whole timeout.
        self._create_connection = self._connect_before_deadline

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        return left

    def _connect_before_deadline(
        self,
        address: tuple[str, int],
        timeout: object = None,
        source: tuple[str, int] | None = None,
    ) -> socket.socket:
        host, port = address
        error: OSError = OSError(f"no address for {host!r}")
        for family, kind, proto, _, target in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._left())
                if source is not None:
                    sock.bind(source)
                sock.connect(target)
                sock.settimeout(self._left())  # what is left for the TLS handshake
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error


class _HTTPConnection(_Deadline, http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self)


class _HTTPSConnection(_Deadline, http.client.HTTPSConnection):
    def connect(self) -> None:
        # The TLS handshake runs under the socket's timeout, which the connect left at the
        # time remaining; CPython's ssl counts the whole handshake against it.
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self)


_Connection = _HTTPConnection | _HTTPSConnection


class HttpTransport:
    """JSON over HTTP(S) with ``http.client``: one keep-alive connection per calling thread.

    A failed connection is closed and the next request opens a new one. A request that finds
    its kept-alive connection closed by the server is sent once more on a fresh connection,
    within the same deadline. The deadline covers connecting, sending and receiving; the
    host name's DNS lookup happens before it and is the system resolver's to bound.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = base_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._ssl_context = ssl_context
        self._default_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if api_key:
            self._default_headers["Authorization"] = f"Bearer {api_key}"
        self._lock = threading.Lock()
        self._connections: dict[int, _Connection] = {}
        _transports.add(self)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Response:
        payload = None if body is None else encode_json(body)
        all_headers = dict(self._default_headers)
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers)
        url = self._prefix + path
        deadline = time.monotonic() + timeout
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.deadline = deadline
                conn.request(method, url, body=payload, headers=all_headers)
                answer = conn.getresponse()
                data = answer.read(MAX_RESPONSE_BYTES + 1)
                if len(data) > MAX_RESPONSE_BYTES:
                    raise http.client.HTTPException(
                        f"answer larger than {MAX_RESPONSE_BYTES} bytes"
                    )
                if not answer.isclosed():  # not all of it read: the connection is unusable
                    self._discard(conn)
            except (OSError, http.client.HTTPException) as exc:
                self._discard(conn)
                if reused and attempt == 1 and isinstance(exc, _STALE):
                    continue
                kind = "timed out" if isinstance(exc, TimeoutError) else "failed"
                raise TransportError(
                    f"{method} {self.base_url.rstrip('/')}{path} {kind}: {exc!r}"
                ) from exc
            return Response(answer.status, dict(answer.getheaders()), data)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every connection this transport opened, in any thread."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            conn.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connection(self) -> _Connection:
        ident = threading.get_ident()
        with self._lock:
            conn: _Connection | None = self._connections.get(ident)
            if conn is not None:
                return conn
            self._close_dead_threads_locked()
            if self._https:
                conn = _HTTPSConnection(self._host, self._port, context=self._ssl_context)
            else:
                conn = _HTTPConnection(self._host, self._port)
            self._connections[ident] = conn
            return conn

    def _close_dead_threads_locked(self) -> None:
        alive = {thread.ident for thread in threading.enumerate()}
        for ident in [i for i in self._connections if i not in alive]:
            self._connections.pop(ident).close()

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        with self._lock:
            for ident, known in list(self._connections.items()):
                if known is conn:
                    del self._connections[ident]

    def _after_fork_in_child(self) -> None:
        # The parent's lock may have been held at fork time, and its sockets are the parent's:
        # closing our copies of the descriptors leaves the parent's connections untouched.
        self._lock = threading.Lock()
        connections, self._connections = self._connections, {}
        for conn in connections.values():
            conn.close()


def _reset_transports_in_child() -> None:
    for transport in list(_transports):
        transport._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_transports_in_child)


@dataclass(frozen=True)
class RecordedRequest:
    """One request a :class:`FakeTransport` saw; ``body`` is a JSON round trip of what was sent."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]
    timeout: float


Reply = Response | int | BaseException | Callable[[RecordedRequest], Response]


class FakeTransport:
    """A transport for tests: records every request and answers from a script.

    Each request takes the next item of the script: a :class:`Response`, a bare status code,
    an exception to raise, or a callable that gets the :class:`RecordedRequest` and returns a
    response (or raises). When the script runs out, the answer is ``default`` (202 Accepted).
    """

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply = 202) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque(replies)
        self._default = default
        self._changed = threading.Condition()

    def push(self, *replies: Reply) -> None:
        """Append answers to the script."""
        with self._changed:
            self._replies.extend(replies)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Response:
        wire = None if body is None else json.loads(encode_json(body))
        recorded = RecordedRequest(method, path, wire, dict(headers), timeout)
        with self._changed:
            self.requests.append(recorded)
            reply = self._replies.popleft() if self._replies else self._default
            self._changed.notify_all()
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, int):
            return Response(reply)
        if isinstance(reply, Response):
            return reply
        return reply(recorded)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event in every ``POST /v1/events`` request, retries included, in order."""
        with self._changed:
            requests = list(self.requests)
        return [
            event
            for r in requests
            if r.method == "POST" and r.path == "/v1/events"
            for event in r.body["events"]
        ]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` requests were made; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True
