"""A/A and A/B experiments through the whole pipeline: ``POST /v1/events`` into a real store
(SQLite, then Redis) behind a real ``xp serve``, then ``GET /v1/experiments/<key>/results``
with both methods.

Each experiment has a 0/1 primary metric and a 0/1 guardrail (``decrease`` is better), both
at base rates drawn from 2-5%, and a launch-like ramp over 14 UTC days: a handful of units on
day 1 (too few for any verdict), growing to a plateau. Units alternate between the two arms,
so the split is exact and SRM never fires. Conversions follow their unit's exposure by
minutes, so what a look on day ``d`` sees is what was observable that day.

Bounds, per method:

- A/A: a correct test says ``ship`` (primary better, one-sided alpha/2) or
  ``guardrail_breached`` (guardrail worse, one-sided alpha/2) in at most ``alpha`` of the
  experiments; the number of such decisions is at most the 99.5% quantile of
  Binomial(K_AA, alpha), so a correct pipeline fails this test with probability < 0.5%.
- A/B (true relative lift of +100% on a 5% rate, guardrail unchanged): the planned power of
  each method at the horizon, on the relative scale the decision reads (delta method), is
  written out below; the planned share of ``ship`` is that power times ``1 - alpha/2`` (an
  A/A guardrail can still breach), and the number of ``ship`` decisions is at least the 0.5%
  quantile of Binomial(K_AB, planned share). Earlier looks only add to the sequential power.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats as sps

from tests.support.redis_server import redis_binary, redis_required, running_redis
from tests.support.service_process import running_service

pytestmark = pytest.mark.slow

ALPHA = 0.05
DAY = 86_400.0
# share of an experiment's units first exposed on each of 14 days: a ramp, then a plateau
RAMP = (0.005, 0.015, 0.03, 0.05, 0.07, 0.08, 0.09, 0.1, 0.1, 0.1, 0.1, 0.09, 0.09, 0.08)
K_AA, AA_UNITS = 60, 1000  # A/A: 500 units per arm
K_AB, AB_UNITS = 20, 3400  # A/B: 1,700 units per arm
AB_RATE, AB_LIFT = 0.05, 1.0  # control 5%, treatment 10%
BATCH = 1000  # the largest batch POST /v1/events takes


def _definition(key: str, planned: int) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
        "planned_sample": planned,
        "metrics": [
            {"name": "converted", "event": f"buy-{key}", "kind": "binomial", "role": "primary"},
            {
                "name": "refunded",
                "event": f"refund-{key}",
                "kind": "binomial",
                "role": "guardrail",
                "direction": "decrease",
            },
        ],
    }


def _events(
    rng: np.random.Generator, key: str, units: int, rate: float, lift: float, now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One experiment's exposures and conversions, vectorised."""
    day = np.repeat(np.arange(len(RAMP)), np.round(np.asarray(RAMP) * units).astype(int))
    n = day.size
    arm = np.arange(n) % 2  # exact 50/50 every day
    ts = now - (len(RAMP) - day) * DAY + rng.uniform(0, DAY - 7200, n)
    base = rng.uniform(0.02, 0.05)  # the guardrail's rate, the same in both arms
    bought = rng.random(n) < np.where(arm == 1, rate * (1 + lift), rate)
    refunded = rng.random(n) < base
    users = [f"{key}-{j}" for j in range(n)]
    variants = ("control", "treatment")
    exposures = [
        {
            "type": "exposure",
            "experiment": key,
            "user_id": users[j],
            "variant": variants[arm[j]],
            "ts": float(ts[j]),
        }
        for j in range(n)
    ]
    conversions = [
        {
            "type": "conversion",
            "event": f"{event}-{key}",
            "user_id": users[j],
            "ts": float(ts[j] + delay),
            "event_id": f"{event}-{users[j]}",
        }
        for event, hit, delay in (("buy", bought, 600.0), ("refund", refunded, 1800.0))
        for j in np.flatnonzero(hit)
    ]
    return exposures, conversions


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def pipeline(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """80 experiments generated, posted and read back once per store backend."""
    with ExitStack() as stack:
        env: dict[str, str] = {}
        if request.param == "redis":
            if redis_binary() is None:
                if redis_required():
                    pytest.fail("XP_REQUIRE_REDIS=1 but redis-server is not on PATH")
                pytest.skip("redis-server is not on PATH; install Redis to run the Redis tests")
            env["XP_STORE_URL"] = stack.enter_context(running_redis())
        yield _run(tmp_path_factory.mktemp(f"aa-{request.param}"), env)


def _run(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """Generate the experiments and their events, post them, read every results document."""
    folder = root / "experiments"
    folder.mkdir()
    rng = np.random.default_rng(20261202)
    now = time.time()
    exposures: list[dict[str, Any]] = []
    conversions: list[dict[str, Any]] = []
    plan = [(f"aa-{i:02d}", AA_UNITS, float(rng.uniform(0.02, 0.05)), 0.0) for i in range(K_AA)]
    plan += [(f"ab-{i:02d}", AB_UNITS, AB_RATE, AB_LIFT) for i in range(K_AB)]
    for key, units, rate, lift in plan:
        (folder / f"{key}.yaml").write_text(yaml.safe_dump(_definition(key, units)))
        e, c = _events(rng, key, units, rate, lift, now)
        exposures += e
        conversions += c

    with running_service(folder, root / "data", env=env) as url:
        started = time.monotonic()
        # every exposure before any conversion: an unmatched conversion is not held (yet)
        accepted = _post_all(url, exposures) + _post_all(url, conversions)
        posted = time.monotonic() - started
        results = {
            (key, method): _get(f"{url}/v1/experiments/{key}/results?method={method}")
            for key, *_ in plan
            for method in ("frequentist", "sequential")
        }
    return {
        "plan": plan,
        "results": results,
        "events": len(exposures) + len(conversions),
        "accepted": accepted,
        "seconds": posted,
    }


def _post_all(url: str, events: list[dict[str, Any]]) -> int:
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    with ThreadPoolExecutor(max_workers=4) as pool:  # keep both gunicorn workers busy
        answers = list(pool.map(lambda b: _post(f"{url}/v1/events", {"events": b}), batches))
    assert all(a["rejected"] == 0 and a["duplicates"] == 0 for a in answers)
    return sum(int(a["accepted"]) for a in answers)


def _post(url: str, body: Any) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def _decisions(pipeline: dict[str, Any], prefix: str, method: str) -> Counter[str]:
    return Counter(
        doc["decision"]["decision"]
        for (key, m), doc in pipeline["results"].items()
        if key.startswith(prefix) and m == method
    )


def test_every_event_reaches_the_store(pipeline: dict[str, Any]) -> None:
    assert pipeline["accepted"] == pipeline["events"]
    for (key, _), document in pipeline["results"].items():
        units = AA_UNITS if key.startswith("aa-") else AB_UNITS
        assert sum(document["units"].values()) == units
        assert document["srm"]["alarm"] is False
        primary = next(m for m in document["metrics"] if m["name"] == "converted")
        series = primary["series"]
        assert series
        # a look has a p-value exactly when it was tested
        assert all((p["reason"] is None) == (p["p_value"] is not None) for p in series)
        if len(series) == len(RAMP):  # one look per day of exposure
            # the ramp's first day has a handful of units: no verdict from it
            assert series[0]["reason"] == "insufficient_data"


@pytest.mark.parametrize("method", ["frequentist", "sequential"])
def test_aa_false_verdicts_stay_within_alpha(pipeline: dict[str, Any], method: str) -> None:
    decisions = _decisions(pipeline, "aa-", method)
    assert sum(decisions.values()) == K_AA
    false = decisions["ship"] + decisions["guardrail_breached"]
    # 8 of 60; before the insufficient_data rule the sequential method gave 18 (8 ship,
    # 10 guardrail_breached) on these very events, the frequentist 0
    bound = int(sps.binom.ppf(0.995, K_AA, ALPHA))
    assert false <= bound, f"{method}: {false} of {K_AA} A/A experiments {dict(decisions)}"


def _planned_power(method: str) -> float:
    """Power of the relative-lift test at the horizon (the decision's p-value).

    Relative lift ``r - 1`` with delta-method variance ``(vT/nT + r^2 vC/nC) / mC^2``
    (frequentist.relative_variance); frequentist: reject when ``z > z_{1-alpha/2}``;
    sequential: when ``z`` exceeds the confidence sequence's half-width over its standard
    error, eq 9 of Waudby-Smith et al. 2023 with ``rho`` from eq 161 at ``N* = N``.
    """
    n, p0 = AB_UNITS / 2, AB_RATE
    p1, r = p0 * (1 + AB_LIFT), 1 + AB_LIFT
    z = (r - 1) / math.sqrt((p1 * (1 - p1) / n + r**2 * p0 * (1 - p0) / n) / p0**2)
    if method == "frequentist":
        critical = float(sps.norm.ppf(1 - ALPHA / 2))
    else:
        # half-width / se = sqrt(2 (N rho^2 + 1) / (N rho^2) log(sqrt(N rho^2 + 1) / alpha)),
        # and N rho^2 = -2 ln(alpha) + ln(-2 ln(alpha) + 1) at N = N* (planned_sample)
        nr2 = -2 * math.log(ALPHA) + math.log(-2 * math.log(ALPHA) + 1)
        critical = math.sqrt(2 * (nr2 + 1) / nr2 * math.log(math.sqrt(nr2 + 1) / ALPHA))
    return float(sps.norm.cdf(z - critical))


@pytest.mark.parametrize(("method", "planned"), [("frequentist", 0.97), ("sequential", 0.81)])
def test_a_true_lift_ships_in_the_planned_share(
    pipeline: dict[str, Any], method: str, planned: float
) -> None:
    power = _planned_power(method)
    assert power == pytest.approx(planned, abs=0.01)  # the design this test states
    decisions = _decisions(pipeline, "ab-", method)
    share = power * (1 - ALPHA / 2)  # the unchanged guardrail can still breach
    bound = int(sps.binom.ppf(0.005, K_AB, share))  # 16 (frequentist) and 11 of 20
    assert decisions["ship"] >= bound, f"{method}: {dict(decisions)}, planned {share:.2f}"
    for (key, m), document in pipeline["results"].items():
        if key.startswith("ab-") and m == method and document["decision"]["decision"] == "ship":
            assert document["decision"]["winner"] == "treatment"
