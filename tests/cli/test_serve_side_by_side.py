"""Two ``xp serve`` on one machine share nothing: gunicorn's per-user control socket is off,
so neither takes it over from the other, and stopping one leaves the other serving."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from tests.support.service_process import start_service, stop_service, wait_until_up

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
        return response.status == 200


@pytest.mark.slow
def test_two_instances_side_by_side(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # gunicorn's default control socket lives under these: point them at the test's folder.
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first, first_url = start_service(EXPERIMENTS, tmp_path / "a" / "data", env=env, workers=1)
    try:
        second, second_url = start_service(EXPERIMENTS, tmp_path / "b" / "data", env=env, workers=1)
        try:
            wait_until_up(first_url)
            wait_until_up(second_url)
            assert healthy(first_url) and healthy(second_url)
            sockets = [p for p in home.rglob("*") if p.is_socket()]
            assert sockets == []  # no shared gunicorn.ctl to take over
        finally:
            stop_service(second)
        assert second.returncode == 0
        assert healthy(first_url)  # stopping the other one changed nothing here
    finally:
        stop_service(first)
    for name in ("a", "b"):
        for log in (tmp_path / name).glob("service-*.log"):
            assert "control socket" not in log.read_text(errors="replace").lower()
    assert not os.path.exists(home / ".gunicorn" / "gunicorn.ctl")
