"""The metric kind registry: one step per kind, the same in Python and in Lua."""

from __future__ import annotations

import pytest
import redis

from tests.support.experiments import make_definition
from xp.attribution.metric_kinds import KINDS
from xp.attribution.ops import EventIndex, MetricRule, deltas
from xp.definitions.model import METRIC_KINDS
from xp.store.redis.scripts import PRELUDE, lua_source

# (old total, event value) pairs every kind's step is checked on.
POINTS = [(0.0, 1.0), (0.0, 2.5), (1.0, 1.0), (3.0, 0.25), (2.0, -1.5), (0.0, 0.0)]


def test_every_declared_kind_has_a_step() -> None:
    assert tuple(KINDS) == METRIC_KINDS


def _rules() -> dict[tuple[str, str], MetricRule]:
    index = EventIndex({"exp": make_definition()})
    return {
        (event, rule.name): rule
        for event, entries in index.by_event.items()
        for _key, rules in entries
        for rule in rules
    }


@pytest.mark.parametrize(
    ("event", "metric", "total", "den", "value", "expected"),
    [
        ("purchase", "converted", 0.0, 0.0, 9.5, (1.0, 0.0)),
        ("purchase", "converted", 1.0, 0.0, 9.5, (0.0, 0.0)),
        ("visit", "retained", 0.0, 0.0, 1.0, (1.0, 0.0)),
        ("visit", "retained", 1.0, 0.0, 1.0, (0.0, 0.0)),
        ("purchase", "purchases", 4.0, 0.0, 9.5, (1.0, 0.0)),
        ("purchase", "revenue", 4.0, 0.0, 9.5, (9.5, 0.0)),
        ("click", "clicks_per_search", 2.0, 3.0, 1.0, (1.0, 0.0)),
        ("search", "clicks_per_search", 2.0, 3.0, 1.0, (0.0, 1.0)),
    ],
)
def test_deltas_per_kind(
    event: str,
    metric: str,
    total: float,
    den: float,
    value: float,
    expected: tuple[float, float],
) -> None:
    assert deltas(_rules()[(event, metric)], value, total, den) == expected


def test_only_ratio_rules_touch_a_denominator() -> None:
    for (event, name), rule in _rules().items():
        assert rule.denominator == (name == "clicks_per_search" and event == "search")
        assert rule.numerator == (event != "search")


@pytest.mark.redis
@pytest.mark.parametrize("kind", list(KINDS))
def test_lua_step_matches_python(redis_url: str, kind: str) -> None:
    script = (
        lua_source(*PRELUDE)
        + "\nlocal step = KINDS[ARGV[1]]\n"
        + (
            "local out = {}\n"
            "for i = 2, #ARGV, 2 do\n"
            "  out[#out + 1] = fmt(step(tonumber(ARGV[i]), tonumber(ARGV[i + 1])))\n"
            "end\n"
            "return out\n"
        )
    )
    args = [kind, *(repr(x) for point in POINTS for x in point)]
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        got = [float(x) for x in client.eval(script, 0, *args)]
    assert got == [KINDS[kind].step(total, value) for total, value in POINTS]
