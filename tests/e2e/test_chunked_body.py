"""A chunked request body (no Content-Length) over ``XP_MAX_BODY_BYTES`` is a 413, as a body
announced too large is, through a real server (the test client does not decode chunks)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import EXPERIMENTS_DIR
from tests.support.service_process import start_service, stop_service, wait_until_up


def _post_chunked(url: str, body: bytes) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/assign")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), 300):
            chunk = body[start : start + 300]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_and_one_within_it_is_served(tmp_path: Path) -> None:
    proc, url = start_service(
        EXPERIMENTS_DIR, tmp_path, env={"XP_MAX_BODY_BYTES": "1000"}, workers=1
    )
    try:
        wait_until_up(url)
        big = json.dumps({"user_id": "u", "attributes": {"x": "a" * 2000}}).encode()
        small = json.dumps({"user_id": "u", "log_exposure": False}).encode()
        assert _post_chunked(url, big) == 413
        assert _post_chunked(url, small) == 200
    finally:
        stop_service(proc)
