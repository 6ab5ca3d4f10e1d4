"""Event times kept to the millisecond: ``round_ms`` is ``round(ts, 3)`` to the bit."""

from __future__ import annotations

import math
import random

from xp.events.model import Conversion, Exposure
from xp.events.values import round_ms


def same(a: float, b: float) -> bool:
    """Equal as doubles, sign of zero and nan included."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def neighbours(x: float) -> list[float]:
    return [x, math.nextafter(x, -math.inf), math.nextafter(x, math.inf)]


def test_round_ms_is_round_to_three_places_on_event_times() -> None:
    rng = random.Random(11)
    values: list[float] = []
    for _ in range(20_000):
        values.extend(neighbours(rng.uniform(946_684_800, 2_100_000_000)))  # plain times
        values.extend(neighbours(rng.uniform(0, 2**33)))
        # Exact half milliseconds and their neighbours: where rounding the product could err.
        values.extend(neighbours((rng.randrange(0, 2**33 * 1000) + 0.5) / 1000))
        values.append(rng.randrange(946_684_800_000, 2_100_000_000_000) / 1000)  # whole ms
    bad = [x for x in values if not same(round_ms(x), round(x, 3))]
    assert bad == []


def test_round_ms_leaves_what_it_does_not_speed_up_to_round() -> None:
    edges = [0.0, -0.0, 0.0004, 0.0005, 0.0015, -0.0004, -1.2345, 2.0**33, 2.0**33 + 0.0625]
    edges += [1e300, -1e300, 5e-324, math.inf, -math.inf, math.nan, 0.0625, 0.1235]
    for x in edges:
        assert same(round_ms(x), round(x, 3)), x


def test_events_keep_their_time_to_the_millisecond() -> None:
    exposure = Exposure("exp", "u-1", "control", 1_800_000_000.123_456)
    assert exposure.ts == 1_800_000_000.123
    assert exposure.event_id == "exposure:exp:u-1"
    assert exposure.attributes == {} and exposure.covariates == {}
    conversion = Conversion("purchase", "u-1", 2.5, 1_800_000_000.000_5, "e-1")
    assert conversion.ts == round(1_800_000_000.000_5, 3)
    assert Exposure.create("exp", "u-1", "control", 1.0, {"a": 1}) == Exposure(
        "exp", "u-1", "control", 1.0, {"a": 1}, {}, ""
    )
