"""One experiment's results document (docs/results.md) from its stored statistics.

Every report (the JSON API, CSV, Markdown, the HTML page, ``xp report``) renders this
document; the numbers all come from ``service.stats``. Corrections follow the issue's plan:
Holm over variants x primary metrics, Benjamini-Hochberg over secondary metrics and, per
metric, over the segment breakdowns (both labelled exploratory), none for guardrails.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from xp.definitions.model import Definition, Metric
from xp.stats.cuped import cuped_adjust
from xp.stats.decision import MetricComparison, decide
from xp.stats.frequentist import LiftResult, frequentist_lift
from xp.stats.multiple import benjamini_hochberg, holm
from xp.stats.sequential import DEFAULT_TUNING, sequential_lift, sequential_series
from xp.stats.srm import srm_test
from xp.stats.sufficient import (
    ArmSummary,
    CovariateStats,
    MeanStats,
    ProportionStats,
    RatioStats,
    finite_or_none,
    json_safe,
)
from xp.store import Store
from xp.store.model import ExperimentData, Slice, SufficientStats

# The analyses a report can show.
METHODS = ("frequentist", "sequential")
# Below this many units in some variant the decision is ``insufficient_data``.
MIN_SAMPLE_PER_VARIANT = 100
CORRECTIONS = {"primary": "holm", "secondary": "bh", "guardrail": "none"}


def experiment_results(
    definition: Definition,
    store: Store,
    method: str = "frequentist",
    alpha: float = 0.05,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Read ``definition``'s statistics from ``store`` and build its results document."""
    return results_document(definition, store.experiment_stats(definition), method, alpha, now)


def results_document(
    definition: Definition,
    data: ExperimentData,
    method: str = "frequentist",
    alpha: float = 0.05,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The results document of ``definition`` over already-read statistics ``data``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    analysis = _Analysis(definition, method, alpha)
    variants = definition.variant_keys
    units = {v: int(data.units.get(v, 0)) for v in variants}
    srm = srm_test([units[v] for v in variants], definition.weights)

    metrics = [analysis.metric(metric, data) for metric in definition.metrics]
    _correct(metrics, alpha)
    for document in metrics:
        _correct_segments(document, alpha)

    # A variant at weight 0 takes no new units: it is reported, but the decision is about the
    # arms still open, and its sample cannot hold the decision at insufficient_data.
    open_arms = {v.key for v in definition.experiment.variants if v.weight > 0}
    judged = []
    for m in metrics:
        for c in m["comparisons"]:
            result = c.pop("_result")
            if m["role"] in ("primary", "guardrail") and c["variant"] in open_arms:
                judged.append(
                    MetricComparison(
                        metric=m["name"],
                        variant=c["variant"],
                        role=m["role"],
                        direction=m["direction"],
                        result=result,
                        p_value=c["p_value_corrected"],
                    )
                )
    planned = definition.planned_sample
    decision = decide(
        judged,
        {v: n for v, n in units.items() if v in open_arms},
        srm,
        alpha,
        min_sample=MIN_SAMPLE_PER_VARIANT,
        # every variant reached its share of the plan when the smallest share did
        planned_sample=planned * min(w for w in definition.weights if w > 0) if planned else None,
    )
    generated = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return json_safe(
        {
            "experiment": _experiment(definition),
            "method": method,
            "alpha": alpha,
            "sequential_tuning": analysis.tuning,
            "generated_at": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "units": units,
            "srm": srm.to_dict(variants),
            "decision": decision.to_dict(),
            "diagnostics": dict(data.diagnostics),
            "metrics": metrics,
        }
    )


class _Analysis:
    """The per-metric computations of one document: one method, one alpha, one tuning."""

    def __init__(self, definition: Definition, method: str, alpha: float) -> None:
        self.definition = definition
        self.method = method
        self.alpha = alpha
        self.tuning = float(definition.planned_sample or DEFAULT_TUNING)
        self.control = definition.variant_keys[0]
        self.treatments = definition.variant_keys[1:]

    def arms(self, metric: Metric, stats: Mapping[str, SufficientStats]) -> dict[str, ArmSummary]:
        return {
            v: arm(metric, stats.get(v, SufficientStats())) for v in self.definition.variant_keys
        }

    def lift(self, control: ArmSummary, treatment: ArmSummary) -> LiftResult:
        if self.method == "sequential":
            return sequential_lift(control, treatment, self.alpha, self.tuning)
        return frequentist_lift(control, treatment, self.alpha)

    def metric(self, metric: Metric, data: ExperimentData) -> dict[str, Any]:
        stats = data.metrics.get(metric.name, {})
        arms = self.arms(metric, stats)
        sequential = self.method == "sequential"
        looks = self.looks(metric, data.days) if sequential or metric.role == "primary" else None
        # Sequentially, the overall result is the last look's: its p-value the running minimum
        # and its interval the running intersection, so peeking daily is accounted for.
        final = {v: r[-1] for v, r in looks.results.items() if r} if looks and sequential else {}
        comparisons = self.comparisons(arms, final)
        cuped = self.cuped(metric, stats)
        for comparison, adjusted in zip(comparisons, cuped, strict=True):
            comparison["cuped"] = adjusted
        return {
            "name": metric.name,
            "kind": metric.kind,
            "role": metric.role,
            "direction": metric.direction,
            "exploratory": metric.role == "secondary",
            "correction": CORRECTIONS[metric.role],
            "variants": _variant_rows(stats, arms),
            "comparisons": comparisons,
            "series": looks.points() if looks and metric.role == "primary" else [],
            "segments": self.segments(metric, data.segments),
        }

    def comparisons(
        self, arms: Mapping[str, ArmSummary], final: Mapping[str, LiftResult] | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for variant in self.treatments:
            result = (final or {}).get(variant) or self.lift(arms[self.control], arms[variant])
            out.append(
                {
                    "variant": variant,
                    **result.to_dict(),
                    "p_value_corrected": result.p_value,
                    "significant": False,
                    "cuped": None,
                    "_result": result,
                }
            )
        return out

    def cuped(
        self, metric: Metric, stats: Mapping[str, SufficientStats]
    ) -> list[dict[str, Any] | None]:
        """CUPED per treatment when every variant has units with a covariate; else ``None``."""
        per_variant = [stats.get(v, SufficientStats()) for v in self.definition.variant_keys]
        if metric.kind == "ratio" or not all(s.n_x > 0 for s in per_variant):
            return [None] * len(self.treatments)
        raw = [_mean_arm(metric, s) for s in per_variant]
        covariates = [CovariateStats(s.sum_x, s.sum_x2, s.sum_xy) for s in per_variant]
        adjusted = cuped_adjust(raw, covariates)
        if adjusted.reason is not None:
            return [None] * len(self.treatments)
        out: list[dict[str, Any] | None] = []
        for i in range(1, len(per_variant)):
            result = self.lift(adjusted.arms[0], adjusted.arms[i])
            out.append(
                {
                    "theta": adjusted.theta,
                    "variance_reduction": adjusted.variance_reduction(i),
                    "units_with_covariate": {v: stats[v].n_x for v in self.definition.variant_keys},
                    **result.to_dict(),
                }
            )
        return out

    def looks(self, metric: Metric, days: Mapping[str, Slice]) -> _Looks:
        """Each treatment's result on the statistics cumulated up to each UTC day of exposure."""
        dates = list(days)
        cumulative: list[dict[str, ArmSummary]] = []
        units: list[dict[str, int]] = []
        running: dict[str, SufficientStats] = {}
        for date in dates:
            day = days[date].metrics.get(metric.name, {})
            for variant in self.definition.variant_keys:
                running[variant] = _add(running.get(variant, SufficientStats()), day.get(variant))
            cumulative.append({v: arm(metric, s) for v, s in running.items()})
            units.append({v: s.n for v, s in running.items()})
        results = {}
        for variant in self.treatments:
            pairs = [(arms[self.control], arms[variant]) for arms in cumulative]
            if self.method == "sequential":
                results[variant] = sequential_series(pairs, self.alpha, self.tuning)
            else:
                results[variant] = [frequentist_lift(c, t, self.alpha) for c, t in pairs]
        return _Looks(self.control, dates, units, results)

    def segments(
        self, metric: Metric, segments: Mapping[str, Mapping[str, Slice]]
    ) -> list[dict[str, Any]]:
        out = []
        for name, values in segments.items():
            for value, piece in values.items():
                stats = piece.metrics.get(metric.name, {})
                arms = self.arms(metric, stats)
                comparisons = self.comparisons(arms)
                for c in comparisons:
                    del c["_result"]
                out.append(
                    {
                        "segment": name,
                        "value": value,
                        "units": {v: int(piece.units.get(v, 0)) for v in arms},
                        "variants": _variant_rows(stats, arms),
                        "comparisons": comparisons,
                    }
                )
        return out


@dataclass(frozen=True)
class _Looks:
    """The daily looks at one metric: dates, cumulative units, each treatment's results."""

    control: str
    dates: list[str]
    units: list[dict[str, int]]
    results: dict[str, list[LiftResult]]

    def points(self) -> list[dict[str, Any]]:
        """The series: one point per (treatment, day)."""
        return [
            {
                "date": date,
                "variant": variant,
                "units": n[variant],
                "control_units": n[self.control],
                "relative": _band(result, "relative"),
                "absolute": _band(result, "absolute"),
                "p_value": result.p_value,
            }
            for variant, results in self.results.items()
            for date, n, result in zip(self.dates, self.units, results, strict=True)
        ]


def arm(metric: Metric, stats: SufficientStats) -> ArmSummary:
    """The statistics engine's view of one variant's sums for ``metric``'s kind."""
    if metric.kind == "ratio":
        return RatioStats(
            stats.n,
            stats.sum,
            stats.sum_squares,
            stats.den_sum,
            stats.den_sum_squares,
            stats.sum_product,
        )
    return _mean_arm(metric, stats)


def _mean_arm(metric: Metric, stats: SufficientStats) -> MeanStats | ProportionStats:
    if metric.kind in ("binomial", "retention"):
        return ProportionStats(stats.n, stats.sum)
    return MeanStats(stats.n, stats.sum, stats.sum_squares)


def _add(total: SufficientStats, more: SufficientStats | None) -> SufficientStats:
    if more is None:
        return total
    return SufficientStats(
        **{f.name: getattr(total, f.name) + getattr(more, f.name) for f in fields(SufficientStats)}
    )


def _variant_rows(
    stats: Mapping[str, SufficientStats], arms: Mapping[str, ArmSummary]
) -> list[dict[str, Any]]:
    return [_variant_row(v, stats.get(v, SufficientStats()), a) for v, a in arms.items()]


def _variant_row(variant: str, stats: SufficientStats, summary: ArmSummary) -> dict[str, Any]:
    moments = summary.moments()
    row: dict[str, Any] = {
        "variant": variant,
        "units": stats.n,
        "sum": stats.sum,
        "mean": finite_or_none(moments.mean),
        "sd": finite_or_none(math.sqrt(moments.variance)) if moments.variance >= 0 else None,
    }
    if isinstance(summary, RatioStats):
        row["denominator_sum"] = stats.den_sum
    return row


def _band(result: LiftResult, scale: str) -> dict[str, float | None]:
    estimate = getattr(result, scale)
    return {"estimate": estimate.estimate, "ci_low": estimate.ci_low, "ci_high": estimate.ci_high}


def _correct(metrics: Sequence[dict[str, Any]], alpha: float) -> None:
    """Holm over every primary comparison, BH over every secondary one, none for guardrails."""
    for role, correct in (("primary", holm), ("secondary", benjamini_hochberg)):
        family = [c for m in metrics if m["role"] == role for c in m["comparisons"]]
        _apply(family, correct)
    for m in metrics:
        for c in m["comparisons"]:
            _mark(c, alpha)


def _correct_segments(metric: dict[str, Any], alpha: float) -> None:
    family = [c for segment in metric["segments"] for c in segment["comparisons"]]
    _apply(family, benjamini_hochberg)
    for c in family:
        _mark(c, alpha)


def _apply(family: Sequence[dict[str, Any]], correct: Any) -> None:
    tested = [c for c in family if c["p_value_corrected"] is not None]
    if not tested:
        return
    adjusted = correct([c["p_value_corrected"] for c in tested])
    for c, p in zip(tested, adjusted, strict=True):
        c["p_value_corrected"] = float(p)


def _mark(comparison: dict[str, Any], alpha: float) -> None:
    p = comparison["p_value_corrected"]
    comparison["significant"] = p is not None and p < alpha


def _experiment(definition: Definition) -> dict[str, Any]:
    experiment = definition.experiment
    return {
        "key": definition.key,
        "name": definition.name,
        "status": definition.status,
        "winner": experiment.winner,
        "hypothesis": definition.hypothesis,
        "owner": definition.owner,
        "start": definition.start.isoformat() if definition.start else None,
        "end": definition.end.isoformat() if definition.end else None,
        "planned_sample": definition.planned_sample,
        "variants": [{"key": v.key, "weight": v.weight} for v in experiment.variants],
        "segments": list(definition.segments),
        "metrics": [m.name for m in definition.metrics],
    }
