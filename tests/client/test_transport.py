"""Transports: the fake that tests script, and the real one against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from xp_client.transport import (
    FakeTransport,
    HttpTransport,
    RecordedRequest,
    Response,
    TransportError,
)

# -- Response and FakeTransport --------------------------------------------------------------


def test_response_lowercases_header_names_and_decodes_json() -> None:
    response = Response(200, {"Content-Type": "application/json"}, b'{"ok": true}')
    assert response.headers == {"content-type": "application/json"}
    assert response.json() == {"ok": True}
    assert Response(204).json() is None


def test_fake_replays_its_script_in_order_then_the_default() -> None:
    def echo(request: RecordedRequest) -> Response:
        return Response(201, {}, json.dumps(request.body).encode())

    fake = FakeTransport([503, TransportError("refused"), echo], default=Response(200))
    assert fake.request("POST", "/v1/events", {"a": 1}, {}, 1.0).status == 503
    with pytest.raises(TransportError, match="refused"):
        fake.request("POST", "/v1/events", {"a": 2}, {}, 1.0)
    assert fake.request("POST", "/v1/events", {"a": 3}, {}, 1.0).json() == {"a": 3}
    assert fake.request("GET", "/v1/config", None, {"X": "y"}, 2.0).status == 200
    fake.push(418)
    assert fake.request("GET", "/v1/config", None, {}, 2.0).status == 418
    assert [(r.method, r.path, r.body) for r in fake.requests] == [
        ("POST", "/v1/events", {"a": 1}),
        ("POST", "/v1/events", {"a": 2}),
        ("POST", "/v1/events", {"a": 3}),
        ("GET", "/v1/config", None),
        ("GET", "/v1/config", None),
    ]
    assert fake.requests[3].headers == {"X": "y"}
    assert fake.requests[3].timeout == 2.0


def test_fake_records_a_snapshot_of_the_body() -> None:
    fake = FakeTransport()
    body: dict[str, Any] = {"events": [{"event_id": "e1"}]}
    fake.request("POST", "/v1/events", body, {}, 1.0)
    body["events"].append({"event_id": "e2"})
    assert fake.events == [{"event_id": "e1"}]


@pytest.mark.parametrize(("value", "error"), [(object(), TypeError), (float("nan"), ValueError)])
def test_fake_refuses_bodies_that_are_not_json_like_the_real_one(
    value: object, error: type[Exception]
) -> None:
    fake = FakeTransport()
    with pytest.raises(error):
        fake.request("POST", "/v1/events", {"events": [{"value": value}]}, {}, 1.0)


def test_fake_wait_for_requests_times_out() -> None:
    fake = FakeTransport()
    assert fake.wait_for_requests(1, timeout=0.01) is False
    fake.request("GET", "/", None, {}, 1.0)
    assert fake.wait_for_requests(1, timeout=0.01) is True


# -- HttpTransport against a real socket ------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = 5  # an idle kept-alive connection ends the handler thread eventually
    wbufsize = 65536  # headers and body in one send: no Nagle and delayed-ACK stall
    server: Server

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(
            Seen(self.command, self.path, dict(self.headers), body, self.client_address[1])
        )
        mode = self.server.mode
        if mode == "slow":
            self.server.release.wait(5)
        data = json.dumps({"path": self.path}).encode()
        try:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Answer", "yes")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (the timeout test)
            return
        if mode == "hang_up":
            # Close without saying "Connection: close": the client's kept-alive socket goes stale.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.mode = "ok"
        self.release = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is what some tests do on purpose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def transport(server: Server) -> Iterator[HttpTransport]:
    with HttpTransport(server.url + "/base/", api_key="sdk-key-1") as transport:
        yield transport


def test_posts_json_with_the_api_key(server: Server, transport: HttpTransport) -> None:
    body = {"events": [{"event_id": "e1", "value": 2.5}]}
    response = transport.request("POST", "/v1/events", body, {"X-Extra": "1"}, 2.0)
    assert response.status == 201
    assert response.headers["x-answer"] == "yes"
    assert response.json() == {"path": "/base/v1/events"}
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("POST", "/base/v1/events")
    assert json.loads(seen.body) == body
    assert seen.headers["Authorization"] == "Bearer sdk-key-1"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Extra"] == "1"
    assert seen.headers["User-Agent"].startswith("xp-python/")


def test_get_without_body_or_key_sends_neither(server: Server) -> None:
    with HttpTransport(server.url) as transport:
        assert transport.request("GET", "/v1/config", None, {}, 2.0).status == 201
    (seen,) = server.seen
    assert seen.body == b""
    assert "Authorization" not in seen.headers
    assert "Content-Type" not in seen.headers


def test_keeps_the_connection_alive(server: Server, transport: HttpTransport) -> None:
    for _ in range(3):
        transport.request("GET", "/v1/config", None, {}, 2.0)
    assert len({seen.client_port for seen in server.seen}) == 1


def test_each_thread_has_its_own_connection(server: Server, transport: HttpTransport) -> None:
    all_started = threading.Barrier(3)  # alive together, so no thread inherits another's id

    def work() -> None:
        all_started.wait()
        for _ in range(2):
            transport.request("GET", "/v1/config", None, {}, 2.0)
        all_started.wait()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.seen) == 6
    assert len({seen.client_port for seen in server.seen}) == 3


def test_reconnects_when_the_server_dropped_the_kept_alive_connection(
    server: Server, transport: HttpTransport
) -> None:
    server.mode = "hang_up"
    assert transport.request("GET", "/one", None, {}, 2.0).status == 201
    assert transport.request("GET", "/two", None, {}, 2.0).status == 201
    assert [seen.path for seen in server.seen] == ["/base/one", "/base/two"]
    assert server.seen[0].client_port != server.seen[1].client_port


def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HttpTransport(f"http://127.0.0.1:{port}") as transport:
        with pytest.raises(TransportError, match="failed") as caught:
            transport.request("POST", "/v1/events", {"events": []}, {}, 2.0)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_a_slow_server_is_a_transport_error(server: Server, transport: HttpTransport) -> None:
    server.mode = "slow"
    with pytest.raises(TransportError, match="timed out"):
        transport.request("POST", "/v1/events", {"events": []}, {}, 0.1)
    server.release.set()
    server.mode = "ok"
    # The timed-out connection was thrown away; the next request opens a new one.
    assert transport.request("GET", "/v1/config", None, {}, 2.0).status == 201


def test_a_body_that_is_not_json_raises_before_sending(
    server: Server, transport: HttpTransport
) -> None:
    with pytest.raises(TypeError):
        transport.request("POST", "/v1/events", {"events": [{"v": {1, 2}}]}, {}, 2.0)
    assert server.seen == []


@pytest.mark.parametrize("url", ["ftp://host", "localhost:8000", "http://"])
def test_refuses_a_base_url_that_is_not_http(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        HttpTransport(url)


def test_an_answer_over_the_size_cap_is_refused(
    server: Server, transport: HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xp_client.transport

    monkeypatch.setattr(xp_client.transport, "MAX_RESPONSE_BYTES", 10)  # the answer has 26
    with pytest.raises(TransportError, match="larger than 10 bytes"):
        transport.request("GET", "/v1/config", None, {}, 2.0)
    monkeypatch.undo()
    assert transport.request("GET", "/v1/config", None, {}, 2.0).status == 201
