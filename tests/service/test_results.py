"""xp.results on a real SQLite store: corrections, CUPED, series, SRM and the decision.

Expected numbers come from ``service.stats`` over sums recomputed here from the generated
units, never from the document under test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from xp.definitions.loader import load_directory
from xp.definitions.model import Definition
from xp.events.model import Conversion, Exposure
from xp.results.build import experiment_results
from xp.results.document import ResultsDocument
from xp.stats.cuped import cuped_adjust, cuped_compare
from xp.stats.frequentist import frequentist_lift, frequentist_result
from xp.stats.multiple import benjamini_hochberg, holm
from xp.stats.sequential import sequential_series
from xp.stats.sufficient import CovariateStats, MeanStats, ProportionStats
from xp.store import Store, open_store

DAY = 86_400.0
EXPERIMENT: dict[str, Any] = {
    "key": "three-arms",
    "name": "Three arms",
    "status": "running",
    "variants": [
        {"key": "control", "weight": 0.34},
        {"key": "b", "weight": 0.33},
        {"key": "c", "weight": 0.33},
    ],
    "metrics": [
        {"name": "bought", "event": "buy", "kind": "binomial", "role": "primary"},
        {"name": "spend", "event": "buy", "kind": "sum", "role": "primary"},
        {"name": "clicks", "event": "click", "kind": "count", "role": "secondary"},
        {"name": "visits", "event": "visit", "kind": "count", "role": "secondary"},
        {
            "name": "errors",
            "event": "error",
            "kind": "count",
            "role": "guardrail",
            "direction": "decrease",
        },
    ],
    "segments": ["country"],
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(None, tmp_path / "data")
    yield opened
    opened.close()


def load(tmp_path: Path, experiment: dict[str, Any]) -> Definition:
    folder = tmp_path / "experiments"
    folder.mkdir(exist_ok=True)
    (folder / f"{experiment['key']}.yaml").write_text(yaml.safe_dump(experiment))
    result = load_directory(folder)
    assert not result.problems, result.problems
    return result.definitions[experiment["key"]]


def results_json(definition: Definition, store: Store, **options: Any) -> dict[str, Any]:
    """The built document in its JSON shape, through the one serializer."""
    return experiment_results(definition, store, **options).as_dict()


def seed(
    store: Store, definition: Definition, units: dict[str, list[dict[str, float]]], now: float
) -> None:
    """``units[variant]`` is a list of per-unit totals by event name, plus ``x`` and ``day``."""
    events: list[Exposure | Conversion] = []
    for variant, rows in units.items():
        for i, row in enumerate(rows):
            user = f"{variant}-{i}"
            exposed = now - (4 - row["day"]) * DAY - 3600
            country = "US" if i % 3 else "CA"
            covariates = {"spend": row["x"]} if "x" in row else {}
            events.append(
                Exposure.create(
                    definition.key, user, variant, exposed, {"country": country}, covariates
                )
            )
            for event in ("buy", "click", "visit", "error"):
                value = row.get(event, 0.0)
                if value:
                    count = 1 if event == "buy" else int(value)
                    amount = value if event == "buy" else 1.0
                    for j in range(count):
                        events.append(
                            Conversion(event, user, amount, exposed + 60 + j, f"{user}-{event}{j}")
                        )
    # Each UTC day's events are written on that day, so the store snapshots each day (a look).
    by_day: dict[int, list[Exposure | Conversion]] = {}
    for event in events:
        by_day.setdefault(int(event.ts // DAY), []).append(event)
    for _day, batch in sorted(by_day.items()):
        outcomes = store.ingest(batch, {definition.key: definition}, max(e.ts for e in batch))
        assert {o.status for o in outcomes} == {"accepted"}


def generate(rng: np.random.Generator, n: int, buy: float, spend: float) -> list[dict[str, float]]:
    x = rng.gamma(2.0, 10.0, n)
    bought = rng.random(n) < np.clip(buy * x / 20.0, 0.0, 1.0)  # mean of x is 20
    amount = np.where(bought, np.round(spend + 0.8 * x + rng.normal(0, 3, n), 2), 0.0)
    amount = np.maximum(amount, 0.0)
    return [
        {
            "day": float(i % 4),
            "x": float(x[i]),
            "buy": float(amount[i]) if bought[i] and amount[i] > 0 else 0.0,
            "click": float(rng.poisson(2)),
            "visit": float(rng.poisson(3)),
            "error": float(rng.poisson(0.2)),
        }
        for i in range(n)
    ]


@pytest.fixture
def seeded(tmp_path: Path, store: Store) -> tuple[Definition, dict[str, list[dict[str, float]]]]:
    definition = load(tmp_path, EXPERIMENT)
    rng = np.random.default_rng(7)
    units = {
        "control": generate(rng, 400, 0.2, 20.0),
        "b": generate(rng, 400, 0.3, 20.0),
        "c": generate(rng, 400, 0.2, 20.0),
    }
    seed(store, definition, units, time.time())
    return definition, units


def totals(rows: list[dict[str, float]], metric: str) -> list[float]:
    if metric == "bought":
        return [1.0 if r["buy"] else 0.0 for r in rows]
    event = {"spend": "buy", "clicks": "click", "visits": "visit", "errors": "error"}[metric]
    return [r[event] for r in rows]


def stats(rows: list[dict[str, float]], metric: str) -> MeanStats | ProportionStats:
    values = totals(rows, metric)
    if metric == "bought":
        return ProportionStats(len(values), sum(values))
    return MeanStats(len(values), sum(values), sum(v * v for v in values))


def comparisons(document: dict[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    found = next(m for m in document["metrics"] if m["name"] == metric)
    return {c["variant"]: c for c in found["comparisons"]}


def test_holm_over_primaries_and_bh_over_secondaries(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]]
) -> None:
    definition, units = seeded
    document = results_json(definition, store)
    for role, metrics, correct in (
        ("primary", ("bought", "spend"), holm),
        ("secondary", ("clicks", "visits"), benjamini_hochberg),
    ):
        raw = [
            frequentist_lift(stats(units["control"], m), stats(units[v], m)).p_value
            for m in metrics
            for v in ("b", "c")
        ]
        expected = correct(raw)
        got = [
            comparisons(document, m)[v]["p_value_corrected"] for m in metrics for v in ("b", "c")
        ]
        assert got == pytest.approx(list(expected), rel=1e-9), role
        for m in metrics:
            for v, c in comparisons(document, m).items():
                assert c["significant"] == (c["p_value_corrected"] < 0.05)
                assert c["relative"]["p_value"] == pytest.approx(
                    frequentist_lift(stats(units["control"], m), stats(units[v], m)).p_value
                )
    errors = comparisons(document, "errors")["b"]
    assert errors["p_value_corrected"] == errors["relative"]["p_value"]  # guardrail: none
    json.dumps(document, allow_nan=False)


def test_b_ships_on_its_purchase_rate(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]]
) -> None:
    definition, _ = seeded
    document = results_json(definition, store)
    assert comparisons(document, "bought")["b"]["significant"] is True
    assert document["decision"]["decision"] == "ship"
    assert document["decision"]["winner"] == "b"


def test_cuped_uses_the_exposures_covariates(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]]
) -> None:
    definition, units = seeded
    document = results_json(definition, store)
    spend = comparisons(document, "spend")["b"]["cuped"]
    assert spend is not None
    arms = [stats(units[v], "spend") for v in ("control", "b", "c")]
    covariates = []
    for v in ("control", "b", "c"):
        x = [r["x"] for r in units[v]]
        y = totals(units[v], "spend")
        covariates.append(
            CovariateStats(
                sum(x), sum(a * a for a in x), sum(a * b for a, b in zip(x, y, strict=True))
            )
        )
    # GrowthBook's CUPED: theta pooled over control and b only, its relative variance
    truth = cuped_compare(arms, covariates, treatment=1)
    assert spend["theta"] == pytest.approx(truth.theta, rel=1e-9)
    assert spend["theta"] != pytest.approx(cuped_adjust(arms, covariates).theta, rel=1e-6)
    assert spend["variance_reduction"] == pytest.approx(truth.variance_reduction, rel=1e-9)
    assert spend["variance_reduction"] > 0.2  # spend follows x closely
    adjusted = frequentist_result(truth.moments)
    assert spend["absolute"]["ci_low"] == pytest.approx(adjusted.absolute.ci_low, rel=1e-9)
    assert spend["relative"]["se"] == pytest.approx(truth.moments.relative.variance**0.5, rel=1e-9)
    assert spend["relative"]["ci_high"] == pytest.approx(adjusted.relative.ci_high, rel=1e-9)
    assert spend["units_with_covariate"] == {"control": 400, "b": 400, "c": 400}
    # no covariate was sent for the other metrics
    assert comparisons(document, "clicks")["b"]["cuped"] is None


def test_series_is_cumulative_and_the_sequential_result_is_its_last_look(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]]
) -> None:
    definition, units = seeded
    document = results_json(definition, store, method="sequential")
    bought = next(m for m in document["metrics"] if m["name"] == "bought")
    for variant in ("b", "c"):
        points = [p for p in bought["series"] if p["variant"] == variant]
        assert [p["units"] for p in points] == [100, 200, 300, 400]
        # brute force: the units exposed up to each day, through the engine's series
        looks = [
            tuple(
                stats([r for r in units[v] if r["day"] <= day], "bought")
                for v in ("control", variant)
            )
            for day in range(4)
        ]
        truth = sequential_series(looks, 0.05, 5000)  # type: ignore[arg-type]
        for point, look in zip(points, truth, strict=True):
            assert point["p_value"] == pytest.approx(look.p_value)
            assert point["relative"]["ci_low"] == pytest.approx(look.relative.ci_low)
        overall = comparisons(document, "bought")[variant]
        assert overall["relative"]["p_value"] == pytest.approx(truth[-1].relative.p_value)
        assert overall["relative"]["ci_high"] == pytest.approx(truth[-1].relative.ci_high)
        assert overall["absolute"]["ci_low"] == pytest.approx(truth[-1].absolute.ci_low)
    assert not next(m for m in document["metrics"] if m["name"] == "clicks")["series"]
    assert document["sequential_tuning"] == 5000
    fixed = results_json(definition, store)
    b_fixed = comparisons(fixed, "bought")["b"]["relative"]
    b_seq = comparisons(document, "bought")["b"]["relative"]
    assert b_seq["ci_high"] - b_seq["ci_low"] > b_fixed["ci_high"] - b_fixed["ci_low"]


def test_segments_are_bh_corrected_per_metric(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]]
) -> None:
    definition, units = seeded
    document = results_json(definition, store)
    bought = next(m for m in document["metrics"] if m["name"] == "bought")
    family = [c for s in bought["segments"] for c in s["comparisons"]]
    assert len(family) == 4  # US and CA x b and c
    raw = []
    for segment in bought["segments"]:
        for c in segment["comparisons"]:
            wanted = "CA" if segment["value"] == "CA" else "US"
            pick = {  # the seed puts every third unit in CA
                v: [r for i, r in enumerate(units[v]) if (i % 3 == 0) == (wanted == "CA")]
                for v in ("control", c["variant"])
            }
            truth = frequentist_lift(
                stats(pick["control"], "bought"), stats(pick[c["variant"]], "bought")
            )
            assert c["relative"]["p_value"] == pytest.approx(truth.relative.p_value)
            raw.append(truth.relative.p_value)
    assert [c["p_value_corrected"] for c in family] == pytest.approx(
        list(benjamini_hochberg(raw)), rel=1e-9
    )
    units = {s["value"]: s["units"] for s in bought["segments"]}
    assert sum(u["control"] for u in units.values()) == 400


def test_an_empty_experiment_is_insufficient_data_not_an_error(
    tmp_path: Path, store: Store
) -> None:
    definition = load(tmp_path, EXPERIMENT)
    document = results_json(definition, store, method="sequential")
    assert document["units"] == {"control": 0, "b": 0, "c": 0}
    assert document["decision"]["decision"] == "insufficient_data"
    assert document["srm"]["alarm"] is False
    reason = comparisons(document, "bought")["b"]["reason"]
    assert reason == "insufficient_data"
    json.dumps(document, allow_nan=False)


def test_a_lopsided_split_raises_the_srm_alarm(tmp_path: Path, store: Store) -> None:
    experiment = {**EXPERIMENT, "key": "lopsided"}
    definition = load(tmp_path, experiment)
    rng = np.random.default_rng(1)
    units = {
        "control": generate(rng, 600, 0.2, 20.0),
        "b": generate(rng, 300, 0.2, 20.0),
        "c": generate(rng, 300, 0.2, 20.0),
    }
    seed(store, definition, units, time.time())
    document = results_json(definition, store)
    assert document["srm"]["alarm"] is True
    assert document["decision"]["decision"] == "srm_alarm"


def test_a_harmful_guardrail_stops_the_experiment(tmp_path: Path, store: Store) -> None:
    definition = load(tmp_path, {**EXPERIMENT, "key": "harm"})
    rng = np.random.default_rng(3)
    units = {v: generate(rng, 300, 0.2, 20.0) for v in ("control", "b", "c")}
    for row in units["c"]:
        row["error"] += 2.0
    seed(store, definition, units, time.time())
    document = results_json(definition, store)
    assert document["decision"]["decision"] == "guardrail_breached"
    assert any(r.startswith("errors: c is") for r in document["decision"]["reasons"])


def test_unknown_method_or_alpha_is_refused(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]]
) -> None:
    definition, _ = seeded
    with pytest.raises(ValueError, match="method"):
        results_json(definition, store, method="bayes")
    with pytest.raises(ValueError, match="alpha"):
        results_json(definition, store, alpha=1.0)


def test_no_winner_at_the_planned_sample_is_no_ship(tmp_path: Path, store: Store) -> None:
    definition = load(tmp_path, {**EXPERIMENT, "key": "planned", "planned_sample": 900})
    rng = np.random.default_rng(5)
    units = {v: generate(rng, 300, 0.2, 20.0) for v in ("control", "b", "c")}
    seed(store, definition, units, time.time())
    document = results_json(definition, store)
    assert document["decision"]["decision"] == "no_ship", document["decision"]
    assert document["sequential_tuning"] == 900
    assert document["experiment"]["planned_sample"] == 900


def test_a_closed_arm_does_not_hold_the_decision(tmp_path: Path, store: Store) -> None:
    experiment = {
        **EXPERIMENT,
        "key": "closed-arm",
        "variants": [
            {"key": "control", "weight": 0.5},
            {"key": "b", "weight": 0.5},
            {"key": "c", "weight": 0.0},  # ramped down: no new units
        ],
    }
    definition = load(tmp_path, experiment)
    rng = np.random.default_rng(7)
    units = {"control": generate(rng, 400, 0.2, 20.0), "b": generate(rng, 400, 0.3, 20.0)}
    seed(store, definition, units, time.time())
    document = results_json(definition, store)
    assert document["units"]["c"] == 0
    assert comparisons(document, "bought")["c"]["reason"] == "insufficient_data"
    assert document["decision"]["decision"] == "ship"
    assert document["decision"]["winner"] == "b"


# The keys docs/results.md documents, level by level.
DOCUMENTED = {
    "document": {
        "experiment", "method", "alpha", "sequential_tuning", "generated_at", "units", "srm",
        "decision", "diagnostics", "metrics", "bayesian",
    },
    "experiment": {
        "key", "name", "status", "winner", "hypothesis", "owner", "start", "end",
        "planned_sample", "variants", "segments", "metrics", "first_exposure_day",
        "last_exposure_day", "days_running", "days_left", "daily_units", "mde",
        "context", "phase",
    },
    "srm": {"p_value", "alarm", "threshold", "chi2", "observed", "expected"},
    "decision": {"decision", "reasons", "winner"},
    "metric": {
        "name", "kind", "role", "direction", "exploratory", "correction", "display_name",
        "format", "currency", "description", "units_in_window", "variants", "comparisons",
        "series", "segments",
    },
    "variant": {"variant", "units", "sum", "mean", "sd"},
    "comparison": {
        "variant", "absolute", "relative", "reason", "p_value_corrected", "tested_scale",
        "significant",
        "bayesian", "rule", "cuped",
    },
    "estimate": {"estimate", "se", "ci_low", "ci_high", "p_value"},
    "cuped": {
        "theta", "variance_reduction", "units_with_covariate", "absolute", "relative", "reason",
    },
    "point": {
        "date", "variant", "units", "control_units", "relative", "absolute", "p_value", "reason",
        "chance_to_win",
    },
    "band": {"estimate", "ci_low", "ci_high"},
    "segment": {"segment", "value", "units", "variants", "comparisons"},
}  # fmt: skip


@pytest.mark.parametrize("method", ["frequentist", "sequential", "bayesian"])
def test_the_json_has_the_documented_keys_and_round_trips(
    store: Store, seeded: tuple[Definition, dict[str, list[dict[str, float]]]], method: str
) -> None:
    definition, _ = seeded
    document = experiment_results(definition, store, method=method)
    data = document.as_dict()
    assert ResultsDocument.from_dict(data) == document
    assert json.loads(json.dumps(data, allow_nan=False)) == data

    def keys(name: str, value: dict[str, Any]) -> None:
        assert set(value) == DOCUMENTED[name], name

    keys("document", data)
    keys("experiment", data["experiment"])
    keys("srm", data["srm"])
    keys("decision", data["decision"])
    cuped = 0
    for metric in data["metrics"]:
        keys("metric", metric)
        rows = metric["variants"] + [r for s in metric["segments"] for r in s["variants"]]
        assert rows and all(set(r) == DOCUMENTED["variant"] for r in rows)
        for comparison in metric["comparisons"] + [
            c for s in metric["segments"] for c in s["comparisons"]
        ]:
            keys("comparison", comparison)
            keys("estimate", comparison["absolute"])
            keys("estimate", comparison["relative"])
            if comparison["cuped"] is not None:
                cuped += 1
                keys("cuped", comparison["cuped"])
                keys("estimate", comparison["cuped"]["relative"])
        for point in metric["series"]:
            keys("point", point)
            keys("band", point["relative"])
            keys("band", point["absolute"])
        for segment in metric["segments"]:
            keys("segment", segment)
    assert cuped > 0  # the seeded spend metric carries a covariate
    assert any(m["series"] for m in data["metrics"]) and any(m["segments"] for m in data["metrics"])


# --- degenerate comparisons, from a real store -------------------------------------------

TWO_ARMS: dict[str, Any] = {
    "key": "two-arms",
    "name": "Two arms",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "green", "weight": 0.5}],
    "metrics": [
        {"name": "bought", "event": "buy", "kind": "binomial", "role": "primary"},
        {"name": "spend", "event": "spend", "kind": "sum", "role": "secondary"},
        {
            "name": "spend_per_buy",
            "kind": "ratio",
            "numerator": "spend",
            "denominator": "buy",
            "role": "secondary",
        },
        {
            "name": "refunded",
            "event": "refund",
            "kind": "binomial",
            "role": "guardrail",
            "direction": "decrease",
        },
    ],
}


def seed_days(
    store: Store,
    definition: Definition,
    days: list[dict[str, tuple[int, int]]],
    now: float,
    spend: dict[str, float] | None = None,
) -> None:
    """``days[d][variant] = (units exposed on day d, how many of them buy)``: day 0 first,
    each day's events written on that day.

    A buyer also spends ``spend[variant]`` (default 10) and every 4th buyer refunds.
    """
    for d, day in enumerate(days):
        exposed = now - (len(days) - d) * DAY + 60
        events: list[Exposure | Conversion] = []
        for variant, (units, buyers) in day.items():
            for i in range(units):
                user = f"{variant}-{d}-{i}"
                events.append(Exposure.create(definition.key, user, variant, exposed))
                if i < buyers:
                    amount = (spend or {}).get(variant, 10.0)
                    events.append(Conversion("buy", user, 1.0, exposed + 5, f"{user}-b"))
                    if amount:
                        events.append(Conversion("spend", user, amount, exposed + 6, f"{user}-s"))
                    if i % 4 == 0:
                        events.append(Conversion("refund", user, 1.0, exposed + 7, f"{user}-r"))
        # each day written on that day: the store's daily snapshots are the sequential looks
        store.ingest(events, {definition.key: definition}, exposed + 10)


def _assert_no_verdict(comparison: dict[str, Any]) -> None:
    assert comparison["reason"] == "insufficient_data"
    assert comparison["p_value_corrected"] is None and comparison["significant"] is False
    for scale in ("absolute", "relative"):
        assert comparison[scale]["p_value"] is None and comparison[scale]["se"] is None
        assert comparison[scale]["ci_low"] is None and comparison[scale]["ci_high"] is None


@pytest.mark.parametrize("method", ["frequentist", "sequential"])
def test_one_in_eight_against_none_in_eight_gives_no_verdict(
    tmp_path: Path, store: Store, method: str
) -> None:
    definition = load(tmp_path, TWO_ARMS)
    seed_days(store, definition, [{"control": (8, 1), "green": (8, 0)}], time.time())
    document = results_json(definition, store, method=method)
    bought = comparisons(document, "bought")["green"]
    _assert_no_verdict(bought)
    assert bought["relative"]["estimate"] == pytest.approx(-1.0)  # observed, not tested
    _assert_no_verdict(comparisons(document, "spend")["green"])  # green spent nothing
    _assert_no_verdict(comparisons(document, "spend_per_buy")["green"])  # a 0 denominator
    series = next(m for m in document["metrics"] if m["name"] == "bought")["series"]
    assert series and all(p["reason"] == "insufficient_data" for p in series)
    assert all(p["p_value"] is None and p["relative"]["ci_low"] is None for p in series)
    assert document["decision"]["decision"] == "insufficient_data"
    assert ResultsDocument.from_dict(document).as_dict() == document


def test_zero_conversions_on_day_one_do_not_stick_in_the_sequential_view(
    tmp_path: Path, store: Store
) -> None:
    # The launch: on day 1 green has no conversion (relative se 0, p = 0 for good
    # under the old rule); then ten days of an equal 4% rate in both arms.
    definition = load(tmp_path, TWO_ARMS)
    days = [{"control": (8, 1), "green": (8, 0)}]
    days += [{"control": (500, 20), "green": (500, 20)} for _ in range(10)]
    seed_days(store, definition, days, time.time())
    document = results_json(definition, store, method="sequential")
    metric = next(m for m in document["metrics"] if m["name"] == "bought")
    first, *rest = metric["series"]
    assert first["reason"] == "insufficient_data" and first["p_value"] is None
    assert rest and all(p["reason"] is None and p["p_value"] is not None for p in rest)
    assert min(p["p_value"] for p in rest) > 0.05
    overall = comparisons(document, "bought")["green"]
    assert overall["reason"] is None
    assert overall["relative"]["p_value"] > 0.05
    assert overall["relative"]["ci_low"] < 0 < overall["relative"]["ci_high"]
    assert document["decision"]["decision"] == "keep_running"
    frequentist = results_json(definition, store, method="frequentist")
    assert comparisons(frequentist, "bought")["green"]["relative"]["p_value"] > 0.05


def test_zero_control_mean_and_zero_variance_in_a_mean_metric(tmp_path: Path, store: Store) -> None:
    definition = load(tmp_path, TWO_ARMS)
    day = {"control": (300, 60), "green": (300, 75)}
    # control buyers spend nothing: its spend mean is 0 (green's varies: 0 or 10)
    seed_days(store, definition, [day, day], time.time(), spend={"control": 0.0})
    document = results_json(definition, store)
    _assert_no_verdict(comparisons(document, "spend")["green"])
    _assert_no_verdict(comparisons(document, "spend_per_buy")["green"])  # 0 spend per buy
    assert comparisons(document, "bought")["green"]["reason"] is None
    assert comparisons(document, "refunded")["green"]["reason"] is None


def test_zero_variance_in_a_mean_metric(tmp_path: Path, store: Store) -> None:
    definition = load(tmp_path, TWO_ARMS)
    # every unit of both arms buys and spends 10: no variance anywhere
    seed_days(store, definition, [{"control": (40, 40), "green": (40, 40)}], time.time())
    for method in ("frequentist", "sequential"):
        document = results_json(definition, store, method=method)
        for metric in ("bought", "spend", "spend_per_buy"):
            _assert_no_verdict(comparisons(document, metric)["green"])
        assert document["decision"]["decision"] == "insufficient_data"


def test_an_insufficient_guardrail_does_not_breach(tmp_path: Path, store: Store) -> None:
    definition = load(tmp_path, TWO_ARMS)
    # green refunds on 1 of 4 buyers, control never: a relative p of 0 under the old rule
    day = {"control": (300, 0), "green": (300, 80)}
    seed_days(store, definition, [day], time.time())
    document = results_json(definition, store)
    _assert_no_verdict(comparisons(document, "refunded")["green"])
    assert document["decision"]["decision"] != "guardrail_breached"


NET_LOSS: dict[str, Any] = {
    "key": "net-loss",
    "name": "Net loss per unit",
    "status": "running",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "b", "weight": 0.5}],
    # every unit settles once at a loss: the metric's means are negative
    "metrics": [{"name": "net", "event": "buy", "kind": "sum", "role": "primary"}],
}


@pytest.mark.parametrize("method", ["frequentist", "sequential", "bayesian"])
@pytest.mark.parametrize(("shift", "decision"), [(2.0, "ship"), (-2.0, "no_ship")])
def test_a_negative_control_mean_keeps_the_sign_of_the_lift(
    tmp_path: Path, store: Store, method: str, shift: float, decision: str
) -> None:
    """Control loses ~10 per unit; b loses ~8 (better, the metric increases) or ~12. The
    relative lift divides by |mC| (GrowthBook's #6658): signed division would call the
    smaller loss a significant drop and ship the larger one."""
    definition = load(tmp_path, NET_LOSS)
    rng = np.random.default_rng(11)

    def losses(mean: float) -> list[dict[str, float]]:
        values = np.minimum(np.round(rng.normal(mean, 3.0, 400), 2), -0.01)
        return [{"day": float(i % 4), "buy": float(v)} for i, v in enumerate(values)]

    units = {"control": losses(-10.0), "b": losses(-10.0 + shift)}
    seed(store, definition, units, time.time())
    document = results_json(definition, store, method=method)
    means = {v: np.mean(totals(rows, "spend")) for v, rows in units.items()}
    assert means["control"] < 0 and means["b"] < 0
    b = comparisons(document, "net")["b"]
    relative = (means["b"] - means["control"]) / abs(means["control"])
    assert relative * shift > 0
    if method != "bayesian":  # a flat-prior posterior mean is the same number
        assert b["relative"]["estimate"] == pytest.approx(relative, rel=1e-9)
    assert b["relative"]["estimate"] * shift > 0
    assert b["absolute"]["estimate"] * shift > 0
    assert b["relative"]["ci_low"] * shift > 0 and b["relative"]["ci_high"] * shift > 0
    assert document["decision"]["decision"] == decision, document["decision"]
    if decision == "ship":
        assert document["decision"]["winner"] == "b"
        assert "significantly better" in " ".join(document["decision"]["reasons"])
