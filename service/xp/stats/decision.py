"""One call per experiment: ship, don't ship, or keep going, with the reasons in plain words.

:func:`decide` applies these rules in order; the first that matches is the decision.

1. ``srm_alarm`` -- the sample ratio mismatch test alarmed: assignment or logging is broken,
   so no lift can be trusted.
2. ``guardrail_breached`` -- a guardrail metric moved against its ``direction`` in some
   treatment with ``p < alpha`` (Bayesian: a chance to lose of at least the rule's
   ``chance_to_win``). A harm signal stops the experiment whatever the sample.
   A guardrail that cannot be tested (``insufficient_data``) is named as not assessed,
   never as "no guardrail breached", and keeps a winner from shipping (``keep_running``).
3. ``insufficient_data`` -- some variant has fewer than ``min_sample`` units, or a primary
   comparison has no p-value (its result carries a reason code).

A comparison whose result is ``insufficient_data`` (``sufficiency.py``) is never significant:
it cannot ship a variant, count as worse, or breach a guardrail, whatever p-value it carries.
4. ``ship`` -- some treatment is a winner: at least one primary metric significantly better
   (``p < alpha``, after the caller's correction; Bayesian: chance to win and risk within the
   :class:`~xp.stats.bayesian.BayesianRule`) and none significantly worse. Among
   winners the one with the largest improvement on the first primary metric is ``winner``.
5. ``no_ship`` -- every treatment is significantly worse on some primary metric, or every
   variant has reached ``planned_sample`` units without a winner.
6. ``keep_running`` -- otherwise.

A comparison whose result is Bayesian (``method == "bayesian"``) is judged by its
comparison's ``rule`` (GrowthBook's defaults when none is given), never by a p-value, and its
sentence says which rule fired. Secondary metrics never change the decision. "Better" reads
the metric's ``direction``: for ``decrease`` a negative lift is the improvement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from xp.stats.bayesian import BayesianRule, Verdict
from xp.stats.frequentist import Estimate, LiftResult
from xp.stats.srm import SrmResult

Role = Literal["primary", "secondary", "guardrail"]
Direction = Literal["increase", "decrease"]

SHIP = "ship"
NO_SHIP = "no_ship"
KEEP_RUNNING = "keep_running"
GUARDRAIL_BREACHED = "guardrail_breached"
SRM_ALARM = "srm_alarm"
INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class MetricComparison:
    """One treatment's result on one metric.

    ``p_value`` is the corrected p-value to judge it by (Holm for primaries, none for
    guardrails); ``None`` uses the result's own (:attr:`LiftResult.p_value`). A Bayesian
    result is judged by ``rule`` instead.
    """

    metric: str
    variant: str
    role: Role
    direction: Direction
    result: LiftResult
    p_value: float | None = None
    rule: BayesianRule | None = None

    @cached_property  # read by significant, better, worse and the sentence
    def verdict(self) -> Verdict | None:
        """The Bayesian rule's verdict; ``None`` for a frequentist or sequential result."""
        if self.result.method != "bayesian":
            return None
        return (self.rule or BayesianRule()).judge_result(self.result, self.direction)

    @property
    def p(self) -> float | None:
        return self.result.p_value if self.p_value is None else self.p_value

    @property
    def improvement(self) -> float | None:
        """The lift signed so that positive is good: on the tested scale (relative when it is
        tested or nothing is, else absolute: the scale the verdict read)."""
        lift = self.result.relative.estimate
        if lift is None or self.result.tested_scale == "absolute":
            lift = self.result.absolute.estimate
        if lift is None:
            return None
        return lift if self.direction == "increase" else -lift

    def significant(self, alpha: float) -> bool:
        verdict = self.verdict
        if verdict is not None:
            return verdict.outcome is not None
        p = self.p
        return self.result.reason is None and p is not None and p < alpha

    def better(self, alpha: float) -> bool:
        verdict = self.verdict
        if verdict is not None:
            return verdict.outcome == "better"
        return self.significant(alpha) and (self.improvement or 0.0) > 0

    def worse(self, alpha: float) -> bool:
        verdict = self.verdict
        if verdict is not None:
            return verdict.outcome == "worse"
        return self.significant(alpha) and (self.improvement or 0.0) < 0


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: tuple[str, ...]
    winner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": list(self.reasons), "winner": self.winner}


def decide(
    comparisons: Sequence[MetricComparison],
    units: Mapping[str, float],
    srm: SrmResult | None = None,
    alpha: float = 0.05,
    min_sample: float = 100,
    planned_sample: float | None = None,
) -> Decision:
    """Decide one experiment from its comparisons (see the module docstring for the rules).

    ``units`` maps every variant, control included, to its units; ``min_sample`` and
    ``planned_sample`` are per variant.
    """
    level = 1.0 - alpha
    primaries = [c for c in comparisons if c.role == "primary"]
    guardrails = [c for c in comparisons if c.role == "guardrail"]

    if srm is not None and srm.alarm:
        return Decision(
            SRM_ALARM,
            (
                f"Sample ratio mismatch: p = {srm.p_value:.2g} < {srm.threshold:g} "
                f"(observed {_counts(srm.observed)}, expected {_counts(srm.expected)}); "
                "fix assignment or exposure logging before reading any result.",
            ),
        )

    breached = [c for c in guardrails if c.worse(alpha)]
    # A guardrail without a test is not a cleared one: it is named, and it blocks shipping.
    blind = [c for c in guardrails if c.p is None or c.result.reason is not None]
    guardrail_lines = [_sentence(c, alpha, level) for c in breached]
    for metric in dict.fromkeys(c.metric for c in guardrails):
        if any(c.metric == metric for c in breached):
            continue
        unknown = [c for c in blind if c.metric == metric]
        if unknown:
            why = (unknown[0].result.reason or "no p-value").replace("_", " ")
            guardrail_lines.append(
                f"{metric}: guardrail cannot be assessed yet for "
                f"{', '.join(c.variant for c in unknown)} ({why}); not cleared."
            )
        else:
            guardrail_lines.append(f"{metric}: no guardrail breached.")
    if breached:
        return Decision(GUARDRAIL_BREACHED, tuple(guardrail_lines))

    small = [(k, n) for k, n in units.items() if n < min_sample]
    untestable = [c for c in primaries if c.p is None or c.result.reason is not None]
    if small or untestable or not primaries:
        lines = [
            f"{k} has {n:,.0f} {'unit' if n == 1 else 'units'}, "
            f"fewer than the minimum of {min_sample:,.0f}."
            for k, n in small
        ]
        lines += [
            f"{c.metric}: {c.variant} cannot be tested yet "
            f"({(c.result.reason or 'no p-value').replace('_', ' ')})."
            for c in untestable
        ]
        if not primaries:
            lines.append("No primary metric to decide on.")
        return Decision(INSUFFICIENT_DATA, tuple(lines + guardrail_lines))

    lines = [_sentence(c, alpha, level) for c in primaries] + guardrail_lines
    variants = list(dict.fromkeys(c.variant for c in primaries))
    winners = [
        v
        for v in variants
        if any(c.better(alpha) for c in primaries if c.variant == v)
        and not any(c.worse(alpha) for c in primaries if c.variant == v)
    ]
    if winners:
        first_metric = primaries[0].metric

        def gain(variant: str) -> float:
            scores = (
                c.improvement or 0.0
                for c in primaries
                if c.variant == variant and c.metric == first_metric
            )
            return next(scores, 0.0)

        winner = max(winners, key=gain)
        unassessed = ", ".join(dict.fromkeys(c.metric for c in blind if c.variant == winner))
        if unassessed:
            head = (
                f"Keep running: {winner} looks better, but guardrail {unassessed} "
                "cannot be assessed yet."
            )
            return Decision(KEEP_RUNNING, (head, *lines))
        better = ", ".join(_why(c) for c in primaries if c.variant == winner and c.better(alpha))
        head = (
            f"Ship {winner}: significantly better on {better}, "
            "no primary metric worse and no guardrail breached."
        )
        return Decision(SHIP, (head, *lines), winner)

    losers = [v for v in variants if any(c.worse(alpha) for c in primaries if c.variant == v)]
    if len(losers) == len(variants):
        head = "Don't ship: every variant is significantly worse than control on a primary metric."
        return Decision(NO_SHIP, (head, *lines))
    if planned_sample is not None and all(n >= planned_sample for n in units.values()):
        head = (
            f"Don't ship: every variant reached the planned {planned_sample:,.0f} units "
            "without a significant improvement."
        )
        return Decision(NO_SHIP, (head, *lines))
    return Decision(KEEP_RUNNING, tuple(lines))


def _why(c: MetricComparison) -> str:
    """``purchase_rate`` (frequentist), with the Bayesian rule that fired in parentheses."""
    verdict = c.verdict
    return c.metric if verdict is None else f"{c.metric} ({verdict.text})"


def _sentence(c: MetricComparison, alpha: float, level: float) -> str:
    """``purchase_rate: green is +4.1% (95% CI -1.2% to +9.4%), not significant yet.``"""
    interval = "CI" if c.verdict is None else "credible interval"
    lift = _describe(c.result.relative, level, percent=True, interval=interval)
    if lift is None:
        absolute = _describe(c.result.absolute, level, percent=False, interval=interval)
        lift = absolute or "not estimable"
    role = "guardrail " if c.role == "guardrail" else ""
    bayes = c.verdict
    if bayes is not None:
        words = {"better": "significantly better", "worse": "significantly worse"}
        said = words.get(bayes.outcome or "", "not significant yet")
        return f"{c.metric}: {c.variant} is {lift}, {role}{said} ({bayes.text})."
    if c.better(alpha):
        verdict = f"significantly better (p = {c.p:.2g})"
    elif c.worse(alpha):
        verdict = f"significantly worse (p = {c.p:.2g})"
    else:
        verdict = "not significant yet"
    return f"{c.metric}: {c.variant} is {lift}, {role}{verdict}."


def _describe(estimate: Estimate, level: float, percent: bool, interval: str = "CI") -> str | None:
    if estimate.estimate is None:
        return None
    fmt = "{:+.1%}" if percent else "{:+.4g}"
    text = fmt.format(estimate.estimate)
    if estimate.ci_low is not None and estimate.ci_high is not None:
        low, high = fmt.format(estimate.ci_low), fmt.format(estimate.ci_high)
        text += f" ({level * 100:g}% {interval} {low} to {high})"
    return text


def _counts(values: Sequence[float]) -> str:
    return "/".join(f"{v:,.0f}" for v in values)
