"""The always-valid guarantee over real daily looks, by simulation, vectorised over runs.

Each run is an A/A experiment launched the way products launch: a ramp of daily traffic
(1%, 5%, 10%, 25%, 50%, then 100% of 400 units per arm and day), a low base rate drawn from
2-5%, and conversions that arrive up to a week after the exposure. A look is what the store
snapshots at each UTC day's end (cumulative units, and the conversions observed so far);
35 of them. The sequential method declares a difference when the running minimum of the
always-valid p-value falls below alpha at any look.

Guarantee (Waudby-Smith et al. 2023, "Time-uniform central limit theory and asymptotic
confidence sequences", eq 9; the running intersection and minimum stay valid because the
coverage is uniform in time, Howard et al. 2021, "Time-uniform, nonparametric, nonasymptotic
confidence sequences"): the share of A/A runs that
ever declare is at most alpha, asymptotically. Tested bound: alpha + 3 standard errors of a
share at alpha over ``RUNS`` runs.

Teeth: daily peeking at the frequentist p-value on the same looks declares in far more runs,
and the vectorised construction here is checked against the results' own
(:func:`xp.results.series.daily_looks`) run by run.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest
from scipy import stats as sps

from tests.support.experiments import make_definition
from xp.results.series import daily_looks
from xp.stats.frequentist import FloatArray, difference_moments
from xp.stats.sequential import DEFAULT_TUNING, always_valid_p_value, running_minimum
from xp.stats.sufficiency import sufficient_arms
from xp.store.model import Slice, SufficientStats

pytestmark = pytest.mark.slow

ALPHA = 0.05
RUNS = 4000
DAYS = 35
FULL = 400  # units per arm and day at full traffic
RAMP = (0.01, 0.05, 0.10, 0.25, 0.50)  # then 1.0
LAGS = 7  # a conversion shows up 0..6 days after its exposure day
BOUND = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)  # 0.0603
DEFINITION = make_definition(
    key="aa",
    metrics=[{"name": "converted", "event": "purchase", "kind": "binomial", "role": "primary"}],
    segments=[],
)
VARIANTS = DEFINITION.variant_keys  # control, treatment


class Snapshots(NamedTuple):
    """Per run, look and arm (shape ``(runs, days, 2)``): cumulative units and conversions;
    and each run's control base rate (shape ``(runs,)``)."""

    n: FloatArray
    conversions: FloatArray
    base: FloatArray


def launch(rng: np.random.Generator, runs: int, lift: float = 0.0, days: int = DAYS) -> Snapshots:
    """What the store would snapshot at each day's end, for ``runs`` launches at once (the
    treatment's rate is the control's times ``1 + lift``)."""
    ramp = np.array(RAMP + (1.0,) * (days - len(RAMP)))
    new = np.broadcast_to(np.round(FULL * ramp)[None, :, None], (runs, days, 2)).astype(int)
    base = rng.uniform(0.02, 0.05, size=(runs, 1, 1))
    rates = np.concatenate([base, base * (1 + lift)], axis=2)
    converted = rng.binomial(new, rates)
    lag_p = 0.5 ** np.arange(1, LAGS + 1)
    split = rng.multinomial(converted, lag_p / lag_p.sum())  # (runs, DAYS, 2, LAGS)
    observed = np.zeros((runs, days + LAGS, 2))
    for lag in range(LAGS):
        observed[:, lag : lag + days, :] += split[..., lag]
    cumulative = np.cumsum(observed[:, :days, :], axis=1)
    return Snapshots(np.cumsum(new, axis=1), cumulative, base[:, 0, 0])


def moments(s: Snapshots) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The absolute lift, its variance and the total sample at every look (the engine's
    Bernoulli arms); ``nan`` where the engine gives no p-value (``stats.sufficiency``)."""
    n = s.n
    mean = s.conversions / n
    var = mean * (1 - mean)
    k = difference_moments(
        mean[..., 0], var[..., 0], n[..., 0], mean[..., 1], var[..., 1], n[..., 1]
    )
    minority = np.minimum(s.conversions, n - s.conversions)
    testable = sufficient_arms(n, mean, var, minority).all(axis=-1) & (mean[..., 0] != 0)
    estimate = np.where(testable, k.absolute, np.nan)
    return estimate, np.where(testable, k.absolute_variance, np.nan), n.sum(axis=-1)


def sequential_p(s: Snapshots) -> FloatArray:
    """Running minimum of the always-valid p-value over the looks, per run and look."""
    estimate, variance, total = moments(s)
    p = always_valid_p_value(estimate, variance, total, ALPHA, DEFAULT_TUNING)
    return running_minimum(np.where(np.isnan(estimate), np.nan, p))


def peeking_p(s: Snapshots) -> FloatArray:
    """Running minimum of the fixed-horizon (normal) p-value: what daily peeking sees."""
    estimate, variance, _ = moments(s)
    with np.errstate(invalid="ignore"):
        p = 2 * sps.norm.sf(np.abs(estimate) / np.sqrt(variance))
    return running_minimum(p)


def as_looks(s: Snapshots, run: int) -> dict[str, Slice]:
    """One run's snapshots as the store hands them to results (``ExperimentData.looks``)."""
    looks = {}
    for day in range(s.n.shape[1]):
        stats = {
            v: SufficientStats(
                n=int(s.n[run, day, i]),
                sum=float(s.conversions[run, day, i]),
                sum_squares=float(s.conversions[run, day, i]),
            )
            for i, v in enumerate(VARIANTS)
        }
        looks[f"2026-{1 + day // 28:02d}-{day % 28 + 1:02d}"] = Slice(
            {v: x.n for v, x in stats.items()}, {"converted": stats}
        )
    return looks


@pytest.fixture(scope="module")
def null() -> Snapshots:
    return launch(np.random.default_rng(20260101), RUNS)


def test_a_a_launches_declare_at_most_alpha_over_35_real_looks(null: Snapshots) -> None:
    declared = sequential_p(null)[:, -1] < ALPHA

    assert declared.mean() <= BOUND, declared.mean()
    # the early looks are tiny and often degenerate: the ramp really is in the data
    assert (null.conversions[:, 0, :] == 0).any(axis=-1).mean() > 0.5


def test_daily_peeking_at_the_fixed_horizon_p_value_declares_far_more_often(
    null: Snapshots,
) -> None:
    # The simulation has teeth: the same looks read with a fixed-horizon test break alpha.
    assert (peeking_p(null)[:, -1] < ALPHA).mean() > 3 * ALPHA


def test_a_real_lift_is_still_found() -> None:
    lifted = launch(np.random.default_rng(7), 1000, lift=0.5)

    assert (sequential_p(lifted)[:, -1] < ALPHA).mean() > 0.9


def test_the_vectorised_looks_are_the_results_own(null: Snapshots) -> None:
    vectorised = sequential_p(null)
    for run in range(12):
        looks = daily_looks(
            DEFINITION.metrics[0],
            as_looks(null, run),
            VARIANTS,
            "sequential",
            ALPHA,
            DEFAULT_TUNING,
        )
        results = looks.results["treatment"]
        assert [u["control"] for u in looks.units] == list(null.n[run, :, 0])
        got = [np.nan if r.absolute.p_value is None else r.absolute.p_value for r in results]
        np.testing.assert_allclose(got, vectorised[run], rtol=1e-9)
        # the running intersection only narrows
        widths = [
            r.absolute.ci_high - r.absolute.ci_low
            for r in results
            if r.absolute.ci_low is not None and r.absolute.ci_high is not None
        ]
        assert all(a >= b for a, b in zip(widths, widths[1:], strict=False))


def test_the_relative_scale_keeps_alpha_too(null: Snapshots) -> None:
    declared = []
    for run in range(400):
        looks = daily_looks(
            DEFINITION.metrics[0],
            as_looks(null, run),
            VARIANTS,
            "sequential",
            ALPHA,
            DEFAULT_TUNING,
        )
        p = looks.results["treatment"][-1].p_value
        declared.append(p is not None and p < ALPHA)
    assert np.mean(declared) <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 400)
