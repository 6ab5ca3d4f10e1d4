"""``POST /v1/analyze`` over HTTP: degenerate comparisons, and CUPED as GrowthBook computes it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from scipy import stats as sps

ADMIN = {"Authorization": "Bearer a"}


@pytest.fixture
def api(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(api_keys={"a": "admin"}).test_client()


def _post(api: FlaskClient, request: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/analyze", json=request, headers=ADMIN)
    assert response.status_code == 200, response.json
    body = response.json
    assert isinstance(body, dict)
    return body


def _proportions(*arms: tuple[int, int], method: str = "frequentist") -> dict[str, Any]:
    return {
        "metric": {"kind": "proportion"},
        "method": method,
        "variants": [{"key": f"v{i}", "n": n, "sum": k} for i, (n, k) in enumerate(arms)],
    }


def _means(*arms: tuple[int, float, float], method: str = "frequentist") -> dict[str, Any]:
    return {
        "metric": {"kind": "mean"},
        "method": method,
        "variants": [
            {"key": f"v{i}", "n": n, "sum": s, "sum_squares": ss}
            for i, (n, s, ss) in enumerate(arms)
        ],
    }


DEGENERATE = {
    # the case: before, the relative p-value was 0
    "1/8 vs 0/8": _proportions((8, 1), (8, 0)),
    "zero control mean": _proportions((500, 0), (500, 12)),
    "zero conversions in the treatment": _proportions((500, 20), (500, 0)),
    "zero variance in a mean metric": _means((50, 250.0, 1250.0), (50, 300.0, 2000.0)),
    "n = 1": _means((1, 4.0, 16.0), (40, 100.0, 300.0)),
}


@pytest.mark.parametrize("method", ["frequentist", "sequential"])
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_comparisons_answer_insufficient_data(
    api: FlaskClient, case: str, method: str
) -> None:
    body = _post(api, {**DEGENERATE[case], "method": method})
    (row,) = body["results"]
    assert row["reason"] == "insufficient_data"
    assert row["p_value_corrected"] is None
    for scale in ("absolute", "relative"):
        assert row[scale]["p_value"] is None
        assert row[scale]["se"] is None
        assert row[scale]["ci_low"] is None and row[scale]["ci_high"] is None


def test_one_degenerate_treatment_leaves_the_others_tested(api: FlaskClient) -> None:
    rows = _post(api, _proportions((500, 30), (500, 0), (500, 45)))["results"]
    assert [r["reason"] for r in rows] == ["insufficient_data", None]
    assert rows[0]["p_value_corrected"] is None
    # Holm over the one tested treatment: its own p-value
    assert rows[1]["p_value_corrected"] == pytest.approx(rows[1]["relative"]["p_value"])


# The "lift20" case of tests/stats/test_cuped.py: a 20% raw lift with a covariate of
# correlation ~0.95, (n, sum y, sum y^2, sum x, sum x^2, sum xy) per arm.
CONTROL = (1000, 20000.0, 424975.0, 19000.0, 384976.0, 403276.7)
TREATMENT = (1000, 24000.0, 605970.0, 19100.0, 389285.5, 484174.2)


def _cuped_request(method: str) -> dict[str, Any]:
    return {
        "metric": {"kind": "mean"},
        "method": method,
        "variants": [
            {
                "key": key,
                "n": arm[0],
                "sum": arm[1],
                "sum_squares": arm[2],
                "covariate": {"sum": arm[3], "sum_squares": arm[4], "sum_product": arm[5]},
            }
            for key, arm in (("control", CONTROL), ("treatment", TREATMENT))
        ],
    }


def _growthbook_cuped() -> dict[str, float]:
    """The written-out formulas of GrowthBook's engine (growthbook/growthbook
    packages/stats/gbstats, commit 8f1db44): ``models/statistics.py::compute_theta`` over the
    pair, ``RegressionAdjustedStatistic`` variances, ``utils.frequentist_diff`` over the raw
    control mean and ``models/tests.py::frequentist_variance_relative_cuped``."""

    def moments(arm: tuple[float, ...]) -> tuple[float, ...]:
        n, sy, syy, sx, sxx, sxy = arm
        return (
            n,
            sy / n,
            (syy - sy * sy / n) / (n - 1),
            sx / n,
            (sxx - sx * sx / n) / (n - 1),
            (sxy - sx * sy / n) / (n - 1),
        )

    n_c, my_c, vy_c, mx_c, vx_c, cov_c = moments(CONTROL)
    n_t, my_t, vy_t, mx_t, vx_t, cov_t = moments(TREATMENT)
    pooled = moments(tuple(c + t for c, t in zip(CONTROL, TREATMENT, strict=True)))
    theta = pooled[5] / pooled[4]  # cov(x, y) / var(x), both arms together
    adj_c = vy_c + theta**2 * vx_c - 2 * theta * cov_c
    adj_t = vy_t + theta**2 * vx_t - 2 * theta * cov_t
    diff = (my_t - theta * mx_t) - (my_c - theta * mx_c)
    rel_var = adj_t / (n_t * my_c**2) + (
        vy_c * my_t**2 / my_c**2 - 2 * theta * cov_c * my_t / my_c + theta**2 * vx_c
    ) / (n_c * my_c**2)
    # OLD (what results and analyze used before): the unadjusted delta method with the
    # adjusted variances, adj_t/(n_t mC^2) + adj_c mT^2/(n_c mC^4)
    old_rel_var = adj_t / (n_t * my_c**2) + adj_c * my_t**2 / (n_c * my_c**4)
    df = (adj_c / n_c + adj_t / n_t) ** 2 / (
        (adj_c / n_c) ** 2 / (n_c - 1) + (adj_t / n_t) ** 2 / (n_t - 1)
    )
    return {
        "theta": theta,
        "absolute": diff,
        "absolute_se": math.sqrt(adj_c / n_c + adj_t / n_t),
        "relative": diff / my_c,
        "relative_se": math.sqrt(rel_var),
        "old_relative_se": math.sqrt(old_rel_var),
        "df": df,
        "n_total": n_c + n_t,
    }


def test_cuped_reference_values_with_a_real_lift(api: FlaskClient) -> None:
    truth = _growthbook_cuped()
    # the numbers test_cuped.py holds for gbstats itself
    assert truth["theta"] == pytest.approx(1.0163940854168176, rel=1e-9)
    assert truth["relative_se"] ** 2 == pytest.approx(1.7051423435481875e-05, rel=1e-9)
    (row,) = _post(api, _cuped_request("frequentist"))["results"]
    cuped = row["cuped"]
    assert cuped["applied"] is True and cuped["reason"] is None
    assert cuped["theta"] == pytest.approx(truth["theta"], rel=1e-9)
    assert cuped["absolute"]["estimate"] == pytest.approx(truth["absolute"], rel=1e-9)
    assert cuped["absolute"]["se"] == pytest.approx(truth["absolute_se"], rel=1e-9)
    rel = cuped["relative"]
    assert rel["estimate"] == pytest.approx(truth["relative"], rel=1e-9)
    assert rel["se"] == pytest.approx(truth["relative_se"], rel=1e-9)
    half = sps.t.ppf(0.975, truth["df"]) * truth["relative_se"]
    assert rel["ci_low"] == pytest.approx(truth["relative"] - half, rel=1e-9)
    assert rel["ci_high"] == pytest.approx(truth["relative"] + half, rel=1e-9)
    z = truth["relative"] / truth["relative_se"]
    assert rel["p_value"] == pytest.approx(2 * sps.t.sf(z, truth["df"]), rel=1e-6, abs=1e-300)
    # the old formula fails these values: its se is ~3.4% smaller
    assert rel["se"] != pytest.approx(truth["old_relative_se"], rel=0.01)
    assert truth["old_relative_se"] / truth["relative_se"] == pytest.approx(0.966, abs=0.002)


def test_sequential_cuped_uses_the_same_variance(api: FlaskClient) -> None:
    truth = _growthbook_cuped()
    (row,) = _post(api, {**_cuped_request("sequential"), "sequential_tuning": 5000})["results"]
    rel = row["cuped"]["relative"]
    assert rel["se"] == pytest.approx(truth["relative_se"], rel=1e-9)
    # eq 9 (and rho from eq 161) in Waudby-Smith et al. 2023, as gbstats'
    # SequentialTwoSidedTTest: s2 = var * N, half = sqrt(s2 2 (N r2 + 1)/(N^2 r2) log(...))
    n, alpha, tuning = truth["n_total"], 0.05, 5000.0
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s2 = truth["relative_se"] ** 2 * n
    half = math.sqrt(
        s2 * 2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha)
    )
    assert rel["ci_low"] == pytest.approx(truth["relative"] - half, rel=1e-9)
    assert rel["ci_high"] == pytest.approx(truth["relative"] + half, rel=1e-9)


# --- the Bayesian decision rule in the body ------------------------------------------------

GREEN = [("control", 20_000, 2000), ("green", 20_000, 2110)]  # +5.5% on a 10% rate


def _bayesian(**extra: Any) -> dict[str, Any]:
    variants = [{"key": k, "n": n, "sum": s} for k, n, s in GREEN]
    return {"metric": {"kind": "proportion"}, "method": "bayesian", "variants": variants, **extra}


def test_the_bayesian_rule_defaults_to_growthbooks_and_says_what_fired(api: FlaskClient) -> None:
    body = _post(api, _bayesian())
    assert body["bayesian"] == {
        "prior": {"mean": 0.0, "variance": 1.0, "proper": False},
        "chance_to_win": 0.95,
        "risk_threshold": 0.0025,
    }
    (row,) = body["results"]
    win, risk = row["bayesian"]["chance_to_win"], row["bayesian"]["risk_treatment"]
    assert win >= 0.95 and risk <= 0.0025 and row["significant"] is True
    assert row["rule"] == f"chance to win {win:.1%} >= 95%, risk {risk:.2%} <= 0.25%"


def test_the_bodys_thresholds_change_the_verdict(api: FlaskClient) -> None:
    (row,) = _post(api, _bayesian(bayesian={"risk_threshold": 0.0001}))["results"]
    assert row["significant"] is False and "> 0.01%" in row["rule"]
    (row,) = _post(api, _bayesian(bayesian={"chance_to_win": 0.999}))["results"]
    assert row["significant"] is False and "neither >= 99.9%" in row["rule"]


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"chance_to_win": 0.3}, "bayesian.chance_to_win"),
        ({"chance_to_win": 1}, "bayesian.chance_to_win"),
        ({"chance_to_win": "high"}, "bayesian.chance_to_win"),
        ({"risk_threshold": -1}, "bayesian.risk_threshold"),
        ({"risk_threshold": None}, "bayesian.risk_threshold"),
        ({"risk": 0.1}, "bayesian.risk"),
    ],
)
def test_bad_thresholds_are_a_422_naming_the_field(
    api: FlaskClient, rule: dict[str, Any], path: str
) -> None:
    response = api.post("/v1/analyze", json=_bayesian(bayesian=rule), headers=ADMIN)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert path in response.json["error"]["details"]
