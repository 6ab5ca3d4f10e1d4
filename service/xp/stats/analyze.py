"""``analyze(request) -> dict``: sufficient statistics in, lift out.

The one entry point behind ``xp analyze`` and ``POST /v1/analyze``. The first variant is the
control; every other variant is compared with it, by Welch/delta method (``frequentist``) or
by the always-valid confidence sequence (``sequential``), with Holm-corrected p-values across
the treatments, or by GrowthBook's effect-based Bayesian test (``bayesian``: posterior, chance
to win and risk read with ``direction``, a Gaussian ``prior`` on the relative lift, and the
decision rule's thresholds under ``bayesian``: each treatment's ``significant`` and the
``rule`` that fired, see :class:`~xp.stats.bayesian.BayesianRule`), an SRM
check when ``weights`` are given, and CUPED when every variant carries
a pre-period ``covariate`` (GrowthBook's: ``cuped_compare``, theta pooled per pair). A
degenerate comparison answers ``reason: insufficient_data`` with null p-values and intervals
(``sufficiency.py``). Request::

    {"metric": {"kind": "mean" | "proportion", "name"?: str},
     "alpha"?: 0.05, "method"?: "frequentist" | "sequential" | "bayesian",
     "sequential_tuning"?: 5000, "prior"?: {"mean": 0, "variance": 1, "proper": false},
     "bayesian"?: {"chance_to_win": 0.95, "risk_threshold": 0.0025},
     "direction"?: "increase" | "decrease",
     "weights"?: [0.5, 0.5],
     "variants": [{"key": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767,
                   "covariate"?: {"sum": ..., "sum_squares": ..., "sum_product": ...}}, ...]}

Proportion variants have no ``sum_squares``. Bad input raises :class:`AnalyzeInputError`
whose ``errors`` map field paths (``variants.1.n``) to messages. The output holds no NaN:
what cannot be computed is ``null``, with a ``reason`` code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from xp.stats.bayesian import (
    DEFAULT_CHANCE_TO_WIN,
    DEFAULT_RISK_THRESHOLD,
    BayesianRule,
    BayesianSettings,
    GaussianPrior,
    bayesian_result,
    readings,
)
from xp.stats.cuped import cuped_compare
from xp.stats.frequentist import LiftMoments, LiftResult, frequentist_result, lift_moments
from xp.stats.multiple import holm
from xp.stats.sequential import DEFAULT_TUNING, sequential_result
from xp.stats.srm import srm_test
from xp.stats.sufficient import (
    CovariateStats,
    MeanStats,
    ProportionStats,
    json_safe,
)
from xp.validation import messages_by_path


class AnalyzeInputError(ValueError):
    """The request is not a valid analysis; ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        path, messages = next(iter(errors.items()))
        super().__init__(f"{path or 'request'}: {messages[0]}")


def _whole(value: float) -> None:
    if value != math.floor(value):
        raise ValidationError("Must be a whole number.")


class FiniteFloat(fields.Float):
    """A number that is not NaN or infinite."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)


class CovariateSchema(Schema):
    sum = FiniteFloat(required=True)
    sum_squares = FiniteFloat(required=True, validate=validate.Range(min=0))
    sum_product = FiniteFloat(required=True)


class VariantSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1))
    n = FiniteFloat(required=True, validate=[validate.Range(min=0), _whole])
    sum = FiniteFloat(required=True)
    sum_squares = FiniteFloat(validate=validate.Range(min=0))
    covariate = fields.Nested(CovariateSchema)


class MetricSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["mean", "proportion"]))
    name = fields.String()


class PriorSchema(Schema):
    mean = FiniteFloat(load_default=0.0)
    variance = FiniteFloat(load_default=1.0, validate=validate.Range(min=0, min_inclusive=False))
    proper = fields.Boolean(load_default=False)


class RuleSchema(Schema):
    """The Bayesian decision rule's thresholds (GrowthBook's defaults)."""

    chance_to_win = FiniteFloat(
        load_default=DEFAULT_CHANCE_TO_WIN,
        validate=validate.Range(min=0.5, max=1, max_inclusive=False),
    )
    risk_threshold = FiniteFloat(
        load_default=DEFAULT_RISK_THRESHOLD, validate=validate.Range(min=0)
    )


class AnalyzeSchema(Schema):
    metric = fields.Nested(MetricSchema, required=True)
    alpha = FiniteFloat(
        load_default=0.05,
        validate=validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False),
    )
    method = fields.String(
        load_default="frequentist",
        validate=validate.OneOf(["frequentist", "sequential", "bayesian"]),
    )
    prior = fields.Nested(PriorSchema)  # bayesian: a Gaussian prior on the relative lift
    bayesian = fields.Nested(RuleSchema, load_default=dict)  # bayesian: the decision rule
    direction = fields.String(
        load_default="increase", validate=validate.OneOf(("increase", "decrease"))
    )
    sequential_tuning = FiniteFloat(
        load_default=DEFAULT_TUNING, validate=validate.Range(min=0, min_inclusive=False)
    )
    weights = fields.List(FiniteFloat(validate=validate.Range(min=0)))
    variants = fields.List(
        fields.Nested(VariantSchema), required=True, validate=validate.Length(min=2)
    )

    @validates_schema(skip_on_field_errors=True)
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        variants: list[dict[str, Any]] = data["variants"]
        kind = data["metric"]["kind"]
        per_variant: dict[int, dict[str, list[str]]] = {}

        def fail(i: int, name: str, message: str) -> None:
            per_variant.setdefault(i, {}).setdefault(name, []).append(message)

        seen: set[str] = set()
        with_covariate = sum("covariate" in v for v in variants)
        for i, v in enumerate(variants):
            n, total = v["n"], v["sum"]
            if v["key"] in seen:
                fail(i, "key", f"Duplicate variant key {v['key']!r}.")
            seen.add(v["key"])
            if kind == "proportion":
                if "sum_squares" in v:
                    fail(i, "sum_squares", "Not used for a proportion metric; leave it out.")
                if not 0 <= total <= n:
                    fail(i, "sum", f"Must be between 0 and n ({n:g}) for a proportion metric.")
            elif "sum_squares" not in v:
                fail(i, "sum_squares", "Missing data for required field.")
            elif n == 0 and total != 0:
                fail(i, "sum", "Must be 0 when n is 0.")
            elif n > 0 and total * total > n * v["sum_squares"] * (1 + 1e-9) + 1e-9:
                fail(i, "sum_squares", "Smaller than sum**2 / n: no data has these sums.")
            if 0 < with_covariate < len(variants) and "covariate" not in v:
                fail(i, "covariate", "Give a covariate for every variant or for none.")
        if per_variant:
            errors["variants"] = per_variant
        weights = data.get("weights")
        if weights is not None:
            if len(weights) != len(variants):
                errors["weights"] = [f"Must have one weight per variant ({len(variants)})."]
            elif not sum(weights) > 0:
                errors["weights"] = ["At least one weight must be positive."]
        if errors:
            raise ValidationError(errors)


def _arm(kind: str, variant: Mapping[str, Any]) -> MeanStats | ProportionStats:
    if kind == "proportion":
        return ProportionStats(variant["n"], variant["sum"])
    return MeanStats(variant["n"], variant["sum"], variant["sum_squares"])


ANALYZE_SCHEMA = AnalyzeSchema()  # built once: a schema is reusable across threads


def analyze(request: Any) -> dict[str, Any]:
    """Validate ``request`` and return the analysis document (see the module docstring)."""
    try:
        data = ANALYZE_SCHEMA.load(request)
    except ValidationError as exc:
        errors = messages_by_path(exc.messages)
        raise AnalyzeInputError(errors or {"": ["Invalid input."]}) from None

    kind: str = data["metric"]["kind"]
    alpha: float = data["alpha"]
    method: str = data["method"]
    tuning: float = data["sequential_tuning"]
    variants: list[dict[str, Any]] = data["variants"]
    for v in variants:
        v["n"] = int(v["n"])  # validated whole and finite
    raw = [_arm(kind, v) for v in variants]

    prior = GaussianPrior(**data["prior"]) if "prior" in data else GaussianPrior()
    settings = BayesianSettings(prior, BayesianRule(**data["bayesian"]))

    def lift(moments: LiftMoments) -> LiftResult:
        if method == "sequential":
            return sequential_result(moments, alpha, tuning)
        if method == "bayesian":
            return bayesian_result(moments, alpha, prior)
        return frequentist_result(moments, alpha)

    results = [lift(lift_moments(raw[0], arm)) for arm in raw[1:]]
    # A posterior needs no multiple-comparison correction (docs/results.md, Bayesian method).
    tails = [r.p_value for r in results]
    corrected: Sequence[float] = (
        [math.nan if p is None else p for p in tails]
        if method == "bayesian"
        else [float(p) for p in holm(tails)]
    )

    covariates: list[CovariateStats | None] | None = None
    if "covariate" in variants[0]:
        covariates = [
            CovariateStats(
                v["covariate"]["sum"], v["covariate"]["sum_squares"], v["covariate"]["sum_product"]
            )
            for v in variants
        ]

    rows = []
    for i, (variant, result) in enumerate(zip(variants[1:], results, strict=True), start=1):
        row = {"variant": variant["key"], **result.to_dict()}
        row["p_value_corrected"] = float(corrected[i - 1])  # nan (null) when untested
        row["cuped"] = None
        if method == "bayesian":
            row["bayesian"] = readings(result.relative, data["direction"])
            verdict = settings.rule.judge_result(result, data["direction"])
            row["significant"] = verdict.outcome is not None
            row["rule"] = verdict.text
        if covariates is not None:
            # GrowthBook's CUPED: theta pooled over this control-treatment pair
            cuped = cuped_compare(raw, covariates, treatment=i)
            if cuped.reason is not None:
                # Covariates were given but cannot adjust (e.g. no variance): say so.
                row["cuped"] = {"applied": False, "reason": cuped.reason}
            else:
                row["cuped"] = {
                    "applied": True,
                    "theta": cuped.theta,
                    "variance_reduction": cuped.variance_reduction,
                    **lift(cuped.moments).to_dict(),
                }
        rows.append(row)

    document: dict[str, Any] = {
        "metric": data["metric"],
        "method": method,
        "alpha": alpha,
        "sequential_tuning": tuning,
        "correction": "none" if method == "bayesian" else "holm",
        "variants": [
            {
                "variant": v["key"],
                "units": v["n"],
                "mean": arm.mean,
                "sd": math.sqrt(arm.variance) if arm.variance >= 0 else None,
            }
            for v, arm in zip(variants, raw, strict=True)
        ],
        "results": rows,
    }
    if method == "bayesian":
        document["bayesian"] = settings.to_dict()
    if "weights" in data:
        srm = srm_test([v["n"] for v in variants], data["weights"])
        document["srm"] = srm.to_dict([v["key"] for v in variants])
    return json_safe(document)
