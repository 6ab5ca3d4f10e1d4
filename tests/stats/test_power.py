from __future__ import annotations

import pytest

from xp.stats.power import (
    days_to_reach,
    mde_mean,
    mde_proportion,
    sample_size_mean,
    sample_size_proportion,
)


def test_proportion_sample_size_textbook_value() -> None:
    # 10% -> 11% at alpha 0.05, power 0.8: (1.95996 + 0.84162)^2 (0.09 + 0.0979) / 0.01^2
    assert sample_size_proportion(0.10, 0.10) == 14749


def test_mean_sample_size_textbook_value() -> None:
    # delta = 0.5 sd: 2 (1.95996 + 0.84162)^2 / 0.25 = 62.8
    assert sample_size_mean(10.0, 5.0, 0.05) == 63 * 25 - 5  # 1570


@pytest.mark.parametrize("variants", [2, 3, 5])
def test_more_variants_need_more_units(variants: int) -> None:
    base = sample_size_proportion(0.2, 0.05)
    n = sample_size_proportion(0.2, 0.05, variants=variants)
    assert n >= base and (variants == 2) == (n == base)


@pytest.mark.parametrize(("rate", "mde"), [(0.05, 0.1), (0.3, 0.02), (0.5, -0.1)])
def test_mde_inverts_sample_size_for_proportions(rate: float, mde: float) -> None:
    n = sample_size_proportion(rate, mde)
    if mde > 0:
        assert mde_proportion(rate, n) == pytest.approx(mde, rel=1e-3)


@pytest.mark.parametrize("mde", [0.01, 0.2])
def test_mde_inverts_sample_size_for_means(mde: float) -> None:
    n = sample_size_mean(3.0, 2.0, mde)
    assert mde_mean(3.0, 2.0, n) == pytest.approx(mde, rel=1e-2)
    assert mde_mean(3.0, 2.0, n) <= mde


def test_mde_unreachable_with_too_few_units() -> None:
    assert mde_proportion(0.5, 3) is None  # even 50% -> 100% needs 8 units per arm


@pytest.mark.parametrize(
    ("target", "current", "daily", "days"),
    [
        (10_000, 0, 1_000, 10),
        (10_000, 9_500, 1_000, 1),
        (10_000, 12_000, 1_000, 0),
        (1, 0, 0, None),
    ],
)
def test_days_to_reach(target: float, current: float, daily: float, days: int | None) -> None:
    assert days_to_reach(target, current, daily) == days


@pytest.mark.parametrize(
    "kwargs",
    [
        {"baseline_rate": 0.0, "mde": 0.1},
        {"baseline_rate": 0.9, "mde": 0.2},
        {"baseline_rate": 0.1, "mde": 0.0},
        {"baseline_rate": 0.1, "mde": 0.1, "power": 1.0},
        {"baseline_rate": 0.1, "mde": 0.1, "variants": 1},
    ],
)
def test_bad_plans_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        sample_size_proportion(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("rate", "drop"), [(0.05, 0.1), (0.3, 0.02), (0.9, 0.2)])
def test_the_decrease_mde_inverts_sample_size_of_a_drop(rate: float, drop: float) -> None:
    n = sample_size_proportion(rate, -drop)
    found = mde_proportion(rate, n, decrease=True)
    # n is rounded up: the drop detectable with it is at most the one asked for
    assert found is not None and found <= drop
    assert found == pytest.approx(drop, rel=1e-2)


@pytest.mark.parametrize("n", [50, 400, 10_000])
def test_a_drop_of_p_is_a_rise_of_one_minus_p(n: int) -> None:
    # p -> p(1 - L) moves 1 - p to (1 - p)(1 + L p / (1 - p)): the same test, so the same n
    for p in (0.2, 0.5, 0.7):
        rise = mde_proportion(1.0 - p, n)
        assert rise is not None
        assert mde_proportion(p, n, decrease=True) == pytest.approx(rise * (1 - p) / p, rel=1e-9)
    # at 0.5 the binomial variance is symmetric; at 0.1 a 30% drop is easier to see than a
    # 30% rise's mirror: the two directions differ
    assert mde_proportion(0.5, n, decrease=True) == pytest.approx(mde_proportion(0.5, n))
    assert mde_proportion(0.1, n, decrease=True) != pytest.approx(mde_proportion(0.1, n))


def test_a_drop_beyond_zero_is_unreachable() -> None:
    # 3 units an arm: even 50% -> 0% needs more (z^2 0.25 / 0.25 = 7.85)
    assert mde_proportion(0.5, 3, decrease=True) is None
    assert mde_proportion(0.5, 8, decrease=True) is not None
