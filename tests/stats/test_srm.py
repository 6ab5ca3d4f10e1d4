from __future__ import annotations

import pytest
from scipy import stats as sps

from xp.stats.srm import srm_test


def test_flags_a_half_percent_skew_at_a_million_units() -> None:
    result = srm_test([505_000, 495_000], [0.5, 0.5])
    assert result.alarm
    assert result.p_value < 1e-20
    assert result.expected == (500_000.0, 500_000.0)


@pytest.mark.parametrize(
    ("observed", "weights"),
    [([5012, 4988], [0.5, 0.5]), ([2000, 1010, 990], [50, 25, 25]), ([100, 0], [1, 0])],
)
def test_quiet_on_a_fair_split(observed: list[int], weights: list[float]) -> None:
    result = srm_test(observed, weights)
    assert not result.alarm
    assert result.p_value > 0.05


def test_matches_scipy_chisquare() -> None:
    observed, weights = [1030, 980, 2050], [1, 1, 2]
    total = sum(observed)
    expected = [total * w / 4 for w in weights]
    scipy_result = sps.chisquare(observed, expected)
    result = srm_test(observed, weights)
    assert result.p_value == pytest.approx(scipy_result.pvalue, rel=1e-12)
    assert result.chi2 == pytest.approx(scipy_result.statistic, rel=1e-12)


def test_units_in_a_zero_weight_variant_are_a_mismatch() -> None:
    result = srm_test([100, 3], [1, 0])
    assert result.alarm and result.p_value == 0.0


def test_no_units_is_quiet() -> None:
    result = srm_test([0, 0], [1, 1])
    assert not result.alarm and result.p_value == 1.0


def test_to_dict_keys_counts_by_variant() -> None:
    d = srm_test([5012, 4988], [0.5, 0.5]).to_dict(["control", "green"])
    assert d["observed"] == {"control": 5012.0, "green": 4988.0}
    assert d["expected"] == {"control": 5000.0, "green": 5000.0}
    assert d["p_value"] == pytest.approx(sps.chi2.sf(2 * 12**2 / 5000, 1), rel=1e-12)
    assert d["threshold"] == 0.001 and d["alarm"] is False


@pytest.mark.parametrize(
    ("observed", "weights"), [([1, 2], [1]), ([1, 2], [0, 0]), ([1, 2], [-1, 2]), ([-1, 2], [1, 1])]
)
def test_bad_arguments_raise(observed: list[int], weights: list[float]) -> None:
    with pytest.raises(ValueError):
        srm_test(observed, weights)
