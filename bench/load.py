"""HTTP load for the benchmarks: wrk when it is installed, a bounded Python generator if not.

Both send ``POST`` requests with a JSON body whose ``{n}`` is replaced by a counter (so every
request names a new unit), over keep-alive connections to a server on loopback, for a fixed
number of seconds, and report requests per second with the p50 and p99 latency. wrk is
Debian's package ``wrk`` (``apt-get install wrk``); the fallback uses only the standard
library, so the benchmark runs anywhere the project installs.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.redis_server import free_port
from tests.support.service_process import stop_service, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
# The same process model for xp and the bare app: xp serve's defaults.
WORKERS = 2
THREADS = 4
CONNECTIONS = 8


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local template = [==[{body}]==]
local prefix = "{prefix}"
request = function()
  counter = counter + 1
  local body = string.gsub(template, "{{n}}", prefix .. counter)
  return wrk.format(nil, "{path}", nil, body)
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(url: str, path: str, body: str, seconds: float, prefix: str) -> Load:
    """One wrk run of ``seconds`` against ``url + path`` (one thread, :data:`CONNECTIONS`)."""
    script = WRK_SCRIPT.format(body=body, prefix=prefix, path=path)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds:g}s",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        Path(handle.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    # "Socket errors: connect 0, read 0, write 0, timeout 3"
    socket_errors = re.search(r"Socket errors:([^\n]*)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(x) for x in re.findall(r"\d+", socket_errors.group(1)))
    return Load(rps, p50, p99, errors)


def run_python(url: str, path: str, body: str, seconds: float, prefix: str) -> Load:
    """The fallback: :data:`CONNECTIONS` threads, each one keep-alive connection, bounded by
    ``seconds``."""
    host, port = url.removeprefix("http://").split(":")
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    errors = [0] * CONNECTIONS

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            payload = body.replace("{n}", f"{prefix}{k}-{n}").encode()
            start = time.perf_counter()
            conn.request("POST", path, payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            latencies[k].append(time.perf_counter() - start)
            errors[k] += response.status >= 300
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(CONNECTIONS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    every = sorted(x for xs in latencies for x in xs)
    p50 = every[len(every) // 2] * 1e3
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))] * 1e3
    return Load(len(every) / elapsed, p50, p99, sum(errors))


def run_load(url: str, path: str, body: str, seconds: float, prefix: str) -> Load:
    runner = run_wrk if shutil.which("wrk") else run_python
    return runner(url, path, body, seconds, prefix)


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "python threads (wrk not installed)"


@contextmanager
def gunicorn(app: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``gunicorn app`` with xp serve's process model, no access log; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env={**os.environ, **dict(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        stop_service(proc)


def spread(values: list[float]) -> str:
    """``median (min-max)`` of a few rounds."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
