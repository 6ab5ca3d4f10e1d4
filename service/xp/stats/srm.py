"""Sample ratio mismatch: are exposure counts consistent with the configured weights?

A chi-square goodness-of-fit test (Pearson 1900; the SRM check of Fabijan et al. 2019 and of
gbstats ``utils.check_srm``). An alarm at ``p < 0.001`` means assignment or logging is broken
and no lift from the experiment should be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """Observed and expected counts (in variant order), the p-value and the alarm."""

    observed: tuple[float, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    alarm: bool
    threshold: float = SRM_THRESHOLD

    def to_dict(self, keys: Sequence[str] | None = None) -> dict[str, Any]:
        """JSON shape of the results document; counts keyed by ``keys`` when given."""
        observed: Any = list(self.observed)
        expected: Any = list(self.expected)
        if keys is not None:
            observed = dict(zip(keys, self.observed, strict=True))
            expected = dict(zip(keys, self.expected, strict=True))
        return {
            "p_value": self.p_value,
            "alarm": self.alarm,
            "threshold": self.threshold,
            "chi2": self.chi2,
            "observed": observed,
            "expected": expected,
        }


def srm_test(
    observed: Sequence[float], weights: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square test of ``observed`` counts against ``weights`` (any positive scale).

    No units at all gives ``p = 1`` and no alarm. A variant with weight 0 is left out of the
    test while it has no units; a unit in it is a mismatch by itself (``p = 0``).
    """
    if len(observed) != len(weights):
        raise ValueError(f"{len(observed)} counts but {len(weights)} weights")
    if any(w < 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights!r}")
    if any(o < 0 for o in observed):
        raise ValueError(f"counts must be non-negative, got {observed!r}")
    total = float(sum(observed))
    total_weight = float(sum(weights))
    expected = tuple(total * w / total_weight for w in weights)
    obs = tuple(float(o) for o in observed)
    if total == 0:
        return SrmResult(obs, expected, 0.0, 1.0, False, threshold)
    if any(e == 0 and o > 0 for o, e in zip(obs, expected, strict=True)):
        return SrmResult(obs, expected, float("inf"), 0.0, True, threshold)
    cells = [(o, e) for o, e in zip(obs, expected, strict=True) if e > 0]
    if len(cells) < 2:
        return SrmResult(obs, expected, 0.0, 1.0, False, threshold)
    # Pearson's statistic sum (O - E)^2 / E ~ chi2(k - 1) under H0
    chi2 = sum((o - e) ** 2 / e for o, e in cells)
    p = float(sps.chi2.sf(chi2, len(cells) - 1))
    return SrmResult(obs, expected, float(chi2), p, p < threshold, threshold)
