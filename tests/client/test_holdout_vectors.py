"""The engine passes every pinned case of ``tests/vectors/holdout_vectors.json``: the answer
and the holdout exposures it logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from xp_client.definition import Experiment
from xp_client.engine import Assignment, assign_variant, assigner_for
from xp_client.features import compile_features, evaluate_feature
from xp_client.holdouts import compile_holdouts, guard, holdouts_of_experiment

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "holdout_vectors.json").read_text()
)
EXPERIMENTS = {e["key"]: Experiment.from_dict(e) for e in VECTORS["experiments"]}
LOG = logging.getLogger("t")
HOLDOUTS = compile_holdouts(VECTORS["holdouts"], LOG)
FEATURES = compile_features(
    [{**f, **f["environments"]["production"]} for f in VECTORS["features"]], LOG, HOLDOUTS
)


def run(case: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The case's answer and the holdout exposures it logged (group by holdout)."""
    logged: dict[str, str] = {}

    def assign(key: str, _: None, attributes: Mapping[str, Any]) -> Assignment | None:
        holdout = HOLDOUTS.get(key)
        if holdout is not None:
            answer = assign_variant(holdout.experiment, attributes)
            if answer.in_experiment:
                logged[key] = answer.variant
            return answer
        exp = EXPERIMENTS[key]
        return guard(assigner_for(exp), exp, holdouts_of_experiment(HOLDOUTS, key), assign)(
            attributes
        )

    attributes = {"user_id": case["user_id"]}
    if case["kind"] == "experiment":
        got = assign(case["key"], None, attributes)
        assert got is not None
        return got.to_dict(), logged
    result = evaluate_feature(FEATURES[case["key"]], attributes, FEATURES, assign)
    return result.to_dict(), logged


def test_the_cases_cover_held_out_comparison_and_untouched_units() -> None:
    reasons = {
        (c["kind"], c["expected"].get("reason") or c["expected"]["source"], bool(g))
        for c in VECTORS["cases"]
        for g in [c["holdout_exposures"]]
    }
    assert ("experiment", "holdout", True) in reasons
    assert ("experiment", "assigned", True) in reasons  # comparison group, still assigned
    assert ("feature", "holdout", True) in reasons
    assert ("feature", "rollout", True) in reasons
    assert ("feature", "experiment", True) in reasons
    assert len(VECTORS["cases"]) >= 100


@pytest.mark.parametrize(
    "case", VECTORS["cases"], ids=lambda c: f"{c['kind']}-{c['key']}-{c['user_id']}"
)
def test_engine_passes_the_vector(case: dict[str, Any]) -> None:
    assert run(case) == (case["expected"], case["holdout_exposures"])
