from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from xp.stats.multiple import adjust_p_values, benjamini_hochberg, holm

CASES = [
    [0.01, 0.04, 0.03, 0.005],
    [0.5],
    [0.001, 0.001, 0.2, 0.9, 0.04],
    [1.0, 1.0, 0.0],
]


@pytest.mark.parametrize("p", CASES)
@pytest.mark.parametrize(("ours", "theirs"), [(holm, "holm"), (benjamini_hochberg, "fdr_bh")])
def test_agrees_with_statsmodels(p: list[float], ours: object, theirs: str) -> None:
    expected = multipletests(p, method=theirs)[1]
    assert callable(ours)
    np.testing.assert_allclose(ours(p), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("ours", "theirs"), [(holm, "holm"), (benjamini_hochberg, "fdr_bh")])
def test_agrees_with_statsmodels_on_random_families(ours: object, theirs: str) -> None:
    rng = np.random.default_rng(11)
    assert callable(ours)
    for size in (2, 5, 20, 200):
        p = rng.uniform(size=size) ** 3
        np.testing.assert_allclose(ours(p), multipletests(p, method=theirs)[1], rtol=1e-12)


def test_missing_p_values_stay_missing_and_leave_the_family() -> None:
    out = holm([0.01, None, 0.04])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], multipletests([0.01, 0.04], method="holm")[1])


def test_empty_family() -> None:
    assert holm([]).size == 0 and benjamini_hochberg([]).size == 0


def test_adjust_by_name() -> None:
    p = [0.01, 0.02, 0.03]
    np.testing.assert_allclose(adjust_p_values(p, "none"), p)
    np.testing.assert_allclose(adjust_p_values(p, "bh"), benjamini_hochberg(p))
    with pytest.raises(ValueError, match="bonferroni"):
        adjust_p_values(p, "bonferroni")  # type: ignore[arg-type]


def test_out_of_range_p_raises() -> None:
    with pytest.raises(ValueError):
        holm([0.5, 1.5])
