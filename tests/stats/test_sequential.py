from __future__ import annotations

import math

import numpy as np
import pytest

from tests.stats.reference import (
    CONTROL,
    SEQ_CONTROL,
    SEQ_PROP_CONTROL,
    SEQ_PROP_TREATMENT,
    SEQ_TREATMENT,
    TREATMENT,
)
from xp.stats.frequentist import INSUFFICIENT_DATA, frequentist_lift
from xp.stats.sequential import (
    always_valid_p_value,
    cs_halfwidth,
    running_minimum,
    sequential_lift,
    sequential_rho,
    sequential_series,
)
from xp.stats.sufficient import MeanStats


def _rounded(values: tuple[float | None, ...]) -> tuple[float, ...]:
    return tuple(round(v, 5) for v in values if v is not None)


def test_growthbook_reference_mean() -> None:
    # gbstats tests/frequentist/test_tests.py::TestSequentialTTest::test_sequential_test_runs
    # (A n=3000, B n=3461, sequential_tuning_parameter=1000)
    rel = sequential_lift(SEQ_CONTROL, SEQ_TREATMENT, tuning=1000).relative
    assert _rounded((rel.estimate, rel.se)) == (0.50336, 0.33341)
    assert _rounded((rel.ci_low, rel.ci_high)) == (-0.55844, 1.56516)
    assert rel.p_value == 1.0


def test_growthbook_reference_proportion() -> None:
    # gbstats tests/frequentist/test_tests.py::TestSequentialTTest::test_sequential_test_runs_prop
    # (default tuning 5000)
    rel = sequential_lift(SEQ_PROP_CONTROL, SEQ_PROP_TREATMENT).relative
    assert _rounded((rel.estimate, rel.se)) == (0.50386, 0.03386)
    assert _rounded((rel.ci_low, rel.ci_high)) == (0.40098, 0.60675)
    assert round(rel.p_value or 1.0, 5) == 0.0


def test_gbstats_tuning_ordering() -> None:
    # gbstats test_sequential_test_tuning_as_expected: N* near n gives the narrowest interval
    def width(tuning: float) -> float:
        rel = sequential_lift(SEQ_CONTROL, SEQ_TREATMENT, tuning=tuning).relative
        return (rel.ci_high or 0.0) - (rel.ci_low or 0.0)

    assert width(10) > width(10_000) > width(6461)


def test_sequential_interval_is_wider_than_fixed_horizon() -> None:
    fixed = frequentist_lift(CONTROL, TREATMENT).absolute
    seq = sequential_lift(CONTROL, TREATMENT).absolute
    assert seq.estimate == fixed.estimate
    assert (seq.ci_low or 0) < (fixed.ci_low or 0) and (seq.ci_high or 0) > (fixed.ci_high or 0)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_p_value_is_the_level_at_which_the_sequence_excludes_zero(alpha: float) -> None:
    estimate, variance, n = 0.3, 0.01, 4000.0
    p = float(always_valid_p_value(estimate, variance, n, alpha, 5000))
    # the sequence built with the same rho at level p has half-width exactly |estimate|
    rho = sequential_rho(alpha, 5000)
    nr2 = n * rho**2
    half = math.sqrt(variance * n * 2 * (nr2 + 1) / (n * nr2) * math.log(math.sqrt(nr2 + 1) / p))
    assert half == pytest.approx(estimate, rel=1e-9)
    # and at the configured level the decision agrees with the interval
    excludes = float(cs_halfwidth(variance, n, alpha, 5000)) < estimate
    assert excludes == (p < alpha)


def test_p_value_and_interval_agree_on_reference_data() -> None:
    result = sequential_lift(CONTROL, TREATMENT, alpha=0.05)
    for est in (result.absolute, result.relative):
        excludes = (est.ci_low or 0) > 0 or (est.ci_high or 0) < 0
        assert excludes == ((est.p_value or 1) < 0.05)


def test_running_minimum() -> None:
    out = running_minimum([0.5, 0.7, 0.2, np.nan, 0.3])
    assert out.tolist() == [0.5, 0.5, 0.2, 0.2, 0.2]


def test_series_reports_running_minimum() -> None:
    looks = [
        (MeanStats(1000, 400.0, 16000.0), MeanStats(1000, 700.0, 39000.0)),
        (MeanStats(2000, 820.0, 31000.0), MeanStats(2000, 1380.0, 78000.0)),
        (MeanStats(3000, 1250.0, 46000.0), MeanStats(3000, 1900.0, 117000.0)),
        (MeanStats(1, 1.0, 1.0), MeanStats(1, 1.0, 1.0)),  # a look with no p-value
    ]
    series = sequential_series(looks)
    raw = [sequential_lift(c, t) for c, t in looks]
    raw_p = [r.absolute.p_value for r in raw[:3]]
    assert [s.absolute.p_value for s in series[:3]] == pytest.approx(
        np.minimum.accumulate(raw_p).tolist()
    )
    assert raw[3].reason == INSUFFICIENT_DATA
    # the degenerate look is reported as such, without a p-value or an interval
    assert series[3].reason == INSUFFICIENT_DATA
    assert series[3].absolute.p_value is None and series[3].absolute.ci_low is None


def test_halfwidth_shrinks_with_n_and_is_vectorised() -> None:
    half = cs_halfwidth(
        np.array([1.0, 0.5, 0.25]) / np.array([1000, 2000, 4000]), [1e3, 2e3, 4e3], 0.05
    )
    assert half.shape == (3,)
    assert half[0] > half[1] > half[2]


@pytest.mark.parametrize("tuning", [0.0, -5.0])
def test_bad_tuning_is_a_caller_error(tuning: float) -> None:
    with pytest.raises(ValueError, match="tuning"):
        sequential_lift(CONTROL, TREATMENT, tuning=tuning)


def test_degenerate_input_gives_reason() -> None:
    result = sequential_lift(MeanStats(1, 1.0, 1.0), TREATMENT)
    assert result.reason == INSUFFICIENT_DATA
    assert result.absolute.p_value is None and result.absolute.ci_low is None


def test_series_absolute_intervals_narrow_and_agree_with_their_p_values() -> None:
    rng = np.random.default_rng(11)
    looks = []
    total_c = total_t = np.zeros(3)
    for _ in range(30):  # a true lift of 0.1 on a mean of 1, sd 2
        c, t = rng.normal(1.0, 2.0, 200), rng.normal(1.1, 2.0, 200)
        total_c = total_c + [200, c.sum(), (c**2).sum()]
        total_t = total_t + [200, t.sum(), (t**2).sum()]
        looks.append((MeanStats(*total_c), MeanStats(*total_t)))
    series = sequential_series(looks, tuning=6000)
    raw = [sequential_lift(c, t, tuning=6000) for c, t in looks]
    absolute = [s.absolute for s in series]
    for before, after in zip(absolute, absolute[1:], strict=False):
        assert before.ci_low <= after.ci_low <= after.ci_high <= before.ci_high
        assert after.p_value <= before.p_value
    for estimate, look in zip(absolute, raw, strict=True):
        current = look.absolute
        assert current.ci_low <= estimate.ci_low and estimate.ci_high <= current.ci_high
        assert (estimate.p_value < 0.05) == (estimate.ci_low > 0 or estimate.ci_high < 0)
    # the relative scale is each look's own sequence (no running intersection, issue 10)
    for s, look in zip(series, raw, strict=True):
        assert s.relative == look.relative
        assert s.relative.ci_low <= s.relative.estimate <= s.relative.ci_high
        assert (s.relative.p_value < 0.05) == (s.relative.ci_low > 0 or s.relative.ci_high < 0)
    assert series[-1].absolute.p_value < 0.05  # the lift is found, and stays found


def test_an_empty_intersection_restarts_from_the_current_look() -> None:
    # An early look far off (a poor approximation) then a look whose interval misses it
    # entirely: the running state restarts, and the shown p-value is the current look's,
    # so a p < alpha never goes with an interval that contains 0.
    early = (MeanStats(200, 200.0, 400.0), MeanStats(200, 400.0, 1000.0))  # lift +1, sd ~1
    late = (MeanStats(20000, 20000.0, 40000.0), MeanStats(20000, 20000.0, 40000.0))  # 0
    first, second = sequential_series([early, late])
    assert first.absolute.p_value < 0.05 and first.absolute.ci_low > 0
    assert second.absolute == sequential_lift(*late).absolute
    assert second.absolute.p_value >= 0.05 and second.absolute.ci_low < 0
