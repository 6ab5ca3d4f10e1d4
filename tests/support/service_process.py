"""A real ``xp serve`` process on a free port, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.redis_server import free_port


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"service at {url} did not come up in {timeout} s")
        time.sleep(0.1)


def start_service(
    experiments_dir: Path,
    data_dir: Path,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``xp serve`` (gunicorn) without waiting for it; return the process and its URL."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "XP_DATA_DIR": str(data_dir),
        "XP_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    log = open(data_dir.parent / f"service-{port}.log", "ab")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xp.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--experiments",
            str(experiments_dir),
        ],
        env=full_env,
        stdout=log,
        stderr=log,
    )
    log.close()
    return proc, f"http://127.0.0.1:{port}"


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running_service(
    experiments_dir: Path, data_dir: Path, env: Mapping[str, str] | None = None, workers: int = 2
) -> Iterator[str]:
    """A started service's base URL; the process is stopped afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc, url = start_service(experiments_dir, data_dir, env=env, workers=workers)
    try:
        wait_until_up(url)
        yield url
    finally:
        stop_service(proc)
