"""``method: bayesian`` in ``analyze()`` and ``POST /v1/analyze`` against gbstats.

Reference values: gbstats 0.8.0 (PyPI, GrowthBook), ``EffectBayesianABTest(SampleMeanStatistic
(n=3407, sum=1396.87, sum_squares=52377.9767), SampleMeanStatistic(n=3461, sum=1588.8,
sum_squares=59063.4), EffectBayesianConfig(prior_effect=..., inverse=...)).compute_result()``:
``chance_to_win``, ``expected``, ``ci``, ``uplift.stddev`` and ``risk`` ([control, treatment]).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from xp.stats.analyze import AnalyzeInputError, analyze

VARIANTS = [
    {"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
    {"key": "green", "n": 3461, "sum": 1588.8, "sum_squares": 59063.4},
]
FLAT = (
    0.6842054235726522,
    0.1196538431723526,
    (-0.3694420404920152, 0.6087497268367202),
    0.24954330157201543,
    (0.17061022388611133, 0.050956380713758714),
)
PROPER_INVERSE = (
    0.3562012946364559,
    0.07072118204119494,
    (-0.3052940490061182, 0.4467364130885079),
    0.19184803088897204,
    (0.11703900517802482, 0.046317823136829875),
)  # risk flipped by gbstats
# fmt: skip


def request(**extra: Any) -> dict[str, Any]:
    return {"metric": {"kind": "mean"}, "method": "bayesian", "variants": VARIANTS, **extra}


def check(row: dict[str, Any], reference: tuple[Any, ...]) -> None:
    ctw, mean, (low, high), sd, (risk_control, risk_treatment) = reference
    rel = row["relative"]
    got = (row["bayesian"]["chance_to_win"], rel["estimate"], rel["ci_low"], rel["ci_high"])
    assert got == pytest.approx((ctw, mean, low, high), abs=1e-6)
    assert rel["se"] == pytest.approx(sd, abs=1e-6)
    assert row["bayesian"]["risk_control"] == pytest.approx(risk_control, abs=1e-6)
    assert row["bayesian"]["risk_treatment"] == pytest.approx(risk_treatment, abs=1e-6)


def test_flat_prior_matches_gbstats() -> None:
    answer = analyze(request())
    (row,) = answer["results"]
    check(row, FLAT)
    assert answer["correction"] == "none"
    assert row["p_value_corrected"] == row["relative"]["p_value"]  # no correction


def test_proper_prior_on_an_inverse_metric_matches_gbstats() -> None:
    prior = {"mean": 0.0, "variance": 0.09, "proper": True}
    (row,) = analyze(request(prior=prior, direction="decrease"))["results"]
    # gbstats' inverse risk is [treatment's loss... ] flipped: [risk of control, of treatment]
    ctw, mean, ci, sd, (first, second) = PROPER_INVERSE
    check(row, (ctw, mean, ci, sd, (second, first)))


def test_bad_prior_names_the_field() -> None:
    with pytest.raises(AnalyzeInputError) as caught:
        analyze(request(prior={"variance": 0, "proper": True}))
    assert "prior.variance" in caught.value.errors
    with pytest.raises(AnalyzeInputError) as caught:
        analyze(request(direction="up"))
    assert "direction" in caught.value.errors


def test_zero_variance_is_insufficient_not_a_crash() -> None:
    same = [{"key": k, "n": 5, "sum": 5.0, "sum_squares": 5.0} for k in ("a", "b")]
    (row,) = analyze(request(variants=same))["results"]
    assert row["relative"]["ci_low"] is None and row["relative"]["p_value"] is None


def test_over_http(make_app: Callable[..., Flask]) -> None:
    api = make_app(api_keys={"a": "admin"}).test_client()
    headers = {"Authorization": "Bearer a"}
    response = api.post("/v1/analyze", json=request(), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    (row,) = response.get_json()["results"]
    check(row, FLAT)
    bad = api.post("/v1/analyze", json=request(prior={"variance": -1}), headers=headers)
    assert bad.status_code == 422 and "prior.variance" in bad.get_data(as_text=True)
