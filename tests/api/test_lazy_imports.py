"""The statistics stack loads only where something is analysed (issue 13).

A fresh interpreter imports ``xp.wsgi`` (what gunicorn loads), serves ``/v1/assign`` with and
without exposure logging, ``/v1/events``, ``/healthz`` and a bad body (its error answer),
and must not have imported scipy or numpy; a results request then loads them, which shows the
check can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys, time
import xp.wsgi

api = xp.wsgi.app.test_client()
now = time.time()
answers = [
    api.post("/v1/assign", json={"user_id": "u-1", "log_exposure": False}).status_code,
    api.post("/v1/assign", json={"user_id": "u-2", "attributes": {"country": "US"}}).status_code,
    api.post("/v1/events", json={"events": [{"type": "conversion", "event": "purchase",
        "user_id": "u-2", "event_id": "e-1", "ts": now}]}).status_code,
    api.get("/healthz").status_code,
    api.post("/v1/assign", data=b"{", content_type="application/json").status_code,
]
serving = sorted(m for m in ("scipy", "numpy") if m in sys.modules)
results = api.get("/v1/experiments/checkout-button/results").status_code
analysing = sorted(m for m in ("scipy", "numpy") if m in sys.modules)
print(json.dumps({"answers": answers, "serving": serving, "results": results,
                  "analysing": analysing}))
"""


def test_serving_assignments_and_events_never_imports_scipy(
    tmp_path: Path, experiments_dir: Path
) -> None:
    env = {
        "XP_EXPERIMENTS_DIR": str(experiments_dir),
        "XP_DATA_DIR": str(tmp_path),
        "XP_LOG_LEVEL": "WARNING",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["answers"] == [200, 200, 200, 200, 400]
    assert found["serving"] == []
    assert found["results"] == 200
    assert found["analysing"] == ["numpy", "scipy"]


PACKAGES = """
import json, sys
import xp.results, xp.stats, xp.stats.sufficient
before = sorted(m for m in ("scipy", "numpy") if m in sys.modules)
from xp.stats import holm, srm_test
after = sorted(m for m in ("scipy", "numpy") if m in sys.modules)
print(json.dumps({"before": before, "after": after, "names": [holm.__name__, srm_test.__name__],
                  "listed": "srm_test" in dir(xp.stats)}))
"""


def test_the_statistics_packages_load_scipy_only_with_a_name_that_needs_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PACKAGES], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["before"] == []
    assert found["after"] == ["numpy", "scipy"]
    assert found["names"] == ["holm", "srm_test"] and found["listed"]
