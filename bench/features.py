"""Microseconds per local evaluation of a three-rule feature next to one experiment assignment.

The feature has the three kinds of rule of the README's example: a forced segment (a regex on
``email``, which no unit matches, so every unit goes on), a 20% rollout and an experiment
rule, so 80% of units reach the experiment and are assigned through it. The baseline is one
assignment of that experiment. Both are measured in the SDK (``Client.evaluate`` against
``Client.get_variant``, exposures deduplicated in both) and in the bare engine
(``evaluate_feature`` against ``assign_variant``), on the same units, interleaved over several
rounds; the figures are medians of CPU time with their spread (min-max). Target (issue 14):
the feature within 2x of the assignment.

The config carries a holdout (5%) that covers neither, so the figures include what the
holdout hook costs code that does not opt in; ``--behind`` puts both behind it instead.

``--callgrind`` counts instructions instead of time (valgrind must be installed): each
workload runs in its own ``valgrind --tool=callgrind`` process, once with ``--passes 0`` and
once with ``--passes P``, and the difference over ``P x 10,000`` calls is its cost per call,
free of the load other processes put on the machine.

    .venv/bin/python -m bench.features [--repeats 7] [--behind] [--callgrind]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
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


def holdout(behind: bool) -> dict[str, Any]:
    """A 5% holdout over other work, or (``behind``) over the experiment and the feature."""
    if behind:
        applies = {"experiments": [EXPERIMENT["key"]], "features": [FEATURE["key"]]}
    else:
        applies = {"experiments": ["another-experiment"], "features": ["another-feature"]}
    return {"key": "bench-holdout", "share": 0.05, "applies_to": applies}


def workloads(behind: bool = False) -> dict[str, Callable[[], None]]:
    config = {"experiments": [EXPERIMENT], "features": [FEATURE], "holdouts": [holdout(behind)]}
    sdk = Client.offline(config)
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
    # CPU time of this process: on a shared machine, time spent waiting for a core is not ours.
    return timeit.Timer(fn, timer=time.process_time).timeit(3) / (3 * len(UNITS)) * 1e6


def wall(repeats: int, behind: bool) -> dict[str, float]:
    runs = workloads(behind)
    for fn in runs.values():  # warm: compile, fill the exposure caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved: a noisy neighbour hits every workload alike
        for name, fn in runs.items():
            times[name].append(per_call_us(fn))
    for name, t in times.items():
        print(f"{name:24s}: {statistics.median(t):7.3f} us/call, spread {min(t):.3f}-"
              f"{max(t):.3f} (median of {repeats} rounds)")  # fmt: skip
    return {name: statistics.median(t) for name, t in times.items()}


def instructions(name: str, passes: int, behind: bool) -> int:
    """Instructions callgrind counts for a process running ``name`` ``passes`` times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                   "-m", "bench.features", "--only", name, "--passes", str(passes)]  # fmt: skip
        if behind:
            command.append("--behind")
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found, done.stderr[-2000:]
        return int(found.group(1))


def counted(passes: int, behind: bool) -> dict[str, float]:
    per_call = {}
    for name in workloads(behind):
        cost = instructions(name, passes, behind) - instructions(name, 0, behind)
        per_call[name] = cost / (passes * len(UNITS))
        print(f"{name:24s}: {per_call[name]:9.0f} instructions/call (callgrind, {passes} passes)")
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=ROUNDS)
    parser.add_argument("--behind", action="store_true", help="both behind the holdout")
    parser.add_argument("--callgrind", action="store_true", help="instruction counts")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one workload, for callgrind
    parser.add_argument("--passes", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        runs = workloads(args.behind)
        runs[args.only]()  # warm (compile, exposure caches): in both runs, so it cancels out
        for _ in range(args.passes):
            runs[args.only]()
        return
    measure = (
        counted(args.passes, args.behind) if args.callgrind else wall(args.repeats, args.behind)
    )
    unit = "instructions" if args.callgrind else "time"
    for layer in ("sdk", "engine"):
        base = measure["sdk get_variant" if layer == "sdk" else "engine assign_variant"]
        feature = measure["sdk evaluate" if layer == "sdk" else "engine evaluate_feature"]
        print(f"ratio ({layer:6s}, {unit}): {feature / base:.2f}x one assignment (target < 2x)")


if __name__ == "__main__":
    main()
