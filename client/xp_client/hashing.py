"""The one hash that places a unit: ``mmh3(salt:unit) % 10_000``."""

from __future__ import annotations

import mmh3

BUCKETS = 10_000


def bucket(salt: str, unit_id: str) -> int:
    """Bucket in ``[0, 10_000)`` of ``unit_id`` under ``salt`` (murmur3 x86 32-bit, seed 0)."""
    return mmh3.hash(f"{salt}:{unit_id}", seed=0, signed=False) % BUCKETS
