"""The experiment definitions the store tests run on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xp.definitions.loader import parse_definition
from xp.definitions.model import Definition
from xp.store import Store

MakeStore = Callable[[], Store]

EXPERIMENT: dict[str, Any] = {
    "key": "exp",
    "name": "Every metric kind",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "metrics": [
        {"name": "converted", "event": "purchase", "kind": "binomial", "window_days": 7},
        {"name": "purchases", "event": "purchase", "kind": "count"},
        {"name": "revenue", "event": "purchase", "kind": "sum"},
        {"name": "retained", "event": "visit", "kind": "retention", "window_days": [1, 8]},
        {
            "name": "clicks_per_search",
            "kind": "ratio",
            "numerator": "click",
            "denominator": "search",
        },
    ],
    "segments": ["country", "device"],
}


def make_definition(**changes: Any) -> Definition:
    definition, problems = parse_definition({**EXPERIMENT, **changes}, "test")
    assert definition is not None, problems
    return definition
