"""The one hash that places a unit, ``mmh3(salt:unit) % 10_000``, and the ranges it falls in."""

from __future__ import annotations

import mmh3

BUCKETS = 10_000


def bucket(salt: str, unit_id: str) -> int:
    """Bucket in ``[0, 10_000)`` of ``unit_id`` under ``salt`` (murmur3 x86 32-bit, seed 0)."""
    return mmh3.hash(f"{salt}:{unit_id}", seed=0, signed=False) % BUCKETS


def bucket_ranges(weights: list[float], coverage: float) -> tuple[tuple[float, float], ...]:
    """Each variant owns ``[cum, cum + coverage * weight)`` of the buckets (GrowthBook's rule).

    Starts stay put when coverage grows, so raising coverage only adds units and never moves
    an included unit to another variant.
    """
    ranges: list[tuple[float, float]] = []
    cumulative = 0.0
    for weight in weights:
        start = cumulative * BUCKETS
        ranges.append((start, start + coverage * weight * BUCKETS))
        cumulative += weight
    return tuple(ranges)
