"""Links between an experiment's page, the features that use it, and its holdout.

The repository's own definitions: ``features/new-checkout.yaml`` serves the variants of the
``checkout-button`` experiment in production, and nothing serves ``search-ranking``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from flask.testing import FlaskClient

from tests.conftest import EXPERIMENTS_DIR
from tests.support.sample_results import sample_results
from xp.reports.html import HoldoutScope, ReportLinks, render_html
from xp.web.links import FeatureUse, features_using


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_experiment_page_links_the_features_that_use_it(client: FlaskClient) -> None:
    text = page(client, "/experiments/checkout-button")
    (used,) = re.findall(r'<dd id="features">(.*?)</dd>', text, re.S)
    assert '<a href="/#feature-new-checkout"><code>new-checkout</code></a>' in used
    assert "(production)" in used  # staging's rules do not name the experiment
    unused = page(client, "/experiments/search-ranking")
    assert "no feature serves this experiment's variants" in unused


def test_feature_row_links_back_to_the_experiment(client: FlaskClient) -> None:
    text = page(client, "/")
    row = re.search(r'<tr data-key="new-checkout" id="feature-new-checkout">(.*?)</tr>', text, re.S)
    assert row, "the feature's row has the anchor the experiment page links to"
    assert 'experiment <a href="/experiments/checkout-button">checkout-button</a> (' in row[1]
    assert "20% by user_id → true" in row[1]  # other rules stay words


def test_features_using_reads_every_environment(features_folder: Path) -> None:
    from xp.definitions.features import load_features
    from xp.definitions.loader import load_directory

    experiments = load_directory(EXPERIMENTS_DIR).definitions
    loaded = load_features(features_folder, experiments)
    assert not loaded.problems, loaded.problems
    uses = features_using(loaded.features.values(), "checkout-button")
    assert uses == [
        FeatureUse("both-envs", ("production", "staging")),
        FeatureUse("staging-only", ("staging",)),
    ]
    assert features_using(loaded.features.values(), "nope") == []


@pytest.fixture
def features_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "features"
    folder.mkdir()
    rule = {"experiment": "checkout-button", "values": {"control": False, "green": True}}
    for key, envs in {
        "both-envs": {"production": [rule], "staging": [{"value": True}, rule]},
        "staging-only": {"production": [{"value": True}], "staging": [rule]},
        "unrelated": {"production": [{"rollout": 0.5, "value": True}]},
    }.items():
        definition = {
            "key": key,
            "type": "boolean",
            "default": False,
            "environments": {
                name: {"enabled": True, "rules": rules} for name, rules in envs.items()
            },
        }
        # a copy per use of the rule: the loader refuses YAML anchors
        text = yaml.safe_dump(yaml.safe_load(json.dumps(definition)))
        (folder / f"{key}.yaml").write_text(text)
    return folder


def test_experiment_page_links_its_holdout_whose_page_is_its_results(client: FlaskClient) -> None:
    # holdouts/global-holdout.yaml applies to checkout-button, not to search-ranking
    text = page(client, "/experiments/checkout-button")
    (line,) = re.findall(r'<dd id="holdout">(.*?)</dd>', text)
    assert '<a href="/experiments/global-holdout"><code>global-holdout</code></a>' in line
    assert 'id="holdout"' not in page(client, "/experiments/search-ranking")
    holdout = page(client, "/experiments/global-holdout")
    assert "purchase_rate" in holdout or "Purchase" in holdout


@pytest.mark.parametrize("href", [None, "/holdouts/q4-holdout"])
def test_holdout_line_renders_with_or_without_its_page(href: str | None) -> None:
    links = ReportLinks(holdout=("<q4>", href))
    text = render_html(sample_results(), links=links)
    (line,) = re.findall(r'<dd id="holdout">(.*?)</dd>', text)
    assert "<code>&lt;q4&gt;</code>" in line
    assert ('<a href="/holdouts/q4-holdout">' in line) == (href is not None)


def test_a_holdouts_page_says_what_it_is_and_links_what_it_covers(client: FlaskClient) -> None:
    # holdouts/global-holdout.yaml: 5% held out of checkout-button, onboarding-checklist and
    # the new-checkout feature
    text = page(client, "/experiments/global-holdout")
    assert '<span class="badge">holdout</span></h1>' in text
    (line,) = re.findall(r'<dd id="holds-out">(.*?)</dd>', text, re.S)
    assert "This is a holdout: 5% of units (holdout) see none of" in line
    assert "a same-size comparison group (comparison) sees them all" in line
    links = re.findall(r'<a href="([^"]+)"><code>([^<]+)</code></a>', line)
    assert links == [
        ("/experiments/checkout-button", "checkout-button"),
        ("/experiments/onboarding-checklist", "onboarding-checklist"),
        ("/#feature-new-checkout", "new-checkout"),
    ]
    for href, _ in links:  # each link lands on a page with that thing on it
        target, _, anchor = href.partition("#")
        assert not anchor or f'id="{anchor}"' in page(client, target)
    # the experiment's "no feature serves" line does not apply to a holdout
    assert "no feature serves" not in text and 'id="holds-out"' not in page(
        client, "/experiments/checkout-button"
    )


def test_a_holdout_over_everything_says_so() -> None:
    scope = HoldoutScope(0.1, "All of Q4", everything=True)
    text = render_html(sample_results(), links=ReportLinks(holds_out=scope))
    (line,) = re.findall(r'<dd id="holds-out">(.*?)</dd>', text, re.S)
    assert "10% of units" in line and "every experiment and feature rule" in line
    assert "All of Q4." in line
