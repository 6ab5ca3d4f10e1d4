"""The effect-based Bayesian test against GrowthBook's gbstats and closed forms.

Reference values: ``gbstats.bayesian.tests.EffectBayesianABTest`` from the PyPI package
gbstats 0.8.0 (GrowthBook), ``compute_result()`` with relative differences, run once with the
inputs below; the printed ``chance_to_win``, ``expected``, ``ci``, ``uplift.stddev`` and
``risk`` are copied here. gbstats' data moments are the delta method's:
``d = mB/mA - 1``, ``s^2 = vB/(mA^2 nB) + vA mB^2/(mA^4 nA)`` with a proportion's variance
``p(1-p)`` and a mean's sample variance (n - 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from xp.stats.bayesian import GaussianPrior, effect_posterior, risk


def moments(n_a: float, m_a: float, v_a: float, n_b: float, m_b: float, v_b: float) -> tuple:
    d = m_b / m_a - 1
    var = v_b / (m_a**2 * n_b) + v_a * m_b**2 / (m_a**4 * n_a)
    return d, math.sqrt(var)


def proportion(n: int, k: int) -> tuple[int, float, float]:
    p = k / n
    return n, p, p * (1 - p)


BUTTON = moments(*proportion(5012, 612), *proportion(4988, 635))
# (estimate, se, prior, inverse) -> gbstats' (chance to win, expected, ci, sd, risk)
CASES = {
    "proportion, flat prior": (
        BUTTON, GaussianPrior(), False,
        (0.7795015709577936, 0.042574073200517724, (-0.06572244018288362, 0.15087058658391903),
         0.05525433846623223, (0.04956825535197554, 0.006994182151457813)),
    ),
    "proportion, proper prior N(0, 0.3^2)": (
        BUTTON, GaussianPrior(0.0, 0.09, True), False,
        (0.7757042881856686, 0.04117723084612228, (-0.06532787835313296, 0.1476823400453775),
         0.054340339944689765, (0.048209746902659625, 0.0070325160565373485)),
    ),
    "proportion, inverse metric": (
        BUTTON, GaussianPrior(), True,
        (0.2204984290422064, 0.042574073200517724, (-0.06572244018288362, 0.15087058658391903),
         0.05525433846623223, (0.006994182151457813, 0.04956825535197554)),
    ),
    "means, tiny n (3 and 2 units), prior N(0.1, 0.25)": (
        moments(3, 2.0, 1.0, 2, 3.5, 0.5), GaussianPrior(0.1, 0.25, True), False,
        (0.8491054401390399, 0.38623853211009174, (-0.3468725150597317, 1.119349579279915),
         0.3740431216861686, (0.4155148286309739, 0.0292762965208822)),
    ),
    "means, huge effect (beyond 37 sd)": (
        moments(100_000, 1.0, 0.01000010000100001, 100_000, 1.5, 0.01000010000100001),
        GaussianPrior(), False,
        (1.0, 0.5, (0.4988826430285752, 0.5011173569714248), 0.0005700905630095103, (0.5, 0.0)),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_gbstats_effect_bayesian_ab_test(name: str) -> None:
    (estimate, se), prior, inverse, expected = CASES[name]
    ctw, mean, (low, high), sd, (risk_control, risk_treatment) = expected
    post = effect_posterior(estimate, se, prior, 0.05, inverse)
    assert post is not None
    got = (post.chance_to_win, post.mean, post.ci_low, post.ci_high, post.sd)
    assert got == pytest.approx((ctw, mean, low, high, sd), abs=1e-6, rel=1e-6)
    # gbstats' risk is [control, treatment]: the expected loss of keeping each
    assert post.risk_control == pytest.approx(risk_control, abs=1e-6)
    assert post.risk_treatment == pytest.approx(risk_treatment, abs=1e-6)


def test_risk_is_the_closed_form_expected_loss() -> None:
    # E[max(X, 0)] = mu Phi(mu/s) + s phi(mu/s) for X ~ N(mu, s^2) (a standard result; e.g.
    # the "expected shortfall" of a normal), and E[max(-X, 0)] by symmetry
    for mu, s in [(0.04, 0.055), (-0.2, 0.01), (0.0, 1.0), (3e-5, 2e-3)]:
        z = mu / s
        gain = mu * sps.norm.cdf(z) + s * sps.norm.pdf(z)
        loss = -mu * sps.norm.cdf(-z) + s * sps.norm.pdf(z)
        assert risk(mu, s) == pytest.approx((gain, loss), rel=1e-9, abs=1e-15)


def test_flat_prior_matches_the_z_test_and_a_simulation() -> None:
    estimate, se = BUTTON
    post = effect_posterior(estimate, se)
    assert post is not None
    z_p = 2 * sps.norm.sf(abs(estimate) / se)  # the flat posterior's tails are the z test's
    assert 2 * min(post.chance_to_win, 1 - post.chance_to_win) == pytest.approx(z_p, rel=1e-12)
    draws = np.random.default_rng(7).normal(post.mean, post.sd, 2_000_000)
    assert np.mean(draws > 0) == pytest.approx(post.chance_to_win, abs=2e-3)
    assert np.mean(np.maximum(-draws, 0)) == pytest.approx(post.risk_treatment, rel=2e-2)


def test_degenerate_inputs() -> None:
    # zero variance: the data carry no likelihood; a proper prior is the posterior (as the
    # current gbstats, packages/stats/gbstats/bayesian/tests.py; gbstats 0.8.0 refuses it)
    post = effect_posterior(1.0, 0.0, GaussianPrior(0.05, 0.01, True))
    assert post is not None and (post.mean, post.sd) == (0.05, pytest.approx(0.1))
    assert effect_posterior(1.0, 0.0) is None  # and a flat prior leaves nothing
    assert effect_posterior(float("nan"), 0.1) is None
    assert effect_posterior(0.1, float("inf")) is None
    far = effect_posterior(-1e6, 1e-6)
    assert far is not None and far.chance_to_win == 0.0
    assert (far.risk_control, far.risk_treatment) == (0.0, 1e6)
    with pytest.raises(ValueError, match="positive variance"):
        GaussianPrior(0.0, 0.0, True)
    with pytest.raises(ValueError, match="alpha"):
        effect_posterior(0.1, 0.1, alpha=1.0)
