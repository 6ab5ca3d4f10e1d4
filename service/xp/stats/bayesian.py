"""GrowthBook's effect-based Bayesian test: a Gaussian prior on the lift, a Gaussian posterior.

The data's lift (estimate ``d``, standard error ``s``: the same delta-method moments the
frequentist test reads) is the likelihood ``N(d, s^2)``; the prior is ``N(m, v)`` when proper
and flat when not. The posterior precision is ``1/s^2 + 1/v`` (``1/s^2`` for a flat prior),
its mean ``(d/s^2 + m/v) / precision`` (``d`` for a flat prior). From the posterior:

- chance to win ``P(lift > 0)`` (``P(lift < 0)`` for a metric where lower is better);
- the ``1 - alpha`` credible interval (equal tails);
- risk, the expected loss: ``E[max(-lift, 0)]`` of choosing the treatment and
  ``E[max(lift, 0)]`` of keeping the control (swapped when lower is better).

The decision rule (:class:`BayesianRule`, GrowthBook's): a treatment is **better** when its
chance to win is at least ``chance_to_win`` (default 95%) *and* its risk is at most
``risk_threshold`` (default 0.0025: 0.25% of the control's mean, GrowthBook's
``DEFAULT_WIN_RISK_THRESHOLD``); **worse** when its chance to lose ``1 - chance to win`` is
at least ``chance_to_win``; otherwise inconclusive. Each verdict says in words which rule
fired. There is no correction for multiple comparisons: each posterior is read alone.

This follows ``gbstats.bayesian.tests.EffectBayesianABTest`` (GrowthBook, packages/stats,
``compute_result`` and ``get_risk``, including the short cut beyond 37 standard deviations);
reference values in tests/stats/test_bayesian.py come from that class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

from xp.stats.frequentist import Effect, Estimate, FloatArray, LiftMoments, LiftResult
from xp.stats.sufficient import finite_or_none

# Beyond this many standard deviations one tail's probability is 0 in float64 (gbstats).
TAIL_LIMIT = 37.0
# GrowthBook's defaults: a 95% chance to win, and a win risk of 0.25% of the control's mean
# (shared/constants.ts, DEFAULT_WIN_RISK_THRESHOLD = 0.0025).
DEFAULT_CHANCE_TO_WIN = 0.95
SQRT_TAU = math.sqrt(2.0 * math.pi)
DEFAULT_RISK_THRESHOLD = 0.0025

Outcome = Literal["better", "worse"]


@dataclass(frozen=True, slots=True)
class GaussianPrior:
    """A prior on the lift (relative unless said otherwise); ``proper=False`` is flat."""

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError(f"prior mean must be finite, got {self.mean!r}")
        if self.proper and not (math.isfinite(self.variance) and self.variance > 0):
            raise ValueError(f"a proper prior needs a positive variance, got {self.variance!r}")


@dataclass(frozen=True, slots=True)
class Posterior:
    """The posterior of one lift, with the readings GrowthBook reports."""

    mean: float
    sd: float
    ci_low: float
    ci_high: float
    chance_to_win: float
    risk_treatment: float  # expected loss of shipping the treatment
    risk_control: float  # expected loss of keeping the control


def effect_posterior(
    estimate: float,
    se: float,
    prior: GaussianPrior = GaussianPrior(),  # noqa: B008 - frozen, so shared safely
    alpha: float = 0.05,
    inverse: bool = False,
) -> Posterior | None:
    """The posterior of the lift; ``None`` when it is undefined (no data and a flat prior).

    ``se == 0`` (zero variance) means the data say nothing (gbstats reads a zero variance as
    no likelihood): the posterior is the prior when proper.
    """
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not (math.isfinite(estimate) and math.isfinite(se)) or se < 0:
        return None
    means, sds = posterior_moments(estimate, se * se, prior)
    mean, sd = float(means), float(sds)
    if not math.isfinite(sd):
        return None
    above = float(ndtr(mean / sd))  # P(lift > 0); the scipy.special ufuncs, not the slow
    # scipy.stats.norm wrappers: the same numbers, a tenth of the time per comparison
    low, high = (float(mean + sd * ndtri(q)) for q in (alpha / 2, 1 - alpha / 2))
    keep_control, ship = risk(mean, sd)  # losses when higher is better
    if inverse:
        keep_control, ship = ship, keep_control
    return Posterior(
        mean=mean,
        sd=sd,
        ci_low=low,
        ci_high=high,
        chance_to_win=1.0 - above if inverse else above,
        risk_treatment=ship,
        risk_control=keep_control,
    )


def posterior_moments(
    estimate: ArrayLike, data_variance: ArrayLike, prior: GaussianPrior
) -> tuple[FloatArray, FloatArray]:
    """The posterior mean and SD of many lifts at once (``nan`` SD where undefined).

    Precision ``1/s^2 + 1/v`` and mean ``(d/s^2 + m/v) / precision`` (gbstats'
    ``compute_result``); a zero data variance carries no likelihood.
    """
    d = np.asarray(estimate, dtype=np.float64)
    var = np.asarray(data_variance, dtype=np.float64)
    informative = var > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        data_precision = np.where(informative, 1.0 / var, 0.0)
        if not prior.proper:
            mean = np.where(informative, d, 0.0)
            sd = np.where(informative, np.sqrt(var), np.nan)
            return mean, sd
        precision = data_precision + 1.0 / prior.variance
        weighted = np.where(informative, d * data_precision, 0.0) + prior.mean / prior.variance
        return weighted / precision, np.sqrt(1.0 / precision)


def risk(mean: float, sd: float) -> tuple[float, float]:
    """``(E[max(lift, 0)], E[max(-lift, 0)])`` for ``lift ~ N(mean, sd^2)``: the expected
    loss of keeping the control, then of shipping the treatment (higher is better)."""
    keep_control, ship = risks(mean, sd)
    return float(keep_control), float(ship)


def risks(mean: ArrayLike, sd: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """:func:`risk` of many posteriors at once.

    gbstats writes each as a tail probability times a truncated normal's mean; the closed
    form is the same number, ``E[max(X, 0)] = mu Phi(mu/s) + s phi(mu/s)`` and
    ``E[max(-X, 0)] = s phi(mu/s) - mu Phi(-mu/s)``, and 100 times faster than
    ``scipy.stats.truncnorm``. Beyond :data:`TAIL_LIMIT` SDs the far tail is 0, as gbstats.
    """
    mu = np.asarray(mean, dtype=np.float64)
    s = np.asarray(sd, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = mu / s
        density = s * np.exp(-0.5 * z * z) / SQRT_TAU  # s phi(z)
        gain = mu * ndtr(z) + density
        loss = density - mu * ndtr(-z)
    far = np.abs(z) > TAIL_LIMIT
    # max(.., 0): the two terms cancel to a rounding error deep in a tail
    gain = np.where(far, np.maximum(mu, 0.0), np.maximum(gain, 0.0))
    loss = np.where(far, np.maximum(-mu, 0.0), np.maximum(loss, 0.0))
    return gain, loss


def bayesian_result(
    m: LiftMoments,
    alpha: float = 0.05,
    prior: GaussianPrior = GaussianPrior(),  # noqa: B008 - frozen, so shared safely
) -> LiftResult:
    """A comparison's posterior on both scales, as the :class:`LiftResult` every renderer reads.

    Each :class:`Estimate` carries the posterior mean (``estimate``), its SD (``se``), the
    equal-tailed credible interval, and as ``p_value`` the two-sided posterior tail
    probability ``2 min(P(lift > 0), P(lift < 0))``, shown beside the others but never used
    to decide: :class:`BayesianRule` reads the chance to win and the risk. The prior is on
    the relative lift; the absolute scale takes it times the control's mean (gbstats'
    ``prior_type="relative"``), the raw one when the arm is CUPED-adjusted.
    """
    control_mean = finite_or_none(m.control.mean)
    if m.reason is not None:
        relative, absolute = (
            Estimate.point(m.relative.estimate),
            Estimate.point(m.absolute.estimate),
        )
    else:
        # the raw control mean under CUPED, as relative lift divides by (gbstats' unadjusted_mean)
        reference = m.control.reference_mean
        scale = abs(reference) if math.isfinite(reference) else 0.0
        absolute_prior = (
            GaussianPrior(prior.mean * scale, prior.variance * scale**2, True)
            if prior.proper and scale > 0
            else GaussianPrior()
        )
        relative = _posterior_estimate(m.relative, prior, alpha)
        absolute = _posterior_estimate(m.absolute, absolute_prior, alpha)
    return LiftResult(
        absolute=absolute,
        relative=relative,
        control_mean=control_mean,
        treatment_mean=finite_or_none(m.treatment.mean),
        method="bayesian",
        reason=m.reason,
    )


def readings(estimate: Estimate, direction: str) -> dict[str, float] | None:
    """Chance to win and risk of one posterior (``estimate`` and ``se`` of a Bayesian
    :class:`Estimate`), for a metric whose better ``direction`` is given."""
    mean, sd = estimate.estimate, estimate.se
    if mean is None or sd is None or not sd > 0:
        return None
    inverse = direction == "decrease"
    above = float(ndtr(mean / sd))
    keep_control, ship = risk(mean, sd)
    if inverse:
        keep_control, ship = ship, keep_control
    return {
        "chance_to_win": 1.0 - above if inverse else above,
        "risk_treatment": ship,
        "risk_control": keep_control,
    }


def _posterior_estimate(effect: Effect, prior: GaussianPrior, alpha: float) -> Estimate:
    se = math.sqrt(effect.variance) if effect.variance >= 0 else math.nan
    post = effect_posterior(effect.estimate, se, prior, alpha)
    if post is None:
        return Estimate.point(effect.estimate)
    tail = 2.0 * min(post.chance_to_win, 1.0 - post.chance_to_win)
    return Estimate.of(post.mean, post.sd, post.ci_low, post.ci_high, tail)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rule says of one comparison: ``better``, ``worse`` or ``None``, and why."""

    outcome: Outcome | None
    text: str


@dataclass(frozen=True, slots=True)
class BayesianRule:
    """When a posterior decides (see the module docstring); thresholds are fractions."""

    chance_to_win: float = DEFAULT_CHANCE_TO_WIN
    risk_threshold: float = DEFAULT_RISK_THRESHOLD

    def __post_init__(self) -> None:
        # Below 50% "better" and "worse" would both hold at once.
        if not (0.5 <= self.chance_to_win < 1):
            raise ValueError(f"chance_to_win must be in [0.5, 1), got {self.chance_to_win!r}")
        if not (math.isfinite(self.risk_threshold) and self.risk_threshold >= 0):
            raise ValueError(f"risk_threshold must be 0 or more, got {self.risk_threshold!r}")

    def better(self, chance_to_win: ArrayLike, risk_treatment: ArrayLike) -> NDArray[np.bool_]:
        """Whether each posterior passes the rule to ship (arrays for simulations)."""
        win, loss = np.asarray(chance_to_win), np.asarray(risk_treatment)
        return np.asarray((win >= self.chance_to_win) & (loss <= self.risk_threshold))

    def worse(self, chance_to_win: ArrayLike) -> NDArray[np.bool_]:
        """Whether each posterior's chance to lose reaches the rule's ``chance_to_win``."""
        return np.asarray(1.0 - np.asarray(chance_to_win) >= self.chance_to_win)

    def judge(self, reading: Mapping[str, float] | None) -> Verdict:
        """The verdict on one comparison's :func:`readings` (``None``: insufficient data)."""
        if reading is None:
            return Verdict(None, "insufficient data: no posterior to judge")
        win, risk_ = reading["chance_to_win"], reading["risk_treatment"]
        need, cap = self.chance_to_win, self.risk_threshold
        won = f"chance to win {_share(win, need)} >= {_share(need)}"
        if self.better(win, risk_):
            return Verdict("better", f"{won}, risk {_share(risk_, cap, 2)} <= {_share(cap)}")
        if win >= need:
            return Verdict(None, f"{won} but risk {_share(risk_, cap, 2)} > {_share(cap)}")
        if self.worse(win):
            lose = f"chance to lose {_share(1.0 - win, need)} >= {_share(need)}"
            return Verdict("worse", lose)
        return Verdict(
            None,
            f"chance to win {_share(win, need)}, neither >= {_share(need)} nor <= "
            f"{_share(1.0 - need)}",
        )

    def judge_result(self, result: LiftResult, direction: str) -> Verdict:
        """The verdict on a Bayesian result's relative posterior, for a metric whose better
        ``direction`` is given; an insufficient one (``reason``) gets none."""
        return self.judge(None if result.reason else readings(result.relative, direction))

    def to_dict(self) -> dict[str, float]:
        return {"chance_to_win": self.chance_to_win, "risk_threshold": self.risk_threshold}


def _share(value: float, threshold: float | None = None, digits: int = 1) -> str:
    """``value`` as a percentage; near ``threshold``, with digits enough not to read equal."""
    if threshold is None:
        return f"{value * 100:g}%"  # a threshold as written: 95%, 0.25%
    for more in range(digits, digits + 4):
        text = f"{value * 100:.{more}f}%"
        if value == threshold or float(text[:-1]) != round(threshold * 100, 9):
            return text
    return f"{value * 100:.{digits + 4}f}%"


@dataclass(frozen=True, slots=True)
class BayesianSettings:
    """One experiment's (or request's) Bayesian method: its prior and its decision rule."""

    prior: GaussianPrior = field(default_factory=GaussianPrior)
    rule: BayesianRule = field(default_factory=BayesianRule)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], thresholds: Mapping[str, float] | None = None
    ) -> BayesianSettings:
        """A definition's (validated) ``bayesian`` block, its prior also under the older name
        ``bayesian_prior``; each threshold in ``thresholds`` (a request's) overrides it.
        GrowthBook's defaults and a flat prior for what is not given."""
        block = config.get("bayesian") or {}
        prior = block.get("prior") or config.get("bayesian_prior") or {}
        names = ("chance_to_win", "risk_threshold")
        given = {k: v for k, v in {**block, **(thresholds or {})}.items() if k in names}
        return cls(GaussianPrior(**prior), BayesianRule(**given))

    def to_dict(self) -> dict[str, object]:
        p = self.prior
        prior = {"mean": p.mean, "variance": p.variance, "proper": p.proper}
        return {"prior": prior, **self.rule.to_dict()}
