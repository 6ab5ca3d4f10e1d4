"""How long, and how many, conversions wait for their unit's exposure (docs/storage.md).

A conversion whose unit has no exposure yet in an experiment is held instead of being counted
``not_exposed`` for good: the exposure may still come (from another SDK process, or a
server-side event that travelled faster). When it arrives within the grace period, each held
conversion is attributed as if it had come after it (same window, same exactly-once rule).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOLD_SECONDS = 86_400.0  # XP_HOLD_SECONDS
MAX_HELD_PER_UNIT = 32  # beyond this a unit's next unmatched conversion is not_exposed at once
SWEEP_PER_WRITE = 8  # expired units each write of an experiment settles (amortised clean-up)


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """The grace period (seconds after the store received a conversion) and per-unit cap."""

    seconds: float = DEFAULT_HOLD_SECONDS
    per_unit: int = MAX_HELD_PER_UNIT

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ValueError(f"the hold period must be >= 0 seconds, got {self.seconds!r}")
        if self.per_unit < 0:
            raise ValueError(f"the per-unit hold cap must be >= 0, got {self.per_unit!r}")

    def expires(self, received: float) -> float:
        """When a conversion received at ``received`` stops waiting: held while ``now <`` it."""
        return received + self.seconds
