"""Adjusted p-values for many comparisons at once.

Holm (1979) controls the family-wise error rate (primary metrics x variants);
Benjamini & Hochberg (1995) the false discovery rate (secondary metrics, segments). Both
return adjusted p-values to compare with the unadjusted ``alpha``, in input order, and agree
with statsmodels' ``multipletests(method="holm" | "fdr_bh")``. ``nan`` (or ``None``) entries
are left out of the family and stay ``nan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from xp.stats.frequentist import FloatArray

Correction = Literal["holm", "bh", "none"]


def _as_p(p_values: ArrayLike | Sequence[float | None]) -> FloatArray:
    values = [np.nan if v is None else v for v in np.ravel(np.asarray(p_values, dtype=object))]
    p = np.asarray(values, dtype=np.float64)
    finite = p[np.isfinite(p)]
    if np.any((finite < 0) | (finite > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p_values!r}")
    return p


def holm(p_values: ArrayLike | Sequence[float | None]) -> FloatArray:
    """Holm step-down adjusted p-values."""
    p = _as_p(p_values)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    q = p[mask]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    # Holm 1979: p_(i) * (m - i + 1), made monotone with a running maximum, capped at 1
    steps = (m - np.arange(m)) * q[order]
    adjusted = np.minimum(np.maximum.accumulate(steps), 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[mask] = result
    return out


def benjamini_hochberg(p_values: ArrayLike | Sequence[float | None]) -> FloatArray:
    """Benjamini–Hochberg step-up adjusted p-values (q-values)."""
    p = _as_p(p_values)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    q = p[mask]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    # Benjamini & Hochberg 1995: p_(i) * m / i, made monotone from the largest down
    steps = q[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(steps[::-1])[::-1], 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[mask] = result
    return out


def adjust_p_values(p_values: ArrayLike | Sequence[float | None], method: Correction) -> FloatArray:
    """Adjust by name: ``holm``, ``bh`` or ``none`` (unchanged)."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return _as_p(p_values)
    raise ValueError(f"unknown correction {method!r}; expected 'holm', 'bh' or 'none'")
