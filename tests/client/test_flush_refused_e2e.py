"""End to end, through a real ``xp serve`` with API keys: an SDK with a wrong key is refused,
and its ``flush()`` says so (False, one clear log line, no endless retries); the right key's
events arrive."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import yaml

from tests.support.service_process import running_service
from xp_client import Client

pytestmark = pytest.mark.slow

EXPERIMENT = {
    "key": "keyed",
    "name": "keyed",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [{"name": "bought", "kind": "binomial", "event": "purchase"}],
}


def test_a_wrong_key_makes_flush_false_with_one_clear_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "keyed.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    env = {"XP_API_KEYS": "right-key:sdk"}
    caplog.set_level(logging.DEBUG, logger="xp.client")
    with running_service(experiments, tmp_path / "data", env=env, workers=1) as url:
        with Client(url, "wrong-key", init_timeout=5, flush_interval=60) as wrong:
            for i in range(3):
                wrong.track("purchase", user_id=f"u{i}")
                started = time.monotonic()
                assert wrong.flush(timeout=30) is False
                assert time.monotonic() - started < 10  # answered, not retried to the deadline
            stats = wrong.stats()
        assert (stats["sent"], stats["dropped_4xx"], stats["retries"]) == (0, 3, 0)
        refused = [
            r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.ERROR and "refused" in r.getMessage()
        ]
        assert refused == [
            "xp: the service refused 1 events with HTTP 401: the api_key is wrong, revoked or "
            "lacks the sdk scope; events are dropped until it is fixed"
        ]
        with Client(url, "right-key", init_timeout=5, flush_interval=60) as right:
            right.track("purchase", user_id="u0")
            assert right.flush(timeout=30) is True
            assert right.stats()["sent"] == 1
