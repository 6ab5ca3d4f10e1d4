"""A hand-written results document in the shape of docs/results.md, for renderer tests.

The numbers are those of a real two-arm test (Welch/delta-method, 95%): control 612 of 5,012
purchased, green 635 of 4,988; the series is the same data cumulated by day of exposure.
:data:`SAMPLE` is the JSON; :func:`sample_results` the typed document renderers take.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from xp.results.document import ResultsDocument

CONTROL_RATE = 0.122107
NO_ESTIMATE = {"estimate": None, "se": None, "ci_low": None, "ci_high": None, "p_value": None}


def _comparison(
    variant: str,
    absolute: tuple[float, float, float, float, float],
    relative: tuple[float, float, float, float, float],
    corrected: float,
    significant: bool = False,
) -> dict[str, Any]:
    names = ("estimate", "se", "ci_low", "ci_high", "p_value")
    return {
        "variant": variant,
        "absolute": dict(zip(names, absolute, strict=True)),
        "relative": dict(zip(names, relative, strict=True)),
        "p_value_corrected": corrected,
        "significant": significant,
        "reason": None,
        "cuped": None,
    }


def _point(
    date: str, units: int, estimate: float, low: float, high: float, p: float
) -> dict[str, Any]:
    return {
        "date": date,
        "variant": "green",
        "units": units,
        "control_units": round(units * 5012 / 4988),
        "relative": {"estimate": estimate, "ci_low": low, "ci_high": high},
        "absolute": {
            "estimate": round(estimate * CONTROL_RATE, 6),
            "ci_low": round(low * CONTROL_RATE, 6),
            "ci_high": round(high * CONTROL_RATE, 6),
        },
        "p_value": p,
        "reason": None,
    }


def _rate_rows(control: tuple[int, float], green: tuple[int, float]) -> list[dict[str, Any]]:
    """Variant rows of a 0/1 metric from (units, conversions)."""
    rows = []
    for variant, (n, total) in (("control", control), ("green", green)):
        rate = total / n if n else None
        sd = math.sqrt(rate * (1 - rate) * n / (n - 1)) if rate is not None and n > 1 else None
        rows.append({"variant": variant, "units": n, "sum": total, "mean": rate, "sd": sd})
    return rows


SAMPLE: dict[str, Any] = {
    "experiment": {
        "key": "checkout-button",
        "name": "Green checkout button",
        "status": "running",
        "hypothesis": "A green checkout button lifts purchases by 5%",
        "owner": "growth-team",
        "start": "2026-11-01T00:00:00Z",
        "end": None,
        "planned_sample": None,
        "winner": None,
        "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
        "segments": ["country", "device"],
        "metrics": ["purchase_rate", "revenue_per_user", "refund_rate"],
        "first_exposure_day": "2026-11-01",
        "last_exposure_day": "2026-11-14",
        "days_running": 14.5,
    },
    "method": "frequentist",
    "alpha": 0.05,
    "sequential_tuning": 5000,
    "generated_at": "2026-11-11T09:30:00Z",
    "units": {"control": 5012, "green": 4988},
    "srm": {
        "p_value": 0.810330,
        "alarm": False,
        "threshold": 0.001,
        "chi2": 0.0576,
        "observed": {"control": 5012, "green": 4988},
        "expected": {"control": 5000.0, "green": 5000.0},
    },
    "decision": {
        "decision": "keep_running",
        "reasons": [
            "purchase_rate: green is +4.3% (95% CI -6.6% to +15.1%), not significant yet.",
            "refund_rate: no guardrail breached.",
        ],
        "winner": None,
    },
    "diagnostics": {
        "variant_mismatch": 3,
        "before_exposure": 10,
        "outside_window": 4,
        "not_exposed": 120,
    },
    "metrics": [
        {
            "name": "purchase_rate",
            "kind": "binomial",
            "role": "primary",
            "direction": "increase",
            "exploratory": False,
            "correction": "holm",
            "variants": [
                {
                    "variant": "control",
                    "units": 5012,
                    "sum": 612.0,
                    "mean": 0.122107,
                    "sd": 0.327442,
                },
                {"variant": "green", "units": 4988, "sum": 635.0, "mean": 0.127306, "sd": 0.333348},
            ],
            "comparisons": [
                _comparison(
                    "green",
                    (0.005199, 0.006608, -0.007753, 0.018151, 0.431474),
                    (0.042574, 0.05526, -0.065733, 0.150881, 0.441043),
                    0.441043,
                )
            ],
            "series": [
                _point("2026-11-01", 498, 0.023989, -0.331988, 0.379966, 0.894922),
                _point("2026-11-02", 996, 0.030363, -0.208161, 0.268888, 0.802976),
                _point("2026-11-03", 1494, -0.005343, -0.200643, 0.189956, 0.957234),
                _point("2026-11-04", 1992, -0.00243, -0.171096, 0.166236, 0.977474),
                _point("2026-11-05", 2490, -0.040768, -0.186496, 0.10496, 0.583483),
                _point("2026-11-06", 2988, -0.018315, -0.151302, 0.114672, 0.787214),
                _point("2026-11-07", 3486, -0.02411, -0.146712, 0.098491, 0.699914),
                _point("2026-11-08", 3984, 0.02255, -0.097264, 0.142364, 0.712215),
                _point("2026-11-09", 4482, 0.035237, -0.078359, 0.148833, 0.543203),
                _point("2026-11-10", 4988, 0.042574, -0.065733, 0.150881, 0.441043),
            ],
            "segments": [
                {
                    "segment": "country",
                    "value": "US",
                    "units": {"control": 3000, "green": 2990},
                    "variants": _rate_rows((3000, 366.0), (2990, 387.0)),
                    "comparisons": [
                        _comparison(
                            "green",
                            (0.00777, 0.008612, -0.009109, 0.024649, 0.366907),
                            (0.063003, 0.071998, -0.078111, 0.204117, 0.38154),
                            0.763080,
                        )
                    ],
                },
                {
                    "segment": "country",
                    "value": "CA",
                    "units": {"control": 2012, "green": 1998},
                    "variants": _rate_rows((2012, 246.0), (1998, 248.0)),
                    "comparisons": [
                        _comparison(
                            "green",
                            (0.001343, 0.010301, -0.018846, 0.021533, 0.896247),
                            (0.011168, 0.086119, -0.157622, 0.179958, 0.896817),
                            0.896817,
                        )
                    ],
                },
                {
                    "segment": "device",
                    "value": "tablet|kiosk",
                    "units": {"control": 1, "green": 0},
                    "variants": _rate_rows((1, 0.0), (0, 0.0)),
                    "comparisons": [
                        {
                            "variant": "green",
                            "absolute": NO_ESTIMATE,
                            "relative": NO_ESTIMATE,
                            "p_value_corrected": None,
                            "significant": False,
                            "reason": "insufficient_data",
                            "cuped": None,
                        }
                    ],
                },
            ],
        },
        {
            "name": "revenue_per_user",
            "kind": "sum",
            "role": "secondary",
            "direction": "increase",
            "exploratory": False,
            "correction": "bh",
            "variants": [
                {
                    "variant": "control",
                    "units": 5012,
                    "sum": 30412.5,
                    "mean": 6.067937,
                    "sd": 23.232345,
                },
                {
                    "variant": "green",
                    "units": 4988,
                    "sum": 32950.1,
                    "mean": 6.605874,
                    "sd": 24.573546,
                },
            ],
            "comparisons": [
                {
                    **_comparison(
                        "green",
                        (0.537937, 0.478281, -0.399476, 1.47535, 0.260703),
                        (0.088652, 0.082185, -0.072426, 0.249731, 0.280722),
                        0.280722,
                    ),
                    "cuped": {
                        "variance_reduction": 0.31,
                        "theta": 0.8,
                        "units_with_covariate": {"control": 5012, "green": 4988},
                        "reason": None,
                        "absolute": {
                            "estimate": 0.51,
                            "se": 0.398,
                            "ci_low": -0.27,
                            "ci_high": 1.29,
                            "p_value": 0.2,
                        },
                        "relative": {
                            "estimate": 0.084,
                            "se": 0.066,
                            "ci_low": -0.045,
                            "ci_high": 0.213,
                            "p_value": 0.2,
                        },
                    },
                }
            ],
            "series": [],
            "segments": [],
        },
        {
            "name": "refund_rate",
            "kind": "binomial",
            "role": "guardrail",
            "direction": "decrease",
            "exploratory": False,
            "correction": "none",
            "variants": [
                {"variant": "control", "units": 5012, "sum": 41.0, "mean": 0.00818, "sd": 0.090084},
                {"variant": "green", "units": 4988, "sum": 44.0, "mean": 0.008821, "sd": 0.093515},
            ],
            "comparisons": [
                _comparison(
                    "green",
                    (0.000641, 0.001836, -0.002958, 0.00424, 0.72713),
                    (0.078334, 0.233097, -0.378527, 0.535196, 0.736826),
                    0.736826,
                )
            ],
            "series": [],
            "segments": [],
        },
    ],
}


def sample_dict(**changes: Any) -> dict[str, Any]:
    """A fresh deep copy of :data:`SAMPLE`, with top-level keys replaced by ``changes``."""
    document = copy.deepcopy(SAMPLE)
    document.update(copy.deepcopy(changes))
    return document


def sample_results(**changes: Any) -> ResultsDocument:
    """The typed document of :func:`sample_dict` (``changes`` in its JSON shape)."""
    return ResultsDocument.from_dict(sample_dict(**changes))


def srm_results() -> ResultsDocument:
    """The sample with a sample ratio mismatch: the decision is ``srm_alarm``."""
    observed = {"control": 5400, "green": 4600}
    return sample_results(
        units=observed,
        srm={
            "p_value": 1.2e-15,
            "alarm": True,
            "threshold": 0.001,
            "chi2": 64.0,
            "observed": observed,
            "expected": {"control": 5000.0, "green": 5000.0},
        },
        decision={
            "decision": "srm_alarm",
            "reasons": ["Sample ratio mismatch: p = 1.2e-15 < 0.001; results are not trustworthy."],
            "winner": None,
        },
    )
