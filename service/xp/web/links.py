"""What an experiment page links to beyond itself: the features that use it, and its holdout.

A feature uses an experiment when a rule of one of its environments says ``experiment: KEY``
(the feature registry, ``features/``). The holdout comes from the registry's
``holdout_for_experiment(key)``; its results page is the experiment page of its key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xp.definitions.features import FeatureDefinition


@dataclass(frozen=True, slots=True)
class FeatureUse:
    """A feature whose rules serve an experiment's variants, in these environments."""

    feature: str
    environments: tuple[str, ...]


def features_using(features: Iterable[FeatureDefinition], experiment: str) -> list[FeatureUse]:
    """The features with an ``experiment: <experiment>`` rule, by key, with the environments."""
    uses = []
    for feature in sorted(features, key=lambda f: f.key):
        environments = tuple(
            name
            for name, env in sorted(feature.environments.items())
            if any(rule.get("experiment") == experiment for rule in env.get("rules") or [])
        )
        if environments:
            uses.append(FeatureUse(feature.key, environments))
    return uses
