"""Microseconds per local evaluation of a three-rule feature next to one experiment assignment.

The feature has the three kinds of rule of the README's example: a forced segment (a regex on
``email``, which no unit matches, so every unit goes on), a 20% rollout and an experiment
rule, so 80% of units reach the experiment and are assigned through it. The baseline is one
assignment of that experiment. Both are measured in the SDK (``Client.evaluate`` against
``Client.get_variant``, exposures deduplicated in both) and in the bare engine
(``evaluate_feature`` against ``assign_variant``), on the same units, interleaved over several
rounds; the figures are medians. Target (issue 14): the feature within 2x of the assignment.

    .venv/bin/python bench/features.py
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Mapping
from typing import Any

from xp_client import Client
from xp_client.definition import Experiment
from xp_client.engine import Assignment, assign_variant
from xp_client.features import compile_features, evaluate_feature

UNITS = [f"user-{i}" for i in range(10_000)]
ROUNDS = 7
EXPERIMENT: dict[str, Any] = {
    "key": "checkout-button",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
    "targeting": {"country": {"$in": ["US", "CA"]}},
}
FEATURE: dict[str, Any] = {
    "key": "new-checkout",
    "type": "boolean",
    "default": False,
    "enabled": True,
    "rules": [
        {"condition": {"email": {"$regex": "@example\\.com$"}}, "value": True},
        {"rollout": 0.2, "hash_attribute": "user_id", "value": True},
        {"experiment": "checkout-button", "values": {"control": False, "green": True}},
    ],
}
ATTRIBUTES = [{"user_id": u, "country": "US", "email": f"{u}@mail.test"} for u in UNITS]


def workloads() -> dict[str, Callable[[], None]]:
    sdk = Client.offline({"experiments": [EXPERIMENT], "features": [FEATURE]})
    experiment = Experiment.from_dict(EXPERIMENT)
    features = compile_features([FEATURE], None)
    feature = features["new-checkout"]

    def assign(key: str, _: None, attrs: Mapping[str, Any]) -> Assignment | None:
        return assign_variant(experiment, attrs)

    def sdk_assignment() -> None:
        for attrs in ATTRIBUTES:
            sdk.get_variant("checkout-button", attributes=attrs)

    def sdk_feature() -> None:
        for attrs in ATTRIBUTES:
            sdk.evaluate("new-checkout", attributes=attrs)

    def engine_assignment() -> None:
        for attrs in ATTRIBUTES:
            assign_variant(experiment, attrs)

    def engine_feature() -> None:
        for attrs in ATTRIBUTES:
            evaluate_feature(feature, attrs, features, assign)

    return {
        "sdk get_variant": sdk_assignment,
        "sdk evaluate": sdk_feature,
        "engine assign_variant": engine_assignment,
        "engine evaluate_feature": engine_feature,
    }


def per_call_us(fn: Callable[[], None]) -> float:
    return timeit.timeit(fn, number=3) / (3 * len(UNITS)) * 1e6


def main() -> None:
    runs = workloads()
    for fn in runs.values():  # warm: compile, fill the exposure caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):  # interleaved: a noisy neighbour hits every workload alike
        for name, fn in runs.items():
            times[name].append(per_call_us(fn))
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, us in median.items():
        print(f"{name:24s}: {us:.3f} us/call (median of {ROUNDS} rounds)")
    for layer in ("sdk", "engine"):
        base = median["sdk get_variant" if layer == "sdk" else "engine assign_variant"]
        feature = median["sdk evaluate" if layer == "sdk" else "engine evaluate_feature"]
        print(f"ratio ({layer:6s})         : {feature / base:.2f}x one assignment (target <= 2x)")


if __name__ == "__main__":
    main()
