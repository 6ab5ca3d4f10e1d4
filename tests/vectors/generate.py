"""Writes ``assignment_vectors.json``. Run once; the JSON is the contract, not this script.

Expected values come from this file's own reading of the rules (an independent murmur3 and
range arithmetic, and conditions whose answers are written by hand), never from the engine.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from murmur3 import bucket

OUT = Path(__file__).with_name("assignment_vectors.json")


def hash_cases(rng: random.Random) -> list[dict[str, Any]]:
    fixed = [
        ("checkout-button", "u-42"),
        ("", ""),
        ("a", "b"),
        ("salt", "ユーザー"),
        ("search", "user@example.com"),
        ("x" * 40, "y" * 41),
        ("layer:checkout", "7"),
    ]
    cases = [{"salt": s, "unit_id": u, "bucket": bucket(s, u)} for s, u in fixed]
    for _ in range(73):
        salt = "".join(rng.choice("abcdefghij-0123") for _ in range(rng.randint(1, 20)))
        unit = "".join(rng.choice("ABCxyz0123456789-_@.") for _ in range(rng.randint(1, 30)))
        cases.append({"salt": salt, "unit_id": unit, "bucket": bucket(salt, unit)})
    return cases


def expected_range_index(weights: list[float], coverage: float, b: int) -> int | None:
    cumulative = 0.0
    for i, w in enumerate(weights):
        start = cumulative * 10_000
        if start <= b < start + coverage * w * 10_000:
            return i
        cumulative += w
    return None


def range_cases(rng: random.Random) -> list[dict[str, Any]]:
    cases = []
    splits = [
        [0.5, 0.5],
        [0.5, 0.3, 0.2],
        [0.34, 0.33, 0.33],
        [0.1, 0.9],
        [0.25] * 4,
        [1.0, 0.0],
        [0.0, 1.0],
        [0.5, 0.0, 0.5],
    ]
    edges = [
        0,
        1,
        499,
        500,
        999,
        1000,
        2499,
        2500,
        3333,
        3400,
        4999,
        5000,
        6699,
        6700,
        7999,
        8000,
        9999,
    ]
    for weights in splits:
        for coverage in (1.0, 0.5, 0.1):
            for b in rng.sample(edges, 4):
                cases.append(
                    {
                        "weights": weights,
                        "coverage": coverage,
                        "bucket": b,
                        "variant_index": expected_range_index(weights, coverage, b),
                    }
                )
    return cases


# (condition, attributes, expected): written out by hand.
CONDITIONS: list[tuple[Any, dict[str, Any], bool]] = [
    ({"country": "US"}, {"country": "US"}, True),
    ({"country": "US"}, {"country": "CA"}, False),
    ({"country": "US"}, {}, False),
    ({"country": {"$eq": "US"}}, {"country": "US"}, True),
    ({"country": {"$ne": "US"}}, {"country": "CA"}, True),
    ({"country": {"$ne": "US"}}, {}, True),
    ({"country": {"$ne": "US"}}, {"country": "US"}, False),
    ({"country": {"$in": ["US", "CA"]}}, {"country": "CA"}, True),
    ({"country": {"$in": ["US", "CA"]}}, {"country": "MX"}, False),
    ({"country": {"$in": ["US", "CA"]}}, {}, False),
    ({"tags": {"$in": ["beta"]}}, {"tags": ["alpha", "beta"]}, True),
    ({"tags": {"$in": ["beta"]}}, {"tags": ["alpha"]}, False),
    ({"country": {"$nin": ["US", "CA"]}}, {"country": "MX"}, True),
    ({"country": {"$nin": ["US", "CA"]}}, {"country": "US"}, False),
    ({"country": {"$nin": ["US"]}}, {}, True),
    ({"age": {"$gt": 18}}, {"age": 19}, True),
    ({"age": {"$gt": 18}}, {"age": 18}, False),
    ({"age": {"$gte": 18}}, {"age": 18}, True),
    ({"age": {"$lt": 18}}, {"age": 17.5}, True),
    ({"age": {"$lte": 18}}, {"age": 18.01}, False),
    ({"age": {"$gt": 18}}, {"age": "19"}, False),
    ({"age": {"$gt": 18}}, {}, False),
    ({"age": {"$gt": 18}}, {"age": True}, False),
    ({"age": {"$gte": 18, "$lt": 65}}, {"age": 30}, True),
    ({"age": {"$gte": 18, "$lt": 65}}, {"age": 65}, False),
    ({"name": {"$gt": "m"}}, {"name": "zed"}, True),
    ({"name": {"$gt": "m"}}, {"name": "abe"}, False),
    ({"email": {"$exists": True}}, {"email": "a@b.c"}, True),
    ({"email": {"$exists": True}}, {}, False),
    ({"email": {"$exists": True}}, {"email": None}, False),
    ({"email": {"$exists": False}}, {}, True),
    ({"email": {"$regex": "@example\\.com$"}}, {"email": "ann@example.com"}, True),
    ({"email": {"$regex": "@example\\.com$"}}, {"email": "ann@example.org"}, False),
    ({"email": {"$regex": "^a"}}, {"email": 7}, False),
    ({"$and": [{"country": "US"}, {"age": {"$gte": 21}}]}, {"country": "US", "age": 30}, True),
    ({"$and": [{"country": "US"}, {"age": {"$gte": 21}}]}, {"country": "US", "age": 20}, False),
    ({"$or": [{"country": "US"}, {"country": "CA"}]}, {"country": "CA"}, True),
    ({"$or": [{"country": "US"}, {"country": "CA"}]}, {"country": "FR"}, False),
    ({"$not": {"country": "US"}}, {"country": "FR"}, True),
    ({"$not": {"country": "US"}}, {"country": "US"}, False),
    ({"$nor": [{"country": "US"}, {"plan": "free"}]}, {"country": "FR", "plan": "pro"}, True),
    ({"$nor": [{"country": "US"}, {"plan": "free"}]}, {"country": "FR", "plan": "free"}, False),
    ({"age": {"$not": {"$gt": 65}}}, {"age": 70}, False),
    ({"age": {"$not": {"$gt": 65}}}, {"age": 40}, True),
    ({"country": "US", "plan": "pro"}, {"country": "US", "plan": "pro"}, True),
    ({"country": "US", "plan": "pro"}, {"country": "US", "plan": "free"}, False),
    ({"device.os": "ios"}, {"device": {"os": "ios"}}, True),
    ({"device.os": "ios"}, {"device": "ios"}, False),
    ({"beta": True}, {"beta": True}, True),
    ({"beta": True}, {"beta": 1}, False),
    ({"score": 1}, {"score": 1.0}, True),
    ({"app_version": {"$vgte": "2.0.0"}}, {"app_version": "2.0.0"}, True),
    ({"app_version": {"$vgte": "2.0.0"}}, {"app_version": "1.9.12"}, False),
    ({"app_version": {"$vgt": "2.0.0"}}, {"app_version": "2.0.10"}, True),
    ({"app_version": {"$vgt": "2.0.0"}}, {"app_version": "2.0.0-rc.1"}, False),
    ({"app_version": {"$vlt": "2.0.0"}}, {"app_version": "2.0.0-rc.1"}, True),
    ({"app_version": {"$vlt": "2.0.0-rc.10"}}, {"app_version": "2.0.0-rc.2"}, True),
    ({"app_version": {"$vlt": "2.0.0-rc.1"}}, {"app_version": "2.0.0-beta"}, True),
    ({"app_version": {"$veq": "2.0"}}, {"app_version": "v2.0.0"}, True),
    ({"app_version": {"$veq": "2.0.0"}}, {"app_version": "2.0.0+build.7"}, True),
    ({"app_version": {"$vlte": "10.0.0"}}, {"app_version": "9.99.99"}, True),
    ({"app_version": {"$vgte": "2.0.0"}}, {"app_version": "not-a-version"}, False),
    ({"app_version": {"$vgte": "2.0.0"}}, {"app_version": 2}, False),
    ({"app_version": {"$vgte": "2.0.0"}}, {}, False),
    ({"tags": {"$size": 2}}, {"tags": ["a", "b"]}, True),
    ({"tags": {"$all": ["a", "b"]}}, {"tags": ["b", "c", "a"]}, True),
    ({"tags": {"$all": ["a", "b"]}}, {"tags": ["b", "c"]}, False),
    ({"orders": {"$elemMatch": {"$gt": 100}}}, {"orders": [5, 150]}, True),
    ({"orders": {"$elemMatch": {"$gt": 100}}}, {"orders": [5, 50]}, False),
]


def condition_cases() -> list[dict[str, Any]]:
    return [{"condition": c, "attributes": a, "expected": e} for c, a, e in CONDITIONS]


BASE = {
    "key": "vec",
    "status": "running",
    "variants": [
        {"key": "control", "weight": 0.5, "payload": {"v": 0}},
        {"key": "treatment", "weight": 0.5, "payload": {"v": 1}},
    ],
}


def expected_assignment(exp: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """The rules of DESIGN.md, written again plainly."""
    variants = exp["variants"]

    def result(i: int, in_exp: bool, reason: str) -> dict[str, Any]:
        return {"variant": variants[i]["key"], "in_experiment": in_exp, "reason": reason}

    keys = [v["key"] for v in variants]
    if exp["status"] == "shipped":
        return result(keys.index(exp["winner"]), False, "shipped")
    if exp["status"] == "stopped":
        return result(0, False, "stopped")
    unit = attrs.get(exp.get("unit", "user_id"))
    if not unit:
        return result(0, False, "missing_unit")
    forced = exp.get("overrides", {}).get(unit)
    if forced in keys:
        return result(keys.index(forced), False, "override")
    if exp["status"] == "draft":
        return result(0, False, "draft")
    layer = exp.get("layer")
    if layer:
        lb = bucket(layer.get("salt", layer["name"]), unit)
        if not layer["range"][0] <= lb < layer["range"][1]:
            return result(0, False, "not_in_layer_range")
    if "targeting" in exp and not exp["_targeted"]:
        return result(0, False, "not_targeted")
    b = bucket(exp.get("salt", exp["key"]), unit)
    index = expected_range_index([v["weight"] for v in variants], exp.get("coverage", 1.0), b)
    if index is None:
        return result(0, False, "outside_coverage")
    return result(index, True, "assigned")


def assignment_cases(rng: random.Random) -> list[dict[str, Any]]:
    experiments: list[dict[str, Any]] = [
        dict(BASE),
        {**BASE, "key": "vec-salted", "salt": "another-salt"},
        {**BASE, "coverage": 0.3},
        {**BASE, "status": "stopped"},
        {**BASE, "status": "shipped", "winner": "treatment"},
        {**BASE, "status": "draft", "overrides": {"qa-1": "treatment"}},
        {**BASE, "overrides": {"qa-1": "treatment", "qa-2": "control"}},
        {**BASE, "layer": {"name": "lay", "range": [0, 5000]}},
        {**BASE, "layer": {"name": "lay", "range": [5000, 10000], "salt": "lay-salt"}},
        {**BASE, "unit": "device_id"},
        {
            **BASE,
            "key": "three",
            "variants": [
                {"key": "a", "weight": 0.5},
                {"key": "b", "weight": 0.3},
                {"key": "c", "weight": 0.2},
            ],
        },
        {**BASE, "targeting": {"country": {"$in": ["US", "CA"]}}, "_targeted_by": "country"},
    ]
    units = ["qa-1", "qa-2", "u-1", "u-2", "u-3", "user-17", "abc", "42", "z" * 30, ""]
    cases = []
    for exp in experiments:
        for unit in rng.sample(units, 5):
            attrs: dict[str, Any] = {"user_id": unit, "device_id": f"d-{unit}" if unit else ""}
            if "targeting" in exp:
                country = rng.choice(["US", "FR"])
                attrs["country"] = country
                exp["_targeted"] = country in ("US", "CA")
            expected = expected_assignment(exp, attrs)
            config = {k: v for k, v in exp.items() if not k.startswith("_")}
            cases.append({"experiment": config, "attributes": attrs, "expected": expected})
    return cases


def main() -> None:
    rng = random.Random(20261128)
    document = {
        "description": "Pinned assignments: the engine and POST /v1/assign both pass.",
        "hash": hash_cases(rng),
        "ranges": range_cases(rng),
        "conditions": condition_cases(),
        "assignments": assignment_cases(rng),
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    total = sum(len(v) for v in document.values() if isinstance(v, list))
    print(f"wrote {total} cases to {OUT}")


if __name__ == "__main__":
    main()
