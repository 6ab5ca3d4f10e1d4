"""One experiment's results document (docs/results.md) from its stored statistics.

Every report (the JSON API, CSV, Markdown, the HTML page, ``xp report``) renders this
document; the numbers all come from ``service.stats``. Corrections follow the issue's plan:
Holm over variants x primary metrics, Benjamini-Hochberg over secondary metrics and, per
metric, over the segment breakdowns (both labelled exploratory), none for guardrails; none at
all for ``method=bayesian``, whose comparisons the definition's ``bayesian`` rule judges.

The document is built once: each metric's raw results first, then the corrected p-values of
every family, then the frozen :class:`~xp.results.document.ResultsDocument`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

from xp.definitions.model import Definition, Metric
from xp.definitions.phases import store_view
from xp.results import progress as progress_of
from xp.results.arms import arm, mean_arm, variant_rows
from xp.results.comparison import comparison_of
from xp.results.document import (
    Cuped,
    ExperimentInfo,
    MetricResult,
    ResultsDocument,
    SegmentResult,
    SrmCheck,
    VariantWeight,
)
from xp.results.schedule import Dates, experiment_dates
from xp.results.series import Looks, daily_looks
from xp.results.windows import units_in_window
from xp.stats.bayesian import BayesianRule, BayesianSettings, bayesian_result
from xp.stats.cuped import cuped_compare
from xp.stats.decision import Direction, MetricComparison, Role, decide
from xp.stats.frequentist import (
    LiftMoments,
    LiftResult,
    frequentist_result,
    lift_moments,
)
from xp.stats.multiple import benjamini_hochberg, holm
from xp.stats.sequential import DEFAULT_TUNING, sequential_result
from xp.stats.srm import SrmResult, srm_test
from xp.stats.sufficient import ArmSummary, CovariateStats, finite_or_none
from xp.store import Store
from xp.store.model import ExperimentData, Slice, SufficientStats

__all__ = [
    "CORRECTIONS",
    "METHODS",
    "experiment_results",
    "results_document",
]

# The analyses a report can show.
METHODS = ("frequentist", "sequential", "bayesian")
# Below this many units in some variant the decision is ``insufficient_data``.
MIN_SAMPLE_PER_VARIANT = 100
CORRECTIONS = {"primary": "holm", "secondary": "bh", "guardrail": "none"}

Correction = Callable[[list[float]], Iterable[float]]


def experiment_results(
    definition: Definition,
    store: Store,
    method: str = "frequentist",
    alpha: float = 0.05,
    now: dt.datetime | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> ResultsDocument:
    """Read ``definition``'s statistics from ``store`` and build its results document.

    ``thresholds`` (``chance_to_win``, ``risk_threshold``) override the definition's
    Bayesian rule for this document (a request's query parameters)."""
    data = store.experiment_stats(store_view(definition))  # its phase's store experiment
    return results_document(definition, data, method, alpha, now, thresholds)


def results_document(
    definition: Definition,
    data: ExperimentData,
    method: str = "frequentist",
    alpha: float = 0.05,
    now: dt.datetime | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> ResultsDocument:
    """The results document of ``definition`` over already-read statistics ``data``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    analysis = _Analysis(
        definition, method, alpha, BayesianSettings.from_config(definition.config, thresholds)
    )
    variants = definition.variant_keys
    units = {v: int(data.units.get(v, 0)) for v in variants}
    srm = srm_test([units[v] for v in variants], definition.weights)

    overall = [analysis.overall(metric, data) for metric in definition.metrics]
    # A posterior needs no multiple-comparison correction: the Bayesian rule reads each alone.
    corrected = _corrected_overall(definition.metrics, overall, method != "bayesian")
    metrics = tuple(
        analysis.metric(metric, data, lifts, p)
        for metric, lifts, p in zip(definition.metrics, overall, corrected, strict=True)
    )

    # A variant at weight 0 takes no new units: it is reported, but the decision is about the
    # arms still open, and its sample cannot hold the decision at insufficient_data.
    open_arms = {v.key for v in definition.experiment.variants if v.weight > 0}
    judged = [
        MetricComparison(
            metric=metric.name,
            variant=variant,
            role=cast(Role, metric.role),
            direction=cast(Direction, metric.direction),
            result=result,
            p_value=p[variant],
            rule=analysis.bayesian.rule,
        )
        for metric, lifts, p in zip(definition.metrics, overall, corrected, strict=True)
        if metric.role in ("primary", "guardrail")
        for variant, result in lifts.results.items()
        if variant in open_arms
    ]
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
    metrics = tuple(
        replace(m, units_in_window=units_in_window(definition, d, data, generated))
        for m, d in zip(metrics, definition.metrics, strict=True)
    )
    info = _experiment(definition, experiment_dates(definition, data, generated))
    return ResultsDocument(
        experiment=replace(
            info,
            days_left=progress_of.days_left(definition, generated),
            daily_units=progress_of.daily_units(data),
            mde=progress_of.primary_mde(metrics, {v: units[v] for v in open_arms}, alpha),
            context=progress_of.context(definition),
        ),
        method=method,
        alpha=alpha,
        sequential_tuning=analysis.tuning,
        generated_at=generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        units=units,
        srm=_srm(srm, variants),
        decision=decision,
        diagnostics=dict(data.diagnostics),
        metrics=metrics,
        bayesian=analysis.bayesian.to_dict() if method == "bayesian" else None,
    )


@dataclass(frozen=True, slots=True)
class _Overall:
    """A metric's uncorrected result per treatment, and its daily looks when computed."""

    results: dict[str, LiftResult]
    looks: Looks | None


class _Analysis:
    """The per-metric computations of one document: one method, one alpha, one tuning."""

    def __init__(
        self, definition: Definition, method: str, alpha: float, bayesian: BayesianSettings
    ) -> None:
        self.definition = definition
        self.method = method
        self.alpha = alpha
        self.tuning = float(definition.planned_sample or DEFAULT_TUNING)
        self.bayesian = bayesian
        self.prior = bayesian.prior
        self.control = definition.variant_keys[0]
        self.treatments = definition.variant_keys[1:]

    @property
    def rule(self) -> BayesianRule:
        return self.bayesian.rule

    def arms(self, metric: Metric, stats: Mapping[str, SufficientStats]) -> dict[str, ArmSummary]:
        return {
            v: arm(metric, stats.get(v, SufficientStats())) for v in self.definition.variant_keys
        }

    def lift(self, control: ArmSummary, treatment: ArmSummary) -> LiftResult:
        return self.result(lift_moments(control, treatment))

    def result(self, moments: LiftMoments) -> LiftResult:
        """This document's method's intervals and p-values of one comparison's moments."""
        if self.method == "sequential":
            return sequential_result(moments, self.alpha, self.tuning)
        if self.method == "bayesian":
            return bayesian_result(moments, self.alpha, self.prior)
        return frequentist_result(moments, self.alpha)

    def lifts(self, arms: Mapping[str, ArmSummary]) -> dict[str, LiftResult]:
        return {v: self.lift(arms[self.control], arms[v]) for v in self.treatments}

    def overall(self, metric: Metric, data: ExperimentData) -> _Overall:
        arms = self.arms(metric, data.metrics.get(metric.name, {}))
        sequential = self.method == "sequential"
        looks = self.looks(metric, data.looks) if sequential or metric.role == "primary" else None
        results = self.lifts(arms)
        if looks is not None and sequential:
            # Sequentially, the overall result is the last look's: on the absolute scale the
            # running minimum p-value and running intersection, on the relative scale that
            # look's own confidence sequence (docs/stats.md, "Looks").
            results.update({v: r[-1] for v, r in looks.results.items() if r})
        return _Overall(results, looks)

    def metric(
        self,
        metric: Metric,
        data: ExperimentData,
        overall: _Overall,
        corrected: Mapping[str, float | None],
    ) -> MetricResult:
        stats = data.metrics.get(metric.name, {})
        cuped = self.cuped(metric, stats)
        comparisons = tuple(
            comparison_of(
                v, result, corrected[v], self.alpha, cuped.get(v), metric.direction, self.rule
            )
            for v, result in overall.results.items()
        )
        looks = overall.looks
        return MetricResult(
            name=metric.name,
            kind=metric.kind,
            role=metric.role,
            direction=metric.direction,
            exploratory=metric.role == "secondary",
            correction="none" if self.method == "bayesian" else CORRECTIONS[metric.role],
            variants=variant_rows(stats, self.arms(metric, stats)),
            comparisons=comparisons,
            series=looks.points() if looks is not None and metric.role == "primary" else (),
            segments=self.segments(metric, data.segments),
            display_name=metric.display_name,
            format=metric.format,
            currency=metric.currency,
            description=metric.description,
        )

    def cuped(self, metric: Metric, stats: Mapping[str, SufficientStats]) -> dict[str, Cuped]:
        """CUPED per treatment when every variant has units with a covariate; else none.

        GrowthBook's CUPED (``stats.cuped.cuped_compare``): theta pooled over each
        control-treatment pair, its regression-adjusted relative variance.
        """
        keys = self.definition.variant_keys
        per_variant = [stats.get(v, SufficientStats()) for v in keys]
        if metric.traits.has_denominator or not all(s.n_x > 0 for s in per_variant):
            return {}
        raw = [mean_arm(metric, s) for s in per_variant]
        covariates = [CovariateStats(s.sum_x, s.sum_x2, s.sum_xy) for s in per_variant]
        out = {}
        for i in range(1, len(per_variant)):
            adjusted = cuped_compare(raw, covariates, treatment=i)
            if adjusted.reason is not None:
                continue  # no covariate variance in this pair: nothing to adjust
            result = self.result(adjusted.moments)
            out[keys[i]] = Cuped(
                theta=finite_or_none(adjusted.theta),
                variance_reduction=finite_or_none(adjusted.variance_reduction),
                units_with_covariate={v: stats[v].n_x for v in keys},
                absolute=result.absolute,
                relative=result.relative,
                reason=result.reason,
            )
        return out

    def looks(self, metric: Metric, looks: Mapping[str, Slice]) -> Looks:
        """Each treatment's result at each real look: the statistics the store snapshotted at
        the end of each UTC day with writes, then the current totals (docs/stats.md)."""
        return daily_looks(
            metric,
            looks,
            self.definition.variant_keys,
            self.method,
            self.alpha,
            self.tuning,
            self.prior,
        )

    def segments(
        self, metric: Metric, segments: Mapping[str, Mapping[str, Slice]]
    ) -> tuple[SegmentResult, ...]:
        """Each segment value's comparisons, BH-corrected over all of this metric's segments."""
        pieces = [
            (name, value, piece, self.arms(metric, piece.metrics.get(metric.name, {})))
            for name, values in segments.items()
            for value, piece in values.items()
        ]
        lifts = [self.lifts(arms) for *_, arms in pieces]
        family = [result.p_value for one in lifts for result in one.values()]
        # A posterior is read alone (no correction), as the overall comparisons are.
        bayesian = self.method == "bayesian"
        adjusted = iter(family if bayesian else _correct(family, benjamini_hochberg))
        out = []
        for (name, value, piece, arms), one in zip(pieces, lifts, strict=True):
            comparisons = tuple(
                comparison_of(
                    v, result, next(adjusted), self.alpha, None, metric.direction, self.rule
                )
                for v, result in one.items()
            )
            out.append(
                SegmentResult(
                    segment=name,
                    value=value,
                    units={v: int(piece.units.get(v, 0)) for v in arms},
                    variants=variant_rows(piece.metrics.get(metric.name, {}), arms),
                    comparisons=comparisons,
                )
            )
        return tuple(out)


def _corrected_overall(
    metrics: Sequence[Metric], overall: Sequence[_Overall], correct_any: bool = True
) -> list[dict[str, float | None]]:
    """Per metric, each treatment's p-value after its role's correction (none: guardrails)."""
    corrected = [{v: r.p_value for v, r in o.results.items()} for o in overall]
    if not correct_any:
        return corrected
    for role, correct in (("primary", holm), ("secondary", benjamini_hochberg)):
        family = [(i, v) for i, m in enumerate(metrics) if m.role == role for v in corrected[i]]
        adjusted = _correct([corrected[i][v] for i, v in family], correct)
        for (i, v), p in zip(family, adjusted, strict=True):
            corrected[i][v] = p
    return corrected


def _correct(family: Sequence[float | None], correct: Correction) -> list[float | None]:
    """``family`` corrected as one family; ``None`` (untestable) stays ``None``."""
    tested = [p for p in family if p is not None]
    adjusted = iter(correct(tested) if tested else [])
    return [None if p is None else float(next(adjusted)) for p in family]


def _srm(srm: SrmResult, variants: Sequence[str]) -> SrmCheck:
    return SrmCheck(
        p_value=finite_or_none(srm.p_value),
        alarm=srm.alarm,
        threshold=srm.threshold,
        chi2=finite_or_none(srm.chi2),
        observed=dict(zip(variants, srm.observed, strict=True)),
        expected=dict(zip(variants, srm.expected, strict=True)),
    )


def _experiment(definition: Definition, dates: Dates) -> ExperimentInfo:
    experiment = definition.experiment
    return ExperimentInfo(
        key=definition.key,
        name=definition.name,
        status=definition.status,
        winner=experiment.winner,
        hypothesis=definition.hypothesis,
        owner=definition.owner,
        start=dates.start,
        end=dates.end,
        planned_sample=definition.planned_sample,
        variants=tuple(VariantWeight(v.key, v.weight) for v in experiment.variants),
        segments=tuple(definition.segments),
        metrics=tuple(m.name for m in definition.metrics),
        first_exposure_day=dates.first_exposure_day,
        last_exposure_day=dates.last_exposure_day,
        days_running=dates.days_running,
        phase=definition.phase,
    )
