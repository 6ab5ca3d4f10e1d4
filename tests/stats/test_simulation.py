"""Statistical validation by simulation, vectorised over runs.

No unit-level data: each run's sufficient statistics are drawn directly (normal sums with
chi-square within-sample sums of squares, binomial counts, Wishart scatter matrices for a
metric and its covariate), then pushed through the engine's array kernels in one go.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from scipy import stats as sps

from xp.stats.cuped import adjusted_mean_variance, pooled_theta
from xp.stats.frequentist import FloatArray, difference_moments, t_interval
from xp.stats.power import sample_size_mean, sample_size_proportion
from xp.stats.sequential import always_valid_p_value, cs_halfwidth, running_minimum

pytestmark = pytest.mark.slow

ALPHA = 0.05
RUNS = 10_000


class Arm(NamedTuple):
    """Sufficient statistics of one arm across runs (arrays of the same shape)."""

    n: FloatArray
    mean: FloatArray
    variance: FloatArray


def normal_arm(
    rng: np.random.Generator, n: int, mu: float, sd: float, shape: tuple[int, ...]
) -> tuple[FloatArray, FloatArray]:
    """``(sum, sum_squares)`` of ``n`` iid normal units, drawn without the units."""
    total = rng.normal(n * mu, sd * np.sqrt(n), size=shape)
    within = sd**2 * rng.chisquare(n - 1, size=shape)  # sum of squares about the mean
    return total, within + total**2 / n


def mean_arm(n: FloatArray | float, total: FloatArray, squares: FloatArray) -> Arm:
    nn = np.broadcast_to(np.asarray(n, dtype=np.float64), total.shape)
    return Arm(nn, total / nn, (squares - total**2 / nn) / (nn - 1))


def proportion_arm(n: int, conversions: FloatArray) -> Arm:
    p = conversions / n
    return Arm(np.full(p.shape, float(n)), p, p * (1 - p))


def fixed_test(c: Arm, t: Arm, scale: str = "absolute") -> tuple[FloatArray, ...]:
    m = difference_moments(c.mean, c.variance, c.n, t.mean, t.variance, t.n)
    if scale == "absolute":
        return t_interval(m.absolute, m.absolute_variance, m.df, ALPHA)
    return t_interval(m.relative, m.relative_variance, m.df, ALPHA)


def draw(kind: str, rng: np.random.Generator, n: int, lift: float, runs: int) -> tuple[Arm, Arm]:
    if kind == "mean":
        c = mean_arm(n, *normal_arm(rng, n, 1.0, 2.0, (runs,)))
        t = mean_arm(n, *normal_arm(rng, n, 1.0 * (1 + lift), 2.0, (runs,)))
    else:
        c = proportion_arm(n, rng.binomial(n, 0.1, size=runs).astype(np.float64))
        t = proportion_arm(n, rng.binomial(n, 0.1 * (1 + lift), size=runs).astype(np.float64))
    return c, t


@pytest.mark.parametrize(("kind", "n"), [("mean", 500), ("proportion", 2000)])
def test_aa_false_positive_rate_is_nominal(kind: str, n: int) -> None:
    c, t = draw(kind, np.random.default_rng(101), n, 0.0, RUNS)
    _, _, p = fixed_test(c, t)
    fpr = float(np.mean(p < ALPHA))
    assert 0.04 <= fpr <= 0.06, fpr


@pytest.mark.parametrize("kind", ["mean", "proportion"])
@pytest.mark.parametrize("scale", ["absolute", "relative"])
def test_confidence_interval_coverage(kind: str, scale: str) -> None:
    lift = 0.1
    c, t = draw(kind, np.random.default_rng(202), 5000, lift, RUNS)
    low, high, _ = fixed_test(c, t, scale)
    base = 1.0 if kind == "mean" else 0.1
    truth = base * lift if scale == "absolute" else lift
    coverage = float(np.mean((low <= truth) & (truth <= high)))
    assert abs(coverage - 0.95) <= 0.015, coverage


LOOKS = 50
PER_LOOK = 100  # units per arm between looks


def _peeking_runs(seed: int, runs: int = 4000) -> tuple[Arm, Arm]:
    """Cumulative stats of A/A experiments at each of 50 looks: shape (runs, looks)."""
    rng = np.random.default_rng(seed)
    arms = []
    for _ in range(2):
        total, squares = normal_arm(rng, PER_LOOK, 1.0, 2.0, (runs, LOOKS))
        n = PER_LOOK * np.arange(1, LOOKS + 1, dtype=np.float64)
        arms.append(mean_arm(n, np.cumsum(total, axis=1), np.cumsum(squares, axis=1)))
    return arms[0], arms[1]


def test_sequential_test_survives_peeking_where_fixed_horizon_does_not() -> None:
    c, t = _peeking_runs(303)
    m = difference_moments(c.mean, c.variance, c.n, t.mean, t.variance, t.n)
    tuning = 2 * PER_LOOK * LOOKS  # planned total sample
    p_seq = running_minimum(
        always_valid_p_value(m.absolute, m.absolute_variance, c.n + t.n, ALPHA, tuning)
    )
    _, _, p_fixed = t_interval(m.absolute, m.absolute_variance, m.df, ALPHA)
    sequential_fpr = float(np.mean(p_seq[:, -1] < ALPHA))  # ever significant over 50 looks
    naive_fpr = float(np.mean((p_fixed < ALPHA).any(axis=1)))
    assert sequential_fpr <= 0.05, sequential_fpr
    assert naive_fpr > 0.15, naive_fpr


def test_confidence_sequence_covers_at_every_look_at_once() -> None:
    c, t = _peeking_runs(404)
    m = difference_moments(c.mean, c.variance, c.n, t.mean, t.variance, t.n)
    half = cs_halfwidth(m.absolute_variance, c.n + t.n, ALPHA, 2 * PER_LOOK * LOOKS)
    always_covered = (np.abs(m.absolute) <= half).all(axis=1)  # truth is 0 (A/A)
    assert float(np.mean(always_covered)) >= 0.95


def _cuped_runs(rng: np.random.Generator, n: int, rho: float, lift: float, runs: int) -> dict:
    """Bivariate normal (x, y) arms: sums ~ N(n mu, n S), scatter ~ Wishart(n - 1, S)."""
    cov = np.array([[1.0, rho * 2.0], [rho * 2.0, 4.0]])  # sd_x 1, sd_y 2
    out: dict[str, list[FloatArray]] = {k: [] for k in ("sx", "sy", "sxx", "syy", "sxy")}
    for effect in (0.0, lift):
        sums = rng.multivariate_normal([0.0, n * (1.0 + effect)], n * cov, size=runs)
        scatter = sps.wishart.rvs(df=n - 1, scale=cov, size=runs, random_state=rng)
        sx, sy = sums[:, 0], sums[:, 1]
        out["sx"].append(sx)
        out["sy"].append(sy)
        out["sxx"].append(scatter[:, 0, 0] + sx**2 / n)
        out["syy"].append(scatter[:, 1, 1] + sy**2 / n)
        out["sxy"].append(scatter[:, 0, 1] + sx * sy / n)
    return {k: np.stack(v, axis=-1) for k, v in out.items()}  # (runs, arms)


def test_cuped_narrows_the_interval_and_keeps_coverage() -> None:
    n, rho, lift = 1000, 0.7, 0.1
    s = _cuped_runs(np.random.default_rng(505), n, rho, lift, RUNS)
    nn = np.full(s["sx"].shape, float(n))
    theta = pooled_theta(nn, s["sy"], s["sx"], s["sxx"], s["sxy"])[:, None]
    mean_y, mean_x = s["sy"] / n, s["sx"] / n
    var_y = (s["syy"] - s["sy"] ** 2 / n) / (n - 1)
    var_x = (s["sxx"] - s["sx"] ** 2 / n) / (n - 1)
    cov_xy = (s["sxy"] - s["sx"] * s["sy"] / n) / (n - 1)
    x_pooled = (s["sx"].sum(axis=1) / (2 * n))[:, None]
    adj_mean, adj_var = adjusted_mean_variance(
        mean_y, var_y, mean_x, var_x, cov_xy, theta, x_pooled
    )

    def interval(mean: FloatArray, var: FloatArray) -> tuple[FloatArray, ...]:
        c, t = Arm(nn[:, 0], mean[:, 0], var[:, 0]), Arm(nn[:, 1], mean[:, 1], var[:, 1])
        return fixed_test(c, t)

    raw_low, raw_high, _ = interval(mean_y, var_y)
    low, high, _ = interval(adj_mean, adj_var)
    width_ratio = float(np.median((high - low) / (raw_high - raw_low)))
    assert width_ratio == pytest.approx(np.sqrt(1 - rho**2), abs=0.02)
    coverage = float(np.mean((low <= lift) & (lift <= high)))
    assert abs(coverage - 0.95) <= 0.015, coverage


@pytest.mark.parametrize("kind", ["mean", "proportion"])
def test_power_at_the_computed_sample_size(kind: str) -> None:
    rng = np.random.default_rng(606)
    if kind == "mean":
        n = sample_size_mean(1.0, 2.0, 0.1)  # the baseline of draw("mean", ...)
    else:
        n = sample_size_proportion(0.1, 0.1)
    c, t = draw(kind, rng, n, 0.1, RUNS)
    _, _, p = fixed_test(c, t)
    power = float(np.mean(p < ALPHA))
    assert power == pytest.approx(0.8, abs=0.02), (n, power)
