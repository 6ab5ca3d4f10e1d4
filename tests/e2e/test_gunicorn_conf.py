"""One gunicorn configuration (xp.gunicorn_conf) for ``xp serve`` and plain gunicorn, with
``GUNICORN_CMD_ARGS`` applied last by both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXPERIMENTS_DIR
from tests.support.redis_server import free_port
from tests.support.service_process import start_service, stop_service, wait_until_up

BIN = Path(sys.executable).parent


def test_xp_serve_uses_the_config_file_and_gunicorn_cmd_args(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {"GUNICORN_CMD_ARGS": "--log-level debug --graceful-timeout 7"}
    proc, url = start_service(EXPERIMENTS_DIR, data, env=env, workers=1)
    try:
        wait_until_up(url)
    finally:
        stop_service(proc)
    port = url.rsplit(":", 1)[1]
    log = (tmp_path / f"service-{port}.log").read_text()
    # gunicorn prints its whole configuration at debug level.
    assert "worker_class: gthread" in log and "keepalive: 75" in log  # from xp.gunicorn_conf
    assert f"bind: ['127.0.0.1:{port}']" in log and "workers: 1" in log  # xp serve's options
    assert "graceful_timeout: 7" in log and "loglevel: debug" in log  # GUNICORN_CMD_ARGS
    # post_worker_init froze the loaded app's heap out of the collector's full passes
    frozen = [line for line in log.splitlines() if "objects frozen out of collection" in line]
    assert frozen and int(frozen[0].split(": ")[-1].split()[0]) > 10_000, frozen


def test_plain_gunicorn_reads_the_same_file(tmp_path: Path) -> None:
    env = {**os.environ, "XP_PORT": "8123", "GUNICORN_CMD_ARGS": "--timeout 12"}
    done = subprocess.run(
        [str(BIN / "gunicorn"), "--print-config", "-c", "python:xp.gunicorn_conf", "xp.wsgi:app"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    settings = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            settings[name.strip()] = value.strip()
    assert settings["worker_class"] == "gthread"
    assert settings["bind"] == "['127.0.0.1:8123']"
    assert settings["keepalive"] == "75"
    assert settings["timeout"] == "12"


def test_a_bad_gunicorn_cmd_args_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XP_DATA_DIR": str(tmp_path),
        "GUNICORN_CMD_ARGS": "--workers lots",
    }
    done = subprocess.run(
        # a free port: the default 8000 may be taken, and a busy port is refused first
        [
            *(sys.executable, "-m", "xp.cli", "serve", "--port", str(free_port())),
            *("--experiments", str(EXPERIMENTS_DIR)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--workers" in done.stderr and "lots" in done.stderr
    assert "Traceback" not in done.stderr
