"""One treatment's :class:`~xp.results.document.Comparison` from its method's result.

A frequentist or sequential comparison is ``significant`` when its corrected p-value is below
alpha; a Bayesian one when the experiment's :class:`~xp.stats.bayesian.BayesianRule` calls
it better or worse, and it carries the rule's words (docs/results.md, "Bayesian method").
"""

from __future__ import annotations

from dataclasses import replace

from xp.results.document import Comparison, Cuped
from xp.stats.bayesian import BayesianRule, readings
from xp.stats.frequentist import LiftResult


def comparison_of(
    variant: str,
    result: LiftResult,
    corrected: float | None,
    alpha: float,
    cuped: Cuped | None = None,
    direction: str = "increase",
    rule: BayesianRule | None = None,
) -> Comparison:
    """One comparison; a Bayesian one is ``significant`` when ``rule`` calls it better or
    worse, and carries that rule's words."""
    plain = Comparison(
        variant=variant,
        absolute=result.absolute,
        relative=result.relative,
        reason=result.reason,
        p_value_corrected=corrected,
        significant=corrected is not None and corrected < alpha,
        cuped=cuped,
    )
    if result.method != "bayesian":
        return plain
    verdict = (rule or BayesianRule()).judge_result(result, direction)
    return replace(
        plain,
        significant=verdict.outcome is not None,
        bayesian=readings(result.relative, direction),
        rule=verdict.text,
    )
