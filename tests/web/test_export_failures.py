"""``units.csv`` fails loudly: a store down before the first byte is the JSON 503, a store
lost mid-stream ends the file with the ``# error:`` line and cuts the stream (never a short
file that looks complete), and a complete file ends with ``# end: <n> rows``."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from flask import Flask

from tests.support.experiments import EXPERIMENT
from tests.support.redis_process import RedisProcess, redis_process
from tests.support.redis_server import free_port
from xp.events.model import Conversion, Exposure
from xp.reports.units_csv import ExportInterrupted

pytestmark = pytest.mark.redis
UNITS = 2_000  # several chunks of 500 rows


@pytest.fixture
def server(redis_url: str) -> Iterator[RedisProcess]:  # redis_url: skip without redis-server
    with redis_process(durable=False) as started:
        yield started


def app_on(make_app: Callable[..., Flask], tmp_path: Path, store_url: str) -> Flask:
    folder = tmp_path / "experiments"
    folder.mkdir(exist_ok=True)
    (folder / "exp.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return make_app(
        experiments_dir=str(folder),
        store_url=store_url,
        redis={"socket_timeout": 0.5, "connect_timeout": 0.5},
    )


def seed(app: Flask, units: int) -> None:
    runtime = app.extensions["xp"]
    definitions = runtime.registry.current().definitions
    now = time.time()
    events: list[Exposure | Conversion] = []
    for i in range(units):
        events.append(Exposure.create("exp", f"u{i}", "control", now - 60, {"country": "US"}))
        events.append(Conversion("purchase", f"u{i}", 2.5, now - 30, f"p{i}"))
    for start in range(0, len(events), 1000):
        runtime.store.ingest(events[start : start + 1000], definitions, now)


def test_a_store_down_before_the_first_byte_is_the_json_503(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_on(make_app, tmp_path, f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    response = app.test_client().get("/v1/experiments/exp/units.csv")
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "unavailable"


def test_a_frozen_store_before_the_first_byte_is_the_json_503_within_the_timeout(
    make_app: Callable[..., Flask], tmp_path: Path, server: RedisProcess
) -> None:
    app = app_on(make_app, tmp_path, server.url)
    seed(app, 10)
    server.freeze()
    try:
        started = time.monotonic()
        response = app.test_client().get("/v1/experiments/exp/units.csv")
        assert time.monotonic() - started < 2.5
    finally:
        server.thaw()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"


def test_a_store_lost_mid_stream_ends_the_file_with_an_error_line_and_cuts_it(
    make_app: Callable[..., Flask], tmp_path: Path, server: RedisProcess
) -> None:
    app = app_on(make_app, tmp_path, server.url)
    seed(app, UNITS)
    response = app.test_client().get("/v1/experiments/exp/units.csv", buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    received = [next(chunks)]  # the first chunk went out: headers and a 200 are sent
    server.kill()
    with pytest.raises(ExportInterrupted):  # the server cuts the chunked body after the line
        for chunk in chunks:
            received.append(chunk)
    text = "".join(c.decode() if isinstance(c, bytes) else str(c) for c in received)
    body, _, error = text.rpartition("# error: incomplete after ")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert 0 < len(rows) < UNITS
    assert error.startswith(f"{len(rows)} rows: ")  # the count of rows the file does hold
    assert "# end:" not in text
    response.close()


def test_a_complete_file_ends_with_its_row_count(
    make_app: Callable[..., Flask], tmp_path: Path, server: RedisProcess
) -> None:
    app = app_on(make_app, tmp_path, server.url)
    seed(app, UNITS)
    text = app.test_client().get("/v1/experiments/exp/units.csv").get_data(as_text=True)
    body, _, trailer = text.rpartition("# end: ")
    assert trailer == f"{UNITS} rows\r\n"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == UNITS and {r["revenue"] for r in rows} == {"2.5"}
