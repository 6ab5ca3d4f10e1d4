from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.seed import DAYS, KEY, Unit
from xp.cli import cli
from xp.stats import power


def plan(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["plan", *map(str, args)])


def test_proportion_by_hand() -> None:
    result = plan("--baseline-rate", 0.12, "--mde", 0.05, "--daily-units", 2000)
    assert result.exit_code == 0, result.output
    n = power.sample_size_proportion(0.12, 0.05)
    assert n == 47034  # (1.96 + 0.8416)^2 (.12 .88 + .126 .874) / .006^2, Chow et al. 4.2
    assert "units per variant: 47,034" in result.output
    assert "units in all:      94,068" in result.output
    assert f"at 2,000 units a day: {math.ceil(2 * n / 2000)} days" in result.output


def test_mean_by_hand_as_json() -> None:
    result = plan("--baseline-mean", 6.07, "--sd", 23.2, "--mde", 0.1, "--variants", 3, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    n = power.sample_size_mean(6.07, 23.2, 0.1, variants=3)
    assert got["per_variant"] == n and got["total"] == 3 * n
    assert got["days_needed"] is None and got["baseline"] == {
        "kind": "mean",
        "mean": 6.07,
        "sd": 23.2,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give KEY, or a baseline"),
        (("--baseline-rate", 0.1, "--sd", 2), "either --baseline-rate, or --baseline-mean"),
        (("--baseline-mean", 3), "--baseline-mean and --sd go together"),
    ],
)
def test_usage_errors(args: tuple[Any, ...], message: str) -> None:
    result = plan(*args)
    assert result.exit_code == 2 and message in result.output


def test_bad_values_are_named() -> None:
    result = plan("--baseline-rate", 1.5)
    assert (
        result.exit_code == 1 and "baseline_rate must be strictly between 0 and 1" in result.output
    )


def test_from_the_experiment(seeded: list[Unit], xp: Callable[..., Result]) -> None:
    result = xp("plan", KEY, "--mde", 0.2, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    control = [u for u in seeded if u.variant == "control"]
    rate = sum(1 for u in control if u.purchases) / len(control)
    assert got["baseline"] == {"kind": "proportion", "mean": pytest.approx(rate), "sd": None}
    n = power.sample_size_proportion(rate, 0.2)
    assert got["per_variant"] == n and got["total"] == 2 * n
    assert got["current_units"] == len(seeded)
    daily = len(seeded) / DAYS
    assert got["daily_units"] == pytest.approx(daily)
    assert got["days_needed"] == power.days_to_reach(2 * n, len(seeded), daily)
    assert got["detectable_now"] == pytest.approx(power.mde_proportion(rate, len(control)))


def test_asked_about_a_drop_the_plan_gives_the_smallest_drop(
    seeded: list[Unit], xp: Callable[..., Result]
) -> None:
    result = xp("plan", KEY, "--mde", -0.2)
    assert result.exit_code == 0, result.output
    control = [u for u in seeded if u.variant == "control"]
    rate = sum(1 for u in control if u.purchases) / len(control)
    n = power.sample_size_proportion(rate, -0.2)
    assert f"units per variant: {n:,}" in result.output
    drop = power.mde_proportion(rate, len(control), decrease=True)
    assert drop is not None and drop != pytest.approx(power.mde_proportion(rate, len(control)))
    assert f"smallest drop detectable with the units so far: {drop:.1%}" in result.output


def test_from_the_experiment_on_a_mean_metric(
    seeded: list[Unit], xp: Callable[..., Result]
) -> None:
    result = xp("plan", KEY, "--metric", "revenue", "--mde", 0.1)
    assert result.exit_code == 0, result.output
    revenue = [u.totals["revenue"] for u in seeded if u.variant == "control"]
    mean = sum(revenue) / len(revenue)
    sd = math.sqrt(sum((x - mean) ** 2 for x in revenue) / (len(revenue) - 1))
    n = power.sample_size_mean(mean, sd, 0.1)
    assert f"a mean of {mean:.4g} (sd {sd:.4g})" in result.output
    assert f"units per variant: {n:,}" in result.output
    assert f"600 units in {DAYS} days" in result.output


def test_unknown_metric(seeded: list[Unit], xp: Callable[..., Result]) -> None:
    result = xp("plan", KEY, "--metric", "nope")
    assert result.exit_code == 2 and "no metric 'nope'" in result.output
