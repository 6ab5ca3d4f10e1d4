"""Writes ``feature_vectors.json``. Run once; the JSON is the contract, not this script.

Expected values come from this file's own reading of the feature rules (the independent
murmur3 of ``murmur3.py``, range arithmetic written out, and conditions answered by hand),
never from the engine. Run from this folder: ``python generate_features.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from murmur3 import bucket

OUT = Path(__file__).with_name("feature_vectors.json")
ENVIRONMENTS = ("production", "staging", "dev")  # dev: named by no feature file


def experiment(key: str, variants: list[str], coverage: float, countries: list[str] | None):
    weight = 1 / len(variants)
    out: dict[str, Any] = {
        "key": key,
        "name": key,
        "status": "running",
        "variants": [{"key": v, "weight": weight} for v in variants],
        "coverage": coverage,
        "metrics": [{"name": "converted", "event": "purchase", "kind": "binomial"}],
    }
    if countries:
        out["targeting"] = {"country": {"$in": countries}}
    return out


EXPERIMENTS = [
    experiment("vec-exp", ["control", "treatment"], 1.0, None),
    experiment("vec-partial", ["a", "b"], 0.4, ["US", "CA"]),
]

FEATURES: list[dict[str, Any]] = [
    {
        "key": "force-seg",
        "type": "boolean",
        "default": False,
        "environments": {
            "production": {
                "enabled": True,
                "rules": [{"condition": {"country": "US"}, "value": True}],
            },
            "staging": {"enabled": False, "rules": [{"value": True}]},
        },
    },
    {
        "key": "rollout-30",
        "type": "string",
        "default": "off",
        "environments": {
            "production": {"enabled": True, "rules": [{"rollout": 0.3, "value": "on"}]},
            "staging": {
                "enabled": True,
                "rules": [{"rollout": 0.7, "hash_attribute": "device_id", "value": "on"}],
            },
        },
    },
    {
        "key": "exp-flag",
        "type": "number",
        "default": 0,
        "environments": {
            "production": {
                "enabled": True,
                "rules": [
                    {"condition": {"plan": "pro"}, "value": 99},
                    {"rollout": 0.1, "value": 1},
                    {"experiment": "vec-exp", "values": {"control": 10, "treatment": 20}},
                ],
            },
            "staging": {"enabled": True, "rules": [{"value": 5}]},
        },
    },
    {
        "key": "child",
        "type": "json",
        "default": {"v": 0},
        "prerequisites": [{"feature": "force-seg", "value": True}],
        "environments": {
            "production": {"enabled": True, "rules": [{"value": {"v": 1}}]},
            "staging": {"enabled": True, "rules": [{"value": {"v": 2}}]},
        },
    },
    {
        "key": "grandchild",
        "type": "boolean",
        "default": False,
        "prerequisites": [{"feature": "child", "value": {"v": 1}}],
        "environments": {
            "production": {"enabled": True, "rules": [{"rollout": 0.5, "value": True}]},
        },
    },
    {
        "key": "killed",
        "type": "boolean",
        "default": True,
        "environments": {
            "production": {"enabled": False, "rules": [{"value": False}]},
            "staging": {"enabled": True, "rules": [{"value": False}]},
        },
    },
    {
        "key": "fallthrough",
        "type": "string",
        "default": "d",
        "environments": {
            "production": {
                "enabled": True,
                "rules": [
                    {"experiment": "vec-partial", "values": {"a": "A", "b": "B"}},
                    {"value": "rest"},
                ],
            },
            "staging": {"enabled": True, "rules": []},
        },
    },
    {  # refused everywhere (a string in a boolean feature): unknown to the SDK and service
        "key": "bad-type",
        "type": "boolean",
        "default": False,
        "environments": {
            "production": {"enabled": True, "rules": [{"value": "yes"}]},
            "staging": {"enabled": False, "rules": [{"condition": {"country": "US"}, "value": 1}]},
        },
    },
]

USERS = [
    {"user_id": "u-1", "country": "US"},
    {"user_id": "u-2", "country": "CA", "device_id": "d-2"},
    {"user_id": "u-3", "country": "DE", "plan": "pro"},
    {"user_id": "u-4", "country": "US", "plan": "free", "device_id": "d-4"},
    {"user_id": "user-5@example.com", "country": "FR", "device_id": "d-5"},
    {"user_id": "u-6", "country": "CA"},
    {"user_id": "u-7", "country": "US", "device_id": "d-7"},
    {"user_id": "u-8", "country": "JP", "device_id": "d-8"},
] + [
    {"user_id": f"w-{i}", "country": ("US", "CA", "GB")[i % 3], "device_id": f"dev-{i}"}
    for i in range(12)
]


def in_experiment(key: str, attrs: dict[str, Any]) -> str | None:
    """The variant the experiment gives, by hand: targeting, then the bucket's range."""
    exp = next(e for e in EXPERIMENTS if e["key"] == key)
    countries = (exp.get("targeting") or {}).get("country", {}).get("$in")
    if countries is not None and attrs.get("country") not in countries:
        return None
    b = bucket(key, attrs["user_id"])
    start = 0.0
    for v in exp["variants"]:
        if start * 10_000 <= b < (start + exp["coverage"] * v["weight"]) * 10_000:
            return str(v["key"])
        start += v["weight"]
    return None


def condition_holds(condition: dict[str, Any], attrs: dict[str, Any]) -> bool:
    # The vectors use only equality conditions: {attribute: value}.
    return all(attrs.get(k) == v for k, v in condition.items())


def expected(key: str, environment: str, attrs: dict[str, Any]) -> dict[str, Any]:
    feature = next(f for f in FEATURES if f["key"] == key)
    default = feature["default"]
    if key == "bad-type":
        return {"value": None, "source": "unknown_feature", "rule_index": None}
    env = feature["environments"].get(environment)
    if env is None or not env["enabled"]:
        return {"value": default, "source": "disabled", "rule_index": None}
    for p in feature.get("prerequisites", []):
        if expected(p["feature"], environment, attrs)["value"] != p["value"]:
            return {"value": default, "source": "prerequisite", "rule_index": None}
    for i, rule in enumerate(env["rules"]):
        if "experiment" in rule:
            variant = in_experiment(rule["experiment"], attrs)
            if variant is not None:
                return {
                    "value": rule["values"][variant],
                    "source": "experiment",
                    "rule_index": i,
                    "experiment": rule["experiment"],
                    "variant": variant,
                }
            continue
        if "condition" in rule and not condition_holds(rule["condition"], attrs):
            continue
        if "rollout" in rule:
            unit = attrs.get(rule.get("hash_attribute", "user_id"))
            if unit is not None and bucket(key, unit) < rule["rollout"] * 10_000:
                return {"value": rule["value"], "source": "rollout", "rule_index": i}
            continue
        return {"value": rule["value"], "source": "force", "rule_index": i}
    return {"value": default, "source": "default", "rule_index": None}


def main() -> None:
    cases = [
        {
            "environment": environment,
            "feature": f["key"],
            "attributes": attrs,
            "expected": expected(f["key"], environment, attrs),
        }
        for environment in ENVIRONMENTS
        for f in FEATURES
        for attrs in USERS
        # A refused file is unknown everywhere; where it names no environment the SDK would
        # get nothing wrong to refuse, so only the environments it names are pinned.
        if f["key"] != "bad-type" or environment in f["environments"]
    ]
    document = {
        "description": "Pinned feature evaluations: the engine, POST /v1/evaluate and the SDK "
        "all pass. 'experiments' and 'features' are the definitions (feature files name every "
        "environment); each case is judged in its 'environment'. A refused feature "
        "(bad-type) answers source unknown_feature with value null.",
        "experiments": EXPERIMENTS,
        "features": FEATURES,
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
