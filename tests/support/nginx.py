"""A throwaway nginx in front of a local upstream, configured with deploy/nginx/proxy.conf.

Everything nginx writes (pid, logs, temp files) goes in a temporary folder, so it runs without
root and leaves nothing behind. ``.ci/run`` installs Debian's nginx and sets
``XP_REQUIRE_NGINX=1``, which turns a missing binary from a skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PROXY_CONF = ROOT / "deploy" / "nginx" / "proxy.conf"
COMPOSE_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"  # Debian's, when /usr/sbin is not on PATH
    return found


def require_nginx() -> str:
    """The nginx binary; skip without one, or fail under ``XP_REQUIRE_NGINX=1``."""
    binary = nginx_binary()
    if binary is None:
        if os.environ.get("XP_REQUIRE_NGINX") == "1":
            pytest.fail("XP_REQUIRE_NGINX=1 but nginx is not installed")
        pytest.skip("nginx is not installed (Debian package nginx); .ci/run installs it")
    return binary


def _main_conf(workdir: Path, upstream_port: int, port: int) -> str:
    # As root, workers would switch to `nobody`, who cannot enter a 0700 temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    temp = _temp_paths(workdir)
    return f"""
{user}
daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
{temp}
    upstream xp {{
        server 127.0.0.1:{upstream_port};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        include {PROXY_CONF};
    }}
}}
"""


@contextmanager
def running_nginx(upstream_port: int) -> Iterator[str]:
    """nginx on a free port proxying to ``127.0.0.1:upstream_port``; yield its URL."""
    binary = require_nginx()
    workdir = Path(tempfile.mkdtemp(prefix="xp-nginx-"))
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_main_conf(workdir, upstream_port, port))
    command = [binary, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    errors = (workdir / "error.log").read_text() if conf.exists() else ""
                    raise RuntimeError(f"nginx did not start: {errors[-2000:]}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _temp_paths(workdir: Path) -> str:
    return "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def check_config(text: str) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` of a whole main configuration, in a temporary prefix (its temp paths moved
    there, so it needs no root)."""
    binary = require_nginx()
    with tempfile.TemporaryDirectory(prefix="xp-nginx-t-") as folder:
        conf = Path(folder) / "nginx.conf"
        conf.write_text(text.replace("http {", "http {\n" + _temp_paths(Path(folder)), 1))
        log = Path(folder) / "error.log"
        return subprocess.run(
            [binary, "-t", "-p", folder, "-c", str(conf), "-e", str(log)],
            capture_output=True,
            text=True,
            timeout=30,
        )
