"""Writes ``assignment_vectors.json``. Run once; the JSON is the contract, not this script.

Expected values come from this file's own reading of the rules (an independent murmur3 and
range arithmetic, and conditions whose answers are written by hand), never from the engine.
"""

from __future__ import annotations

import calendar
import datetime as dt
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


# (value, canonical string or None when refused): written out by hand (README, "Unit ids").
UNIT_IDS: list[tuple[Any, str | None]] = [
    ("u-42", "u-42"),
    ("42", "42"),
    ("42.0", "42.0"),  # a string stays as it is
    (" 42 ", " 42 "),
    ("ユーザー", "ユーザー"),
    ("x" * 256, "x" * 256),
    ("x" * 257, None),
    (42, "42"),
    (42.0, "42"),
    (-7, "-7"),
    (-7.0, "-7"),
    (0, "0"),
    (-0.0, "0"),
    (42.5, "42.5"),
    (0.1, "0.1"),
    (1.5e-7, "1.5e-07"),
    (1e20, "100000000000000000000"),
    (9007199254740993, "9007199254740993"),  # 2**53 + 1: an integer keeps every digit
    (10**255, "1" + "0" * 255),  # 256 characters
    (10**256, None),  # 257 characters
    (-(10**255), None),  # 257 characters with its minus sign
    (1e300, None),  # 301 digits
    (True, None),
    (False, None),
    (None, None),
    ("", None),
    ([42], None),
    ({"id": 42}, None),
]


def unit_id_cases() -> list[dict[str, Any]]:
    return [{"value": value, "canonical": canonical} for value, canonical in UNIT_IDS]


def canonical(value: Any) -> str | None:
    """The hand-written table above, looked up (the generator never computes a mapping)."""
    for known, text in UNIT_IDS:
        if type(known) is type(value) and known == value:
            return text
    raise KeyError(value)


NOW = calendar.timegm((2026, 12, 2, 12, 0, 0))  # 2026-12-02T12:00:00Z
HOUR = 3600


def instant(text: str | None, is_end: bool) -> float | None:
    """README's rule: a date is 00:00 UTC that day, or of the next day as an ``end``."""
    if text is None:
        return None
    if len(text) == 10:
        year, month, day = (int(part) for part in text.split("-"))
        midnight = calendar.timegm((year, month, day, 0, 0, 0))
        return midnight + 86_400 if is_end else midnight
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def expected_scheduled(exp: dict[str, Any], attrs: dict[str, Any], now: float) -> dict[str, Any]:
    """Before ``start`` a draft that says not_started; from ``end`` on everyone's control."""
    keys = [v["key"] for v in exp["variants"]]
    if exp["status"] == "running":
        start, end = instant(exp.get("start"), False), instant(exp.get("end"), True)
        if start is not None and now < start:
            unit = attrs.get(exp.get("unit", "user_id"))
            if not unit:
                return {"variant": keys[0], "in_experiment": False, "reason": "missing_unit"}
            forced = exp.get("overrides", {}).get(unit)
            if forced in keys:
                return {"variant": forced, "in_experiment": False, "reason": "override"}
            return {"variant": keys[0], "in_experiment": False, "reason": "not_started"}
        if end is not None and now >= end:
            return {"variant": keys[0], "in_experiment": False, "reason": "ended"}
    return expected_assignment(exp, attrs)


def schedule_cases() -> list[dict[str, Any]]:
    """Around the window's edges, at a fixed ``now``: for engines given that clock."""
    windows: list[dict[str, Any]] = [
        {"start": "2026-12-02"},  # opened at 00:00 today
        {"start": "2026-12-03"},  # opens at midnight
        {"end": "2026-12-02"},  # today is the last day
        {"end": "2026-12-01"},  # ended at 00:00 today
        {"start": "2026-12-02T12:00:00Z"},  # now is the first instant in
        {"start": "2026-12-02T12:00:00.001Z"},  # a millisecond early
        {"end": "2026-12-02T12:00:00Z"},  # now is the first instant out
        {"end": "2026-12-02T12:00:00.001Z"},  # the last millisecond in
        {"start": "2026-12-02T13:00:00+01:00"},  # 12:00 UTC
        {"start": "2026-12-02T12:00:01"},  # no zone: UTC
        {"start": "2026-11-01", "end": "2026-12-31"},
        {"start": "2026-12-02", "end": "2026-12-02"},  # a one-day window, today
        {"start": "2027-01-01", "end": "2027-01-31"},
        {"start": "2026-01-01", "end": "2026-01-31"},
    ]
    experiments = [
        {**BASE, "key": f"sched-{i}", "overrides": {"qa-1": "treatment"}, **window}
        for i, window in enumerate(windows)
    ]
    experiments += [
        {**BASE, "key": "sched-stopped", "status": "stopped", "start": "2026-01-01"},
        {**BASE, "key": "sched-draft", "status": "draft", "start": "2026-01-01"},
        {
            **BASE,
            "key": "sched-shipped",
            "status": "shipped",
            "winner": "treatment",
            "end": "2026-01-01",
        },
    ]
    cases = []
    for exp in experiments:
        for unit in ("u-1", "u-2", "user-17", "qa-1", ""):
            attrs = {"user_id": unit}
            cases.append(
                {
                    "experiment": exp,
                    "attributes": attrs,
                    "now": NOW,
                    "expected": expected_scheduled(exp, attrs, NOW),
                }
            )
    return cases


def far_window_cases() -> list[dict[str, Any]]:
    """Windows far from any day a test runs on: the service passes them on its real clock."""
    windows = [
        {"start": "2001-01-01", "end": "2999-12-31"},  # during
        {"start": "2999-01-01"},  # before
        {"start": "2000-01-01T00:00:00Z", "end": "2001-01-01T00:00:00Z"},  # after
    ]
    cases = []
    for i, window in enumerate(windows):
        exp = {**BASE, "key": f"window-{i}", **window}
        for unit in ("u-1", "u-2", "u-3", "user-17", "abc"):
            attrs = {"user_id": unit}
            expected = expected_scheduled(exp, attrs, NOW)
            cases.append({"experiment": exp, "attributes": attrs, "expected": expected})
    return cases


def numeric_unit_cases() -> list[dict[str, Any]]:
    """Numbers as unit ids hash as their canonical strings: 42.0 lands where "42" does."""
    cases = []
    for value in (42, 42.0, "42", -7.0, 42.5, 1e20, 9007199254740993):
        unit = canonical(value)
        assert unit is not None
        expected = expected_assignment(BASE, {"user_id": unit})
        cases.append({"experiment": BASE, "attributes": {"user_id": value}, "expected": expected})
    return cases


def main() -> None:
    rng = random.Random(20261128)
    document = {
        "description": "Pinned assignments: the engine and POST /v1/assign both pass. "
        "'schedules' hold a 'now' (seconds since the epoch) to judge the window at; "
        "'unit_ids' map a JSON value to its canonical unit id (null: refused).",
        "hash": hash_cases(rng),
        "ranges": range_cases(rng),
        "conditions": condition_cases(),
        "assignments": assignment_cases(rng) + far_window_cases() + numeric_unit_cases(),
        "schedules": schedule_cases(),
        "unit_ids": unit_id_cases(),
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    total = sum(len(v) for v in document.values() if isinstance(v, list))
    print(f"wrote {total} cases to {OUT}")


if __name__ == "__main__":
    main()
