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


# --- the decision rule from YAML and the query, and the Bayesian series ----------------------


@pytest.mark.parametrize(
    ("block", "path"),
    [
        ({"chance_to_win": 0.2}, "bayesian.chance_to_win"),
        ({"chance_to_win": 1.5}, "bayesian.chance_to_win"),
        ({"risk_threshold": -0.01}, "bayesian.risk_threshold"),
        ({"risk_threshold": "low"}, "bayesian.risk_threshold"),
        ({"prior": {"variance": 0, "proper": True}}, "bayesian.prior.variance"),
        ({"chance": 0.9}, "bayesian.chance"),
    ],
)
def test_a_bad_bayesian_block_names_file_and_field(block: dict, path: str) -> None:
    from xp.definitions.loader import parse_definition

    definition, problems = parse_definition({**seeded.EXPERIMENT, "bayesian": block}, "x.yaml")
    assert definition is None
    assert [p.path for p in problems] == [path], [str(p) for p in problems]
    assert str(problems[0]).startswith(f"x.yaml: {path}: ")


def test_the_prior_is_given_once() -> None:
    from xp.definitions.loader import parse_definition

    both = {
        **seeded.EXPERIMENT,
        "bayesian_prior": {"variance": 0.1, "proper": True},
        "bayesian": {"prior": {"variance": 0.2, "proper": True}},
    }
    definition, problems = parse_definition(both, "x.yaml")
    assert definition is None and [p.path for p in problems] == ["bayesian_prior"]
    assert "older name of bayesian.prior" in problems[0].message


def test_the_yaml_rule_and_prior_reach_the_document(tmp_path: Path) -> None:
    from xp.definitions.loader import parse_definition

    block = {"prior": {"variance": 0.01, "proper": True}, "chance_to_win": 0.9}
    definition, problems = parse_definition({**seeded.EXPERIMENT, "bayesian": block}, "x.yaml")
    assert definition is not None and not problems
    store = open_store(None, tmp_path)
    try:
        results = experiment_results(definition, store, method="bayesian")
        overridden = experiment_results(
            definition, store, method="bayesian", thresholds={"risk_threshold": 0.5}
        )
    finally:
        store.close()
    assert results.bayesian == {
        "prior": {"mean": 0.0, "variance": 0.01, "proper": True},
        "chance_to_win": 0.9,
        "risk_threshold": 0.0025,
    }
    assert overridden.bayesian is not None and overridden.bayesian["risk_threshold"] == 0.5
    assert overridden.bayesian["chance_to_win"] == 0.9  # the definition's, not overridden


def test_the_series_is_the_daily_posterior_with_its_chance_to_win(document) -> None:  # type: ignore[no-untyped-def]
    results, _, shrunk, frequentist = document
    purchased = next(m for m in results.metrics if m.name == "purchased")
    assert purchased.series
    freq = next(m for m in frequentist.metrics if m.name == "purchased")
    prior = GaussianPrior(0.0, 0.01, True)
    shrunk_series = next(m for m in shrunk.metrics if m.name == "purchased").series
    for point, data, with_prior in zip(purchased.series, freq.series, shrunk_series, strict=True):
        if data.reason is not None:  # the sufficiency rule: no interval, no chance to win
            assert point.reason == "insufficient_data" and point.chance_to_win is None
            assert point.relative.ci_low is None
            continue
        # flat, the posterior is N(d, s^2): its mean is that look's observed lift, its SD
        # the normal band's half-width over z; the chance to win and the shrunk mean follow
        rel = point.relative
        assert rel.estimate == pytest.approx(data.relative.estimate, rel=1e-9)
        assert rel.estimate is not None and rel.ci_low is not None and rel.ci_high is not None
        sd = (rel.ci_high - rel.ci_low) / (2 * 1.959963984540054)
        flat = effect_posterior(rel.estimate, sd)
        shrunk_post = effect_posterior(rel.estimate, sd, prior)
        assert flat is not None and shrunk_post is not None
        assert point.chance_to_win == pytest.approx(flat.chance_to_win, abs=1e-9)
        assert with_prior.relative.estimate == pytest.approx(shrunk_post.mean, rel=1e-9)
    assert any(p.chance_to_win is not None for p in purchased.series)


def test_results_query_thresholds(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    url = "/v1/experiments/checkout-button/results"
    ok = client.get(f"{url}?method=bayesian&chance_to_win=0.9&risk_threshold=0.01")
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.get_json()["bayesian"]["chance_to_win"] == 0.9
    assert ok.get_json()["bayesian"]["risk_threshold"] == 0.01
    for query, field in [
        ("method=bayesian&chance_to_win=0.4", "chance_to_win"),
        ("method=bayesian&chance_to_win=1", "chance_to_win"),
        ("method=bayesian&chance_to_win=nan", "chance_to_win"),
        ("method=bayesian&risk_threshold=-1", "risk_threshold"),
        ("method=bayesian&risk_threshold=inf", "risk_threshold"),
        ("method=frequentist&risk_threshold=0.01", "risk_threshold"),
    ]:
        bad = client.get(f"{url}?{query}")
        assert bad.status_code == 422, (query, bad.get_data(as_text=True))
        assert field in bad.get_json()["error"]["details"], query
