from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from xp.stats.analyze import AnalyzeInputError, analyze

REFERENCE: dict[str, Any] = {
    "metric": {"kind": "mean"},
    "alpha": 0.05,
    "method": "frequentist",
    "variants": [
        {"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"key": "treatment", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}


def _request(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(REFERENCE)
    request.update(changes)
    return request


def test_reference_request_gives_growthbook_numbers() -> None:
    out = analyze(_request())
    (row,) = out["results"]
    assert row["variant"] == "treatment"
    rel, absolute = row["relative"], row["absolute"]
    assert round(rel["estimate"], 5) == 0.70732
    assert (round(rel["ci_low"], 5), round(rel["ci_high"], 5)) == (-0.03526, 1.44989)
    assert round(rel["p_value"], 5) == 0.06191
    assert round(absolute["estimate"], 5) == 0.29
    assert round(absolute["p_value"], 5) == 0.02016
    assert row["reason"] is None
    assert row["p_value_corrected"] == rel["p_value"]  # one treatment: Holm changes nothing
    assert "srm" not in out


def test_sequential_reference_request() -> None:
    request = _request(method="sequential", sequential_tuning=1000)
    request["variants"][0]["n"] = 3000
    rel = analyze(request)["results"][0]["relative"]
    assert (round(rel["ci_low"], 5), round(rel["ci_high"], 5)) == (-0.55844, 1.56516)


def test_proportions_with_weights_report_srm() -> None:
    request = {
        "metric": {"kind": "proportion"},
        "weights": [0.5, 0.5],
        "variants": [
            {"key": "control", "n": 3000, "sum": 1396},
            {"key": "green", "n": 3461, "sum": 2422},
        ],
    }
    out = analyze(request)
    assert out["srm"]["alarm"] is True
    assert out["srm"]["expected"] == {"control": 3230.5, "green": 3230.5}
    assert out["variants"][0] == {
        "variant": "control",
        "units": 3000,
        "mean": pytest.approx(1396 / 3000),
        "sd": pytest.approx((1396 / 3000 * (1 - 1396 / 3000)) ** 0.5),
    }


def test_three_variants_get_holm_correction() -> None:
    request = _request()
    request["variants"].append({"key": "blue", "n": 3400, "sum": 1500.0, "sum_squares": 60000.0})
    rows = analyze(request)["results"]
    assert [r["variant"] for r in rows] == ["treatment", "blue"]
    raw = sorted(r["relative"]["p_value"] for r in rows)
    corrected = sorted(r["p_value_corrected"] for r in rows)
    assert corrected[0] == pytest.approx(min(1.0, 2 * raw[0]))


def test_covariates_add_cuped() -> None:
    request = _request()
    request["variants"][0]["covariate"] = {
        "sum": 1300.0,
        "sum_squares": 40000.0,
        "sum_product": 30000.0,
    }
    request["variants"][1]["covariate"] = {
        "sum": 1350.0,
        "sum_squares": 41000.0,
        "sum_product": 45000.0,
    }
    cuped = analyze(request)["results"][0]["cuped"]
    assert cuped["applied"] is True and cuped["reason"] is None
    assert 0.0 < cuped["variance_reduction"] < 1.0
    assert cuped["absolute"]["se"] < analyze(_request())["results"][0]["absolute"]["se"]


def test_degenerate_data_is_null_not_nan() -> None:
    request = _request()
    request["variants"][0].update(n=1, sum=0.5, sum_squares=0.25)
    out = analyze(request)
    text = json.dumps(out, allow_nan=False)  # raises on NaN
    assert out["results"][0]["reason"] == "insufficient_data"
    assert out["variants"][0]["sd"] is None
    assert "NaN" not in text


def _errors(request: Any) -> dict[str, list[str]]:
    with pytest.raises(AnalyzeInputError) as info:
        analyze(request)
    assert isinstance(info.value, ValueError)
    return info.value.errors


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (lambda r: r["variants"][1].update(n=-1), "variants.1.n", "greater than or equal to 0"),
        (lambda r: r["variants"][1].update(n=3.5), "variants.1.n", "whole number"),
        (lambda r: r["variants"][0].pop("sum"), "variants.0.sum", "Missing data"),
        (lambda r: r["variants"][0].pop("sum_squares"), "variants.0.sum_squares", "Missing"),
        (lambda r: r["variants"][1].update(sum="x"), "variants.1.sum", "Not a valid number"),
        (lambda r: r["variants"][1].update(sum_squares=1.0), "variants.1.sum_squares", "sum**2"),
        (lambda r: r["variants"][1].update(key="control"), "variants.1.key", "Duplicate"),
        (lambda r: r["variants"][1].update(extra=1), "variants.1.extra", "Unknown field"),
        (lambda r: r["variants"].pop(), "variants", "minimum length 2"),
        (lambda r: r.update(alpha=1.5), "alpha", "less than 1"),
        (lambda r: r.update(method="bayes"), "method", "Must be one of"),
        (lambda r: r.update(sequential_tuning=0), "sequential_tuning", "greater than 0"),
        (lambda r: r.update(metric={"kind": "ratio"}), "metric.kind", "Must be one of"),
        (lambda r: r.pop("metric"), "metric", "Missing data"),
        (lambda r: r.update(weights=[1]), "weights", "one weight per variant"),
        (lambda r: r.update(weights=[0, 0]), "weights", "positive"),
        (lambda r: r.update(weights=[1, -1]), "weights.1", "greater than or equal to 0"),
    ],
)
def test_bad_input_names_the_field(mutate: Any, path: str, message: str) -> None:
    request = _request()
    mutate(request)
    errors = _errors(request)
    assert path in errors, errors
    assert any(message in m for m in errors[path]), errors[path]


@pytest.mark.parametrize(
    ("variant", "path"),
    [
        ({"key": "t", "n": 10, "sum": 11}, "variants.1.sum"),
        ({"key": "t", "n": 10, "sum": 5, "sum_squares": 5}, "variants.1.sum_squares"),
    ],
)
def test_bad_proportion_input(variant: dict[str, Any], path: str) -> None:
    request = {
        "metric": {"kind": "proportion"},
        "variants": [{"key": "c", "n": 10, "sum": 5}, variant],
    }
    assert path in _errors(request)


@pytest.mark.parametrize("request_body", [[1, 2], "text", None, 3])
def test_non_object_request(request_body: Any) -> None:
    errors = _errors(request_body)
    assert "" in errors


def test_error_message_names_the_first_field() -> None:
    request = _request()
    request["variants"][1]["n"] = -1
    with pytest.raises(AnalyzeInputError, match=r"variants\.1\.n: Must be greater"):
        analyze(request)


def test_covariate_on_some_variants_only_is_rejected() -> None:
    request = _request()
    request["variants"][0]["covariate"] = {"sum": 1.0, "sum_squares": 1.0, "sum_product": 1.0}
    assert "variants.1.covariate" in _errors(request)


def test_covariates_that_cannot_adjust_say_why() -> None:
    request = _request()
    for v in request["variants"]:  # x = 1 for every unit: nothing to regress on
        v["covariate"] = {"sum": v["n"], "sum_squares": v["n"], "sum_product": v["sum"]}
    cuped = analyze(request)["results"][0]["cuped"]
    assert cuped == {"applied": False, "reason": "zero_covariate_variance"}
