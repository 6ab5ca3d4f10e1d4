"""Statistical and structural properties of assignment over many units."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
from scipy import stats

from xp_client.definition import Experiment
from xp_client.engine import assign_variant


def experiment(**changes: object) -> Experiment:
    config: dict[str, object] = {
        "key": "prop",
        "status": "running",
        "variants": [
            {"key": "a", "weight": 0.5},
            {"key": "b", "weight": 0.3},
            {"key": "c", "weight": 0.2},
        ],
    }
    config.update(changes)
    return Experiment.from_dict(config)


def variants_of(exp: Experiment, units: range) -> list[str | None]:
    out = []
    for i in units:
        result = assign_variant(exp, {"user_id": f"user-{i}"})
        out.append(result.variant if result.in_experiment else None)
    return out


def test_same_units_same_variants_in_another_process() -> None:
    here = variants_of(experiment(), range(10_000))
    script = (
        "import json\n"
        "from xp_client.definition import Experiment\n"
        "from xp_client.engine import assign_variant\n"
        "e = Experiment.from_dict({'key': 'prop', 'status': 'running', 'variants': ["
        "{'key': 'a', 'weight': 0.5}, {'key': 'b', 'weight': 0.3}, {'key': 'c', 'weight': 0.2}]})\n"
        "print(json.dumps([assign_variant(e, {'user_id': f'user-{i}'}).variant"
        " for i in range(10000)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert json.loads(out.stdout) == here


def test_split_matches_weights() -> None:
    counts = Counter(variants_of(experiment(), range(100_000)))
    observed = [counts["a"], counts["b"], counts["c"]]
    assert sum(observed) == 100_000
    p = stats.chisquare(observed, [50_000, 30_000, 20_000]).pvalue
    assert p > 0.001, observed


def test_split_is_not_trivially_uniform() -> None:
    # Teeth for the test above: the same counts against a wrong split fail it.
    counts = Counter(variants_of(experiment(), range(100_000)))
    p = stats.chisquare([counts["a"], counts["b"], counts["c"]], [1 / 3 * 100_000] * 3).pvalue
    assert p < 0.001


def test_raising_coverage_never_moves_an_included_unit() -> None:
    low = variants_of(experiment(coverage=0.1), range(20_000))
    high = variants_of(experiment(coverage=0.5), range(20_000))
    included = [(a, b) for a, b in zip(low, high, strict=True) if a is not None]
    assert 1_500 < len(included) < 2_500
    assert all(a == b for a, b in included)
    assert sum(b is not None for b in high) > 4 * len(included)


def test_different_salts_are_independent() -> None:
    first = variants_of(experiment(salt="one"), range(50_000))
    second = variants_of(experiment(salt="two"), range(50_000))
    keys = ["a", "b", "c"]
    table = np.zeros((3, 3))
    for x, y in zip(first, second, strict=True):
        table[keys.index(str(x)), keys.index(str(y))] += 1
    assert stats.chi2_contingency(table).pvalue > 0.001
    same = variants_of(experiment(salt="one"), range(50_000))
    assert same == first  # and the same salt is fully dependent


def test_experiments_of_one_layer_never_share_a_unit() -> None:
    left = experiment(key="left", layer={"name": "shared", "range": [0, 4000]})
    right = experiment(key="right", layer={"name": "shared", "range": [4000, 10_000]})
    in_left = {i for i, v in enumerate(variants_of(left, range(30_000))) if v is not None}
    in_right = {i for i, v in enumerate(variants_of(right, range(30_000))) if v is not None}
    assert not in_left & in_right
    assert abs(len(in_left) - 12_000) < 600 and abs(len(in_right) - 18_000) < 600
