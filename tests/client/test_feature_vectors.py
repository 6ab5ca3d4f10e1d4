"""The engine passes every pinned case of ``tests/vectors/feature_vectors.json``."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from xp_client.definition import Experiment
from xp_client.engine import Assignment, assign_variant
from xp_client.features import UNKNOWN_FEATURE, FeatureResult, compile_features, evaluate_feature

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "feature_vectors.json").read_text()
)
EXPERIMENTS = {e["key"]: Experiment.from_dict(e) for e in VECTORS["experiments"]}


def served(feature: Mapping[str, Any], environment: str) -> dict[str, Any]:
    """What /v1/config serves of a feature file in ``environment`` (docs: an environment the
    file does not name is disabled there)."""
    env = feature["environments"].get(environment) or {"enabled": False, "rules": []}
    return {**{k: v for k, v in feature.items() if k != "environments"}, **env}


def assign(key: str, _: None, attributes: Mapping[str, Any]) -> Assignment | None:
    experiment = EXPERIMENTS.get(key)
    return None if experiment is None else assign_variant(experiment, attributes)


def evaluate(case: Mapping[str, Any]) -> dict[str, Any]:
    features = compile_features(
        [served(f, case["environment"]) for f in VECTORS["features"]], logging.getLogger("t")
    )
    feature = features.get(case["feature"])
    if feature is None:
        return FeatureResult(case["feature"], None, UNKNOWN_FEATURE).to_dict()
    return evaluate_feature(feature, case["attributes"], features, assign).to_dict()


def test_there_are_at_least_100_cases_of_every_source() -> None:
    assert len(VECTORS["cases"]) >= 100
    sources = Counter(c["expected"]["source"] for c in VECTORS["cases"])
    kinds = {"force", "rollout", "experiment", "prerequisite", "disabled", "default"}
    assert kinds | {UNKNOWN_FEATURE} == set(sources)
    assert min(sources.values()) >= 20
    assert {c["environment"] for c in VECTORS["cases"]} == {"production", "staging", "dev"}


@pytest.mark.parametrize(
    "case",
    VECTORS["cases"],
    ids=lambda c: f"{c['environment']}-{c['feature']}-{c['attributes']['user_id']}",
)
def test_engine_passes_the_vector(case: dict[str, Any]) -> None:
    assert evaluate(case) == case["expected"]
