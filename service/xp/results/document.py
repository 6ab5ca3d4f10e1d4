"""The results document (docs/results.md) as frozen dataclasses, and its one JSON shape.

:func:`xp.results.build.experiment_results` builds a :class:`ResultsDocument` once; every
renderer reads its attributes. :meth:`ResultsDocument.as_dict` is the JSON the API serves,
and :meth:`ResultsDocument.from_dict` reads that JSON back (tests, saved reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from xp.stats.decision import Decision
from xp.stats.frequentist import Estimate, tested_scale
from xp.stats.sufficient import json_safe


@dataclass(frozen=True, slots=True)
class VariantWeight:
    key: str
    weight: float


@dataclass(frozen=True, slots=True)
class ExperimentInfo:
    """What the definition says about the experiment, as the report shows it."""

    key: str
    name: str
    status: str
    winner: str | None
    hypothesis: str
    owner: str
    start: str | None  # the planned window [start, end), ISO 8601 UTC instants
    end: str | None
    planned_sample: int | None
    variants: tuple[VariantWeight, ...]
    segments: tuple[str, ...]
    metrics: tuple[str, ...]
    # The actual UTC days units were first exposed on, and the days running (xp.results.schedule).
    first_exposure_day: str | None = None
    last_exposure_day: str | None = None
    days_running: float | None = None
    # Progress (xp.results.progress): days left of the planned window, units first exposed per
    # UTC day (all arms), the primary metric's relative MDE reachable now (80% power).
    days_left: float | None = None
    daily_units: Mapping[str, int] = field(default_factory=dict)
    mde: float | None = None
    # The definition's unit, coverage, targeting, layer and variant payloads (as its JSON).
    context: Mapping[str, Any] = field(default_factory=dict)
    phase: int = 1  # the phase these results are of (1 in documents saved before it existed)

    @property
    def control(self) -> str | None:
        return self.variants[0].key if self.variants else None


@dataclass(frozen=True, slots=True)
class SrmCheck:
    """The sample ratio test with its counts keyed by variant."""

    p_value: float | None
    alarm: bool
    threshold: float
    chi2: float | None
    observed: Mapping[str, float]
    expected: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class VariantRow:
    """One variant's sums for one metric; ``denominator_sum`` for ratio metrics only."""

    variant: str
    units: int
    sum: float
    mean: float | None
    sd: float | None
    denominator_sum: float | None = None


@dataclass(frozen=True, slots=True)
class Cuped:
    """The CUPED-adjusted lift of one treatment, reported beside the unadjusted one."""

    theta: float | None
    variance_reduction: float | None
    units_with_covariate: Mapping[str, int]
    absolute: Estimate
    relative: Estimate
    reason: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment against the control: its lift and the corrected p-value."""

    variant: str
    absolute: Estimate
    relative: Estimate
    reason: str | None
    p_value_corrected: float | None
    significant: bool
    cuped: Cuped | None = None
    bayesian: Mapping[str, float] | None = None  # chance_to_win, risk_treatment, risk_control
    rule: str | None = None  # method=bayesian: the rule's verdict ("chance to win 97.1% >= 95%")


@dataclass(frozen=True, slots=True)
class Band:
    """A series point's estimate and interval on one scale."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One treatment's cumulative result up to one UTC day (``reason``: insufficient_data)."""

    date: str
    variant: str
    units: int
    control_units: int
    relative: Band
    absolute: Band
    p_value: float | None
    reason: str | None = None
    chance_to_win: float | None = None  # method=bayesian, read with the metric's direction


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """One value of one segment: its units, variant rows and (BH-corrected) comparisons."""

    segment: str
    value: str
    units: Mapping[str, int]
    variants: tuple[VariantRow, ...]
    comparisons: tuple[Comparison, ...]


LABELS = ("display_name", "format", "currency", "description")


@dataclass(frozen=True, slots=True)
class MetricResult:
    name: str
    kind: str
    role: str
    direction: str
    exploratory: bool
    correction: str  # holm, bh or none
    variants: tuple[VariantRow, ...]
    comparisons: tuple[Comparison, ...]
    series: tuple[SeriesPoint, ...]
    segments: tuple[SegmentResult, ...]
    # The labels the definition gives (definitions.model.Metric, LABELS); saved documents
    # lack them.
    display_name: str = ""
    format: str | None = None
    currency: str | None = None
    description: str = ""
    units_in_window: Mapping[str, int] | None = None  # xp.results.windows; None: no window

    @property
    def label(self) -> str:
        """What people read: the display name, else the metric's name."""
        return self.display_name or self.name

    def comparison(self, variant: str) -> Comparison | None:
        """The comparison of treatment ``variant``; ``None`` for the control."""
        return next((c for c in self.comparisons if c.variant == variant), None)


@dataclass(frozen=True, slots=True)
class ResultsDocument:
    experiment: ExperimentInfo
    method: str
    alpha: float
    sequential_tuning: float
    generated_at: str
    units: Mapping[str, int]
    srm: SrmCheck
    decision: Decision
    diagnostics: Mapping[str, int]
    metrics: tuple[MetricResult, ...]
    # method=bayesian: {"prior": {mean, variance, proper}, "chance_to_win", "risk_threshold"}
    bayesian: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of docs/results.md (non-finite numbers as ``None``)."""
        e = self.experiment
        return json_safe(
            {
                "experiment": _info_dict(e),
                "method": self.method,
                "alpha": self.alpha,
                "sequential_tuning": self.sequential_tuning,
                "generated_at": self.generated_at,
                "units": dict(self.units),
                "srm": {
                    "p_value": self.srm.p_value,
                    "alarm": self.srm.alarm,
                    "threshold": self.srm.threshold,
                    "chi2": self.srm.chi2,
                    "observed": dict(self.srm.observed),
                    "expected": dict(self.srm.expected),
                },
                "decision": self.decision.to_dict(),
                "diagnostics": dict(self.diagnostics),
                "metrics": [_metric_dict(m) for m in self.metrics],
                "bayesian": None if self.bayesian is None else dict(self.bayesian),
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultsDocument:
        """The document of :meth:`as_dict`'s JSON (the inverse: ``from_dict(d.as_dict()) == d``)."""
        e = data["experiment"]
        srm = data["srm"]
        decision = data["decision"]
        return cls(
            experiment=_info_of(e),
            method=data["method"],
            alpha=data["alpha"],
            sequential_tuning=data["sequential_tuning"],
            generated_at=data["generated_at"],
            units=dict(data["units"]),
            srm=SrmCheck(
                p_value=srm["p_value"],
                alarm=srm["alarm"],
                threshold=srm["threshold"],
                chi2=srm["chi2"],
                observed=dict(srm["observed"]),
                expected=dict(srm["expected"]),
            ),
            decision=Decision(decision["decision"], tuple(decision["reasons"]), decision["winner"]),
            diagnostics=dict(data["diagnostics"]),
            metrics=tuple(_metric_of(m) for m in data["metrics"]),
            bayesian=data.get("bayesian"),  # absent in documents saved before it existed
        )


def _info_dict(e: ExperimentInfo) -> dict[str, Any]:
    plain = {f.name: getattr(e, f.name) for f in fields(ExperimentInfo)}
    variants = [{"key": v.key, "weight": v.weight} for v in e.variants]
    sequences = {"segments": list(e.segments), "metrics": list(e.metrics)}
    return {**plain, "variants": variants, **sequences, "daily_units": dict(e.daily_units)}


def _info_of(e: Mapping[str, Any]) -> ExperimentInfo:
    """Fields a saved document lacks (``days_running``, ...) take their defaults."""
    known = {f.name: e[f.name] for f in fields(ExperimentInfo) if f.name in e}
    variants = tuple(VariantWeight(v["key"], v["weight"]) for v in e["variants"])
    sequences = {"segments": tuple(e["segments"]), "metrics": tuple(e["metrics"])}
    return ExperimentInfo(**{**known, "variants": variants, **sequences})


def _metric_dict(m: MetricResult) -> dict[str, Any]:
    return {
        "name": m.name,
        "kind": m.kind,
        "role": m.role,
        "direction": m.direction,
        "exploratory": m.exploratory,
        "correction": m.correction,
        **{name: getattr(m, name) for name in LABELS},
        "units_in_window": None if m.units_in_window is None else dict(m.units_in_window),
        "variants": [_row_dict(r) for r in m.variants],
        "comparisons": [_comparison_dict(c) for c in m.comparisons],
        "series": [_point_dict(p) for p in m.series],
        "segments": [
            {
                "segment": s.segment,
                "value": s.value,
                "units": dict(s.units),
                "variants": [_row_dict(r) for r in s.variants],
                "comparisons": [_comparison_dict(c) for c in s.comparisons],
            }
            for s in m.segments
        ],
    }


def _metric_of(m: Mapping[str, Any]) -> MetricResult:
    return MetricResult(
        name=m["name"],
        kind=m["kind"],
        role=m["role"],
        direction=m["direction"],
        exploratory=m["exploratory"],
        correction=m["correction"],
        **{name: m[name] for name in LABELS if name in m},
        units_in_window=m.get("units_in_window"),
        variants=tuple(_row_of(r) for r in m["variants"]),
        comparisons=tuple(_comparison_of(c) for c in m["comparisons"]),
        series=tuple(_point_of(p) for p in m["series"]),
        segments=tuple(
            SegmentResult(
                segment=s["segment"],
                value=s["value"],
                units=dict(s["units"]),
                variants=tuple(_row_of(r) for r in s["variants"]),
                comparisons=tuple(_comparison_of(c) for c in s["comparisons"]),
            )
            for s in m["segments"]
        ),
    )


def _row_dict(r: VariantRow) -> dict[str, Any]:
    row = {"variant": r.variant, "units": r.units, "sum": r.sum, "mean": r.mean, "sd": r.sd}
    if r.denominator_sum is not None:
        row["denominator_sum"] = r.denominator_sum
    return row


def _row_of(r: Mapping[str, Any]) -> VariantRow:
    return VariantRow(
        r["variant"], r["units"], r["sum"], r["mean"], r["sd"], r.get("denominator_sum")
    )


def _comparison_dict(c: Comparison) -> dict[str, Any]:
    cuped = c.cuped
    return {
        "variant": c.variant,
        "absolute": c.absolute.to_dict(),
        "relative": c.relative.to_dict(),
        "reason": c.reason,
        "p_value_corrected": c.p_value_corrected,
        "tested_scale": tested_scale(c.absolute, c.relative),
        "significant": c.significant,
        "bayesian": None if c.bayesian is None else dict(c.bayesian),
        "rule": c.rule,
        "cuped": None
        if cuped is None
        else {
            "theta": cuped.theta,
            "variance_reduction": cuped.variance_reduction,
            "units_with_covariate": dict(cuped.units_with_covariate),
            "absolute": cuped.absolute.to_dict(),
            "relative": cuped.relative.to_dict(),
            "reason": cuped.reason,
        },
    }


def _comparison_of(c: Mapping[str, Any]) -> Comparison:
    cuped = c["cuped"]
    return Comparison(
        variant=c["variant"],
        absolute=_estimate_of(c["absolute"]),
        relative=_estimate_of(c["relative"]),
        reason=c["reason"],
        p_value_corrected=c["p_value_corrected"],
        significant=c["significant"],
        bayesian=c.get("bayesian"),
        rule=c.get("rule"),
        cuped=None
        if cuped is None
        else Cuped(
            theta=cuped["theta"],
            variance_reduction=cuped["variance_reduction"],
            units_with_covariate=dict(cuped["units_with_covariate"]),
            absolute=_estimate_of(cuped["absolute"]),
            relative=_estimate_of(cuped["relative"]),
            reason=cuped["reason"],
        ),
    )


def _estimate_of(e: Mapping[str, Any]) -> Estimate:
    return Estimate(e["estimate"], e["se"], e["ci_low"], e["ci_high"], e["p_value"])


def _point_dict(p: SeriesPoint) -> dict[str, Any]:
    plain = {f.name: getattr(p, f.name) for f in fields(SeriesPoint)}
    return plain | {"relative": _band_dict(p.relative), "absolute": _band_dict(p.absolute)}


def _point_of(p: Mapping[str, Any]) -> SeriesPoint:
    return SeriesPoint(
        date=p["date"],
        variant=p["variant"],
        units=p["units"],
        control_units=p["control_units"],
        relative=Band(**p["relative"]),
        absolute=Band(**p["absolute"]),
        p_value=p["p_value"],
        reason=p.get("reason"),  # absent in documents saved before it existed
        chance_to_win=p.get("chance_to_win"),
    )


def _band_dict(b: Band) -> dict[str, float | None]:
    return {"estimate": b.estimate, "ci_low": b.ci_low, "ci_high": b.ci_high}
