"""Slow clients: behind nginx (deploy/nginx/proxy.conf) 50 connections trickling bytes do not
delay a normal client; straight at gunicorn they stall it. A real nginx, a real ``xp serve``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import EXPERIMENTS_DIR
from tests.support.nginx import COMPOSE_CONF, PROXY_CONF, check_config, require_nginx, running_nginx
from tests.support.service_process import running_service
from tests.support.slow_clients import normal_latencies, slow_clients

SLOW_CLIENTS = 50
ALLOWED_DELAY = 1.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_nginx()  # before starting anything
    data = tmp_path_factory.mktemp("nginx") / "data"
    with running_service(EXPERIMENTS_DIR, data) as url:
        yield url


def test_behind_nginx_slow_clients_do_not_delay_a_normal_client(service: str) -> None:
    upstream = int(service.rsplit(":", 1)[1])
    with running_nginx(upstream) as proxy:
        assert max(normal_latencies(proxy, timeout=5)) < ALLOWED_DELAY  # warm, unloaded
        with slow_clients(proxy, SLOW_CLIENTS):
            took = normal_latencies(proxy, timeout=5)
        assert max(took) < ALLOWED_DELAY, took


def test_without_the_proxy_the_same_slow_clients_stall_gunicorn(service: str) -> None:
    """Teeth: the threads of 2 gunicorn workers (8) are all held by slow clients."""
    with slow_clients(service, SLOW_CLIENTS):
        took = normal_latencies(service, timeout=2, stop_over=ALLOWED_DELAY)
    assert max(took) > ALLOWED_DELAY, took
    # Once they are gone, gunicorn answers again.
    assert max(normal_latencies(service, timeout=5)) < ALLOWED_DELAY


def test_the_compose_nginx_conf_is_valid() -> None:
    text = (
        COMPOSE_CONF.read_text()
        .replace("server xp:8000;", "server 127.0.0.1:8000;")
        .replace("/etc/nginx/xp/proxy.conf", str(PROXY_CONF))
    )
    done = check_config(text)
    assert done.returncode == 0, done.stderr


def test_a_missing_nginx_skips_here_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import nginx

    monkeypatch.setattr(nginx, "nginx_binary", lambda: None)
    monkeypatch.delenv("XP_REQUIRE_NGINX", raising=False)
    with pytest.raises(pytest.skip.Exception):
        nginx.require_nginx()
    monkeypatch.setenv("XP_REQUIRE_NGINX", "1")
    with pytest.raises(pytest.fail.Exception, match="XP_REQUIRE_NGINX=1"):
        nginx.require_nginx()
