"""Microseconds per Bayesian comparison: xp's risk next to gbstats', and a whole comparison
next to the frequentist one.

1. risk: ``xp.stats.bayesian.risk`` (closed form) against gbstats'
   ``EffectBayesianABTest.get_risk`` (truncated-normal means through scipy), on the same
   posteriors; both give the same numbers (tests/stats/test_bayesian_gbstats.py).
2. comparison: what the results document does per Bayesian comparison (posterior on both
   scales, chance to win and risk, the rule's verdict) against a frequentist comparison
   (``frequentist_result``) on the same moments.

Interleaved rounds in one process; medians with their spread (min to max), as ratios.

    .venv/bin/python -m bench.bayesian
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest

from xp.stats.bayesian import BayesianRule, bayesian_result, readings, risk
from xp.stats.frequentist import frequentist_result, lift_moments
from xp.stats.sufficient import ProportionStats

ROUNDS = 5
RNG = np.random.default_rng(3)
POSTERIORS = [
    (float(m), float(s))
    for m, s in zip(RNG.normal(0, 0.05, 300), RNG.uniform(0.01, 0.1, 300), strict=True)
]
MOMENTS = [
    lift_moments(ProportionStats(5000, float(a)), ProportionStats(5000, float(b)))
    for a, b in zip(RNG.binomial(5000, 0.1, 300), RNG.binomial(5000, 0.105, 300), strict=True)
]
RULE = BayesianRule()


def gbstats_risk() -> None:
    for mean, sd in POSTERIORS:
        EffectBayesianABTest.get_risk(mean, sd)


def xp_risk() -> None:
    for mean, sd in POSTERIORS:
        risk(mean, sd)


def frequentist() -> None:
    for m in MOMENTS:
        frequentist_result(m)


def bayesian() -> None:
    for m in MOMENTS:
        result = bayesian_result(m)
        readings(result.relative, "increase")
        RULE.judge_result(result, "increase")


def per_call_us(fn: Callable[[], None], calls: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / calls * 1e6


def compare(name: str, baseline: Callable[[], None], subject: Callable[[], None]) -> None:
    base, mine = [], []
    for _ in range(ROUNDS):  # interleaved, so load drifts hit both alike
        base.append(per_call_us(baseline, 300))
        mine.append(per_call_us(subject, 300))
    ratios = [m / b for m, b in zip(mine, base, strict=True)]
    print(
        f"{name}: baseline {statistics.median(base):8.1f} us ({min(base):.1f}-{max(base):.1f}), "
        f"xp {statistics.median(mine):8.1f} us ({min(mine):.1f}-{max(mine):.1f}), "
        f"ratio {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}), "
        f"median of {ROUNDS}"
    )


def main() -> None:
    compare("risk (gbstats get_risk = baseline)", gbstats_risk, xp_risk)
    compare("comparison (frequentist = baseline)", frequentist, bayesian)


if __name__ == "__main__":
    main()
