"""``xp serve`` writes gunicorn's access log only when asked (``XP_ACCESS_LOG=1``)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.support.service_process import running_service

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def served_log(tmp_path: Path, env: dict[str, str]) -> str:
    data = tmp_path / "data"
    with running_service(EXPERIMENTS, data, env=env, workers=1) as url:
        request = urllib.request.Request(
            f"{url}/v1/assign",
            data=json.dumps({"user_id": "u-1", "log_exposure": False}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        port = url.rsplit(":", 1)[1]
    return (tmp_path / f"service-{port}.log").read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize(("setting", "logged"), [(None, False), ("0", False), ("1", True)])
def test_the_access_log_is_opt_in(tmp_path: Path, setting: str | None, logged: bool) -> None:
    env = {"XP_ACCESS_LOG": setting} if setting is not None else {}
    log = served_log(tmp_path, env)
    assert ('"POST /v1/assign HTTP/1.1" 200' in log) is logged, log[-2000:]
