"""The Bayesian decision rule by simulation: how often A/A experiments ship, and A/B ones do.

Each run's conversion counts are drawn directly (binomial), pushed through the engine's array
kernels (``difference_moments``, ``sufficient_arms``, ``posterior_moments``, ``risks``,
``BayesianRule.better``/``worse``) in one go, once at the end of the experiment (no
peeking). A sample of runs goes through the scalar path the results use (``lift_moments``,
``bayesian_result``, ``decide``) and must give the same decisions.

What the figures say (printed with ``-s``): under a flat prior "ship" needs a chance to win of
95%, i.e. a one-sided z of 1.645, so an A/A experiment ships in about 5% of runs, against
2.5% for the two-sided frequentist test at alpha 0.05 (its "significantly better" half); the
risk threshold bites when the posterior is wide (small samples), pulling the share below 5%.
Both fall short of their nominal share on the relative scale: the delta-method variance grows
with the treatment's mean, so a positive A/A lift reads less surely than a negative one (the
"worse" share is the larger; gbstats, whose moments these are, does the same).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats as sps

from tests.stats.test_simulation import fixed_test, proportion_arm
from xp.stats.bayesian import (
    BayesianRule,
    GaussianPrior,
    bayesian_result,
    posterior_moments,
    risks,
)
from xp.stats.decision import SHIP, MetricComparison, decide
from xp.stats.frequentist import difference_moments, lift_moments
from xp.stats.sufficiency import sufficient_arms
from xp.stats.sufficient import ProportionStats

pytestmark = pytest.mark.slow

RUNS = 20_000
RULE = BayesianRule()  # GrowthBook's defaults: 95% and 0.25%


def draw(n: int, rate: float, lift: float, seed: int) -> tuple[NDArray[np.int64], ...]:
    rng = np.random.default_rng(seed)
    return rng.binomial(n, rate, RUNS), rng.binomial(n, rate * (1 + lift), RUNS)


def bayesian_verdicts(
    n: int,
    control: NDArray[np.int64],
    treatment: NDArray[np.int64],
    prior: GaussianPrior,
    rule: BayesianRule = RULE,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per run: (ships, worse) under ``rule``, with the sufficiency rule applied."""
    c, t = proportion_arm(n, control.astype(float)), proportion_arm(n, treatment.astype(float))
    m = difference_moments(c.mean, c.variance, c.n, t.mean, t.variance, t.n)
    minority = lambda k: np.minimum(k, n - k)  # noqa: E731 - conversions or non-conversions
    ok = sufficient_arms(c.n, c.mean, c.variance, minority(control)) & sufficient_arms(
        t.n, t.mean, t.variance, minority(treatment)
    )
    ok &= c.mean != 0
    mean, sd = posterior_moments(m.relative, m.relative_variance, prior)
    win = sps.norm.sf(0.0, mean, sd)
    _, ship_loss = risks(mean, sd)
    return ok & rule.better(win, ship_loss), ok & rule.worse(win)


def frequentist_ships(n: int, control: NDArray[np.int64], treatment: NDArray[np.int64]) -> float:
    c, t = proportion_arm(n, control.astype(float)), proportion_arm(n, treatment.astype(float))
    low, _, p = fixed_test(c, t, "relative")
    return float(np.mean((p < 0.05) & (low > 0)))


def scalar_decisions(
    n: int, control: NDArray[np.int64], treatment: NDArray[np.int64], prior: GaussianPrior
) -> NDArray[np.bool_]:
    """The results' own path, one run at a time: does ``decide`` say ship?"""
    out = []
    for a, b in zip(control, treatment, strict=True):
        moments = lift_moments(ProportionStats(n, float(a)), ProportionStats(n, float(b)))
        result = bayesian_result(moments, 0.05, prior)
        comparison = MetricComparison("rate", "green", "primary", "increase", result, rule=RULE)
        decision = decide([comparison], {"control": n, "green": n}, min_sample=100)
        out.append(decision.decision == SHIP)
    return np.array(out)


def binomial_bound(share: float) -> float:
    """Four standard errors of a share estimated from RUNS runs."""
    return 4 * float(np.sqrt(share * (1 - share) / RUNS))


@pytest.mark.parametrize("prior", [GaussianPrior(), GaussianPrior(0.0, 0.09, True)])
def test_a_a_experiments_ship_about_as_often_as_a_one_sided_5_percent_test(
    prior: GaussianPrior,
) -> None:
    n = 5_000
    control, treatment = draw(n, 0.10, 0.0, seed=11)
    ships, worse = bayesian_verdicts(n, control, treatment, prior)
    share = float(ships.mean())
    frequentist = frequentist_ships(n, control, treatment)
    print(
        f"\nA/A n={n}/arm, prior {prior}: Bayesian ships {share:.2%} "
        f"(worse {worse.mean():.2%}); frequentist 'significantly better' {frequentist:.2%}"
    )
    # bounded by the one-sided 5% of a 95% chance to win (a proper prior only shrinks)
    assert share <= 0.05 + binomial_bound(0.05)
    assert share >= 0.035  # not vacuous: the rule does ship on noise at this rate
    assert frequentist <= 0.025 + binomial_bound(0.025)
    assert share > frequentist  # the price of reading a 95% chance to win one-sidedly
    sample = slice(0, 400)
    scalar = scalar_decisions(n, control[sample], treatment[sample], prior)
    assert np.array_equal(scalar, ships[sample])  # the results' path decides the same


def test_the_risk_threshold_bites_on_small_samples() -> None:
    n = 400  # a 10% rate: relative posterior SD ~ 0.21, so risk at z = 1.645 is ~ 0.45%
    control, treatment = draw(n, 0.10, 0.0, seed=12)
    ships, _ = bayesian_verdicts(n, control, treatment, GaussianPrior())
    loose = BayesianRule(risk_threshold=1.0)  # the chance to win alone
    without_risk = float(bayesian_verdicts(n, control, treatment, GaussianPrior(), loose)[0].mean())
    print(f"\nA/A n={n}/arm: ships {ships.mean():.2%}; chance to win alone {without_risk:.2%}")
    assert ships.mean() < without_risk - binomial_bound(without_risk)


def test_a_real_effect_ships_in_most_runs_and_a_harmful_one_never() -> None:
    n = 20_000
    control, treatment = draw(n, 0.10, 0.10, seed=13)  # +10% relative: z ~ 3.3
    ships, _ = bayesian_verdicts(n, control, treatment, GaussianPrior())
    power = float(ships.mean())
    control, harmed = draw(n, 0.10, -0.10, seed=14)
    harm_ships, harm_worse = bayesian_verdicts(n, control, harmed, GaussianPrior())
    print(f"\nA/B +10% n={n}/arm: ships {power:.2%}; -10%: ships {harm_ships.mean():.2%}")
    # the normal approximation's power at z = 3.3 for a one-sided 1.645: ~95%
    assert power >= 0.9
    assert harm_ships.sum() == 0 and harm_worse.mean() >= 0.9
