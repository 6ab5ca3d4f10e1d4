"""``method=bayesian`` through the engine, the results API and the pages, on a real store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask

from tests.stats.test_bayesian import moments, proportion
from tests.support import seed as seeded
from xp.cli import cli
from xp.reports.html import render_html
from xp.reports.markdown import render_markdown
from xp.results.build import experiment_results
from xp.stats.bayesian import GaussianPrior, effect_posterior
from xp.store import open_store


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("bayes")
    now = time.time()
    folder = seeded.write_experiment(root / "experiments")
    store = open_store(None, root / "data")
    try:
        units = seeded.make_units(now)
        seeded.ingest(store, seeded.definitions(folder), units, now)
        (definition,) = seeded.definitions(folder).values()
        data = {**seeded.EXPERIMENT, "bayesian_prior": {"variance": 0.01, "proper": True}}
        (folder / f"{seeded.KEY}.yaml").write_text(yaml.safe_dump(data))
        (with_prior,) = seeded.definitions(folder).values()
        yield (
            experiment_results(definition, store, method="bayesian"),
            units,
            experiment_results(with_prior, store, method="bayesian"),
            experiment_results(definition, store),
        )
    finally:
        store.close()


def test_the_engine_reports_gbstats_posterior(document) -> None:  # type: ignore[no-untyped-def]
    results, units, _, _ = document
    assert results.method == "bayesian"
    purchased = next(m for m in results.metrics if m.name == "purchased")
    assert purchased.correction == "none"
    (comparison,) = purchased.comparisons
    control = [u for u in units if u.variant == "control"]
    treated = [u for u in units if u.variant == "treatment"]
    n_a, k_a = len(control), sum(1 for u in control if u.purchases)
    n_b, k_b = len(treated), sum(1 for u in treated if u.purchases)
    # gbstats' moments of two proportions; its flat-prior posterior is N(d, s^2)
    d, s = moments(*proportion(n_a, k_a), *proportion(n_b, k_b))
    rel = comparison.relative
    assert rel.estimate == pytest.approx(d, rel=1e-9)
    assert rel.se == pytest.approx(s, rel=2e-3)  # xp's variance of a rate uses n - 1
    expected = effect_posterior(rel.estimate, rel.se)
    assert expected is not None and comparison.bayesian is not None
    assert comparison.bayesian["chance_to_win"] == pytest.approx(expected.chance_to_win, abs=1e-12)
    assert comparison.bayesian["risk_treatment"] == pytest.approx(expected.risk_treatment)
    assert (rel.ci_low, rel.ci_high) == pytest.approx((expected.ci_low, expected.ci_high))
    # the decision rule (GrowthBook's defaults): better at a chance to win >= 95% with a risk
    # <= 0.25%, worse at a chance to lose >= 95%
    ctw, risk = comparison.bayesian["chance_to_win"], comparison.bayesian["risk_treatment"]
    assert comparison.significant == ((ctw >= 0.95 and risk <= 0.0025) or ctw <= 0.05)
    assert comparison.rule is not None and "chance to" in comparison.rule


def test_inverse_metric_chance_to_win_reads_the_direction(document) -> None:  # type: ignore[no-untyped-def]
    results, _, _, _ = document
    refunds = next(m for m in results.metrics if m.name == "refunds")  # decrease is better
    (comparison,) = refunds.comparisons
    assert comparison.bayesian is not None
    rel = comparison.relative
    expected = effect_posterior(rel.estimate, rel.se, inverse=True)
    assert expected is not None
    assert comparison.bayesian["chance_to_win"] == pytest.approx(expected.chance_to_win)
    assert comparison.bayesian["risk_treatment"] == pytest.approx(expected.risk_treatment)


def test_pages_and_reports_show_chance_to_win_and_risk(document) -> None:  # type: ignore[no-untyped-def]
    results, _, _, _ = document
    page = render_html(results)
    assert "Bayesian, effect-based" in page
    assert 'data-label="Chance to win">' in page and 'data-label="Risk">' in page
    assert "credible interval" in page
    text = render_markdown(results)
    assert "| Chance to win | Risk |" in text and "Bayesian, effect-based" in text


def test_results_api_serves_the_bayesian_method(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    response = client.get("/v1/experiments/checkout-button/results?method=bayesian")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["method"] == "bayesian"
    page = client.get("/experiments/checkout-button?method=bayesian")
    assert page.status_code == 200 and "Chance to win" in page.get_data(as_text=True)


def test_a_definitions_prior_shrinks_the_posterior(document) -> None:  # type: ignore[no-untyped-def]
    _, _, shrunk, frequentist = document
    data = next(m for m in frequentist.metrics if m.name == "purchased").comparisons[0].relative
    rel = next(m for m in shrunk.metrics if m.name == "purchased").comparisons[0].relative
    assert data.estimate is not None and data.se is not None
    expected = effect_posterior(data.estimate, data.se, GaussianPrior(0.0, 0.01, True))
    assert expected is not None
    assert (rel.estimate, rel.se) == pytest.approx((expected.mean, expected.sd), rel=1e-9)
    assert abs(rel.estimate or 0) < abs(data.estimate)  # pulled towards the prior's 0


def test_xp_report_takes_the_bayesian_method(tmp_path: Path) -> None:
    experiments = str(Path(__file__).resolve().parents[2] / "experiments")
    result = CliRunner().invoke(
        cli,
        ["report", "checkout-button", "--method", "bayesian", "--experiments", experiments],
        env={"XP_DATA_DIR": str(tmp_path), "XP_STORE_URL": ""},
    )
    assert result.exit_code == 0, result.output
    assert "Bayesian, effect-based" in result.output
    assert "| Chance to win | Risk |" in result.output  # even before any data
