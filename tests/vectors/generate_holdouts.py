"""Writes ``holdout_vectors.json``. Run once; the JSON is the contract, not this script.

Expected values come from this file's own reading of the holdout rule (the independent
murmur3 of ``murmur3.py``, the ranges ``[0, share)`` held out and ``[0.5, 0.5 + share)``
the comparison group, written out), never from the engine. Each case pins the answer and
the holdout exposures the evaluation logs. Run from this folder: ``python generate_holdouts.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from murmur3 import bucket

OUT = Path(__file__).with_name("holdout_vectors.json")


def experiment(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "status": "running",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
        "metrics": [{"name": "converted", "event": "purchase", "kind": "binomial"}],
    }


EXPERIMENTS = [experiment("ho-exp"), experiment("free-exp")]
FEATURES: list[dict[str, Any]] = [
    {  # opted in: a rollout and an experiment rule (whose experiment is opted in too)
        "key": "ho-flag",
        "type": "string",
        "default": "off",
        "environments": {
            "production": {
                "enabled": True,
                "rules": [
                    {"rollout": 0.3, "value": "rolled"},
                    {"experiment": "ho-exp", "values": {"control": "c", "treatment": "t"}},
                ],
            }
        },
    },
    {  # not opted in: everyone gets its force rule
        "key": "free-flag",
        "type": "boolean",
        "default": False,
        "environments": {"production": {"enabled": True, "rules": [{"value": True}]}},
    },
]
HOLDOUTS: list[dict[str, Any]] = [
    {
        "key": "vec-holdout",
        "share": 0.25,
        "salt": "vec-holdout-salt",
        "applies_to": {"experiments": ["ho-exp"], "features": ["ho-flag"]},
        "metrics": [{"name": "converted", "event": "purchase", "kind": "binomial"}],
    },
    {"key": "vec-stopped", "share": 0.5, "status": "stopped", "applies_to": "all"},
]
USERS = [f"h-{i}" for i in range(40)]


def group(holdout: dict[str, Any], unit: str) -> str | None:
    """``holdout``, ``comparison`` or None (neither, or a stopped holdout), by hand."""
    if holdout.get("status", "running") != "running":
        return None
    b = bucket(holdout.get("salt") or holdout["key"], unit)
    if b < holdout["share"] * 10_000:
        return "holdout"
    if 5_000 <= b < 5_000 + holdout["share"] * 10_000:
        return "comparison"
    return None


def covers(holdout: dict[str, Any], kind: str, key: str) -> bool:
    applies = holdout.get("applies_to", "all")
    return applies == "all" or key in applies.get(kind, [])


def behind(kind: str, key: str, unit: str, logged: dict[str, str]) -> str | None:
    """The holdout (in key order) that holds ``unit`` out of ``key``; logs each one reached."""
    for holdout in sorted(HOLDOUTS, key=lambda h: h["key"]):
        if not covers(holdout, kind, key):
            continue
        got = group(holdout, unit)
        if got is not None:
            logged[holdout["key"]] = got
        if got == "holdout":
            return str(holdout["key"])
    return None


def variant(key: str, unit: str) -> str:
    return "control" if bucket(key, unit) < 5_000 else "treatment"


def assignment(key: str, unit: str, logged: dict[str, str]) -> dict[str, Any]:
    if behind("experiments", key, unit, logged) is not None:
        return {"variant": "control", "payload": None, "in_experiment": False, "reason": "holdout"}
    picked = variant(key, unit)
    return {"variant": picked, "payload": None, "in_experiment": True, "reason": "assigned"}


def evaluation(key: str, unit: str, logged: dict[str, str]) -> dict[str, Any]:
    feature = next(f for f in FEATURES if f["key"] == key)
    by = behind("features", key, unit, logged)
    if by is not None:
        held = {"value": feature["default"], "source": "holdout", "rule_index": None}
        return {**held, "experiment": by, "variant": "holdout"}
    for i, rule in enumerate(feature["environments"]["production"]["rules"]):
        if "rollout" in rule:
            if bucket(key, unit) < rule["rollout"] * 10_000:
                return {"value": rule["value"], "source": "rollout", "rule_index": i}
            continue
        if "experiment" in rule:
            got = assignment(rule["experiment"], unit, logged)
            if got["in_experiment"]:
                picked = got["variant"]
                return {
                    "value": rule["values"][picked],
                    "source": "experiment",
                    "rule_index": i,
                    "experiment": rule["experiment"],
                    "variant": picked,
                }
            continue
        return {"value": rule["value"], "source": "force", "rule_index": i}
    return {"value": feature["default"], "source": "default", "rule_index": None}


def main() -> None:
    cases = []
    for unit in USERS:
        for kind, keys in (("experiment", EXPERIMENTS), ("feature", FEATURES)):
            for item in keys:
                logged: dict[str, str] = {}
                judge = assignment if kind == "experiment" else evaluation
                expected = judge(item["key"], unit, logged)
                cases.append(
                    {
                        "kind": kind,
                        "key": item["key"],
                        "user_id": unit,
                        "expected": expected,
                        "holdout_exposures": logged,
                    }
                )
    document = {
        "description": "Pinned holdout answers: the engine, POST /v1/assign, POST /v1/evaluate "
        "and the SDK all pass, in environment 'production'. 'holdout_exposures' maps each "
        "holdout the case logs an exposure of to its group.",
        "experiments": EXPERIMENTS,
        "features": FEATURES,
        "holdouts": HOLDOUTS,
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
