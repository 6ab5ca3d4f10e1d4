"""The assignment guard across real ``xp serve`` restarts, on SQLite and on Redis.

One story per backend: data, a refused weight change after a restart, a coverage ramp that
loads, ``xp validate --store`` refusing the same change, a new phase that starts afresh
while phase 1 stays readable, and the file deleted: archived, still readable.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.support.service_process import running_service
from xp.cli import cli

pytestmark = pytest.mark.slow

EXPERIMENT: dict[str, Any] = {
    "key": "guarded",
    "name": "Guarded",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [{"name": "purchased", "event": "purchase", "kind": "binomial"}],
}
SKEWED = [{"key": "control", "weight": 0.3}, {"key": "treatment", "weight": 0.7}]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/guard.sqlite3"
        return
    url = str(request.getfixturevalue("redis_url")).rsplit("/", 1)[0] + "/9"
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()
    yield url


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            kind = response.headers.get_content_type()
            return response.status, json.loads(
                body
            ) if kind == "application/json" else body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def expose(url: str, units: range, experiment: str = "guarded") -> int:
    events = [
        {"type": "exposure", "experiment": experiment, "user_id": f"u{i}", "variant": "control"}
        for i in units
    ]
    request = urllib.request.Request(
        f"{url}/v1/events",
        json.dumps({"events": events}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)["accepted"])


def write(folder: Path, **changes: Any) -> Path:
    path = folder / "guarded.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, **changes}))
    return path


def validate(folder: Path, store_url: str) -> Result:
    """``xp validate DIR --store URL``, in this process (a new interpreter costs seconds)."""
    return CliRunner().invoke(cli, ["validate", str(folder), "--store", store_url])


def units(url: str, phase: int | None = None) -> dict[str, int]:
    query = "" if phase is None else f"?phase={phase}"
    status, body = get(f"{url}/v1/experiments/guarded/results{query}")
    assert status == 200, body
    return dict(body["units"])


def test_the_guard_survives_restarts(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "experiments"
    folder.mkdir()
    data = tmp_path / "data"
    env = {"XP_STORE_URL": store_url, "XP_RELOAD_INTERVAL": "0"}
    write(folder)
    with running_service(folder, data, env=env, workers=1) as url:
        assert expose(url, range(10)) == 10  # the first exposure records the fingerprint

    # Edited weights after a restart: refused, named in /healthz, the stored definition served.
    write(folder, variants=SKEWED)
    refused = validate(folder, store_url)
    assert refused.exit_code == 1
    assert "guarded.yaml: variants.0.weight: weight of 'control' 0.5 -> 0.3" in refused.output
    with running_service(folder, data, env=env, workers=1) as url:
        _, health = get(f"{url}/healthz")
        assert health["status"] == "degraded"
        assert {(p["file"].rsplit("/", 1)[-1], p["path"]) for p in health["problems"]} == {
            ("guarded.yaml", "variants.0.weight"),
            ("guarded.yaml", "variants.1.weight"),
        }
        _, config = get(f"{url}/v1/config")
        served = next(e for e in config["experiments"] if e["key"] == "guarded")
        assert [v["weight"] for v in served["variants"]] == [0.5, 0.5]
        assert expose(url, range(10, 12)) == 2  # still assigned and logged, as it ran

        # A coverage ramp loads (hot reload from here on).
        write(folder, coverage=0.25)
        assert validate(folder, store_url).exit_code == 0
        assert get(f"{url}/healthz")[1]["status"] == "ok"
        _, experiment = get(f"{url}/v1/experiments/guarded")
        assert experiment["coverage"] == 0.25 and experiment["phases"] == [1]

        # A new phase: new salt, results from zero, phase 1 readable and archived.
        write(folder, variants=SKEWED, phase=2)
        assert validate(folder, store_url).exit_code == 0
        assert get(f"{url}/healthz")[1]["status"] == "ok"
        assert units(url) == {"control": 0, "treatment": 0}
        assert units(url, phase=1) == {"control": 12, "treatment": 0}
        assert expose(url, range(5)) == 5  # the same units enter phase 2 afresh
        assert units(url) == {"control": 5, "treatment": 0}
        _, old = get(f"{url}/v1/experiments/guarded/results?phase=1")
        assert old["experiment"]["status"] == "archived"
        assert get(f"{url}/v1/experiments/guarded/results?phase=3")[0] == 404
        assert get(f"{url}/v1/experiments/guarded/results?phase=x")[0] == 422
    # Going back to phase 1 is refused: phases only go up.
    write(folder)
    back = validate(folder, store_url)
    assert back.exit_code == 1 and "guarded.yaml: phase: phase 2" in back.output

    # The file deleted: listed as archived with its last definition, results readable.
    (folder / "guarded.yaml").unlink()
    with running_service(folder, data, env=env, workers=1) as url:
        _, listing = get(f"{url}/v1/experiments")
        (archived,) = listing["experiments"]
        assert (archived["key"], archived["status"], archived["phase"]) == (
            "guarded",
            "archived",
            2,
        )
        assert [v["weight"] for v in archived["variants"]] == [0.3, 0.7]
        assert units(url) == {"control": 5, "treatment": 0}
        assert units(url, phase=1) == {"control": 12, "treatment": 0}
        _, config = get(f"{url}/v1/config")
        assert config["experiments"] == []  # archived: nothing is assigned
        status, index = get(f"{url}/")
        assert status == 200 and "guarded" in index and "archived" in index
        status, page = get(f"{url}/experiments/guarded?phase=1")
        assert status == 200 and "archived" in page
