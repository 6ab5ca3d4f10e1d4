"""``xp plan``: units per variant for a minimum detectable effect, and the days to get them.

Without KEY the baseline comes from the options; with KEY it is the control's observed mean
of a metric (the first primary one unless ``--metric``), and the traffic is the experiment's
observed units per day. The arithmetic is :mod:`service.stats.power`'s.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass

import click

from xp.cli.report import find_definition, open_runtime, source_options
from xp.definitions.model import Definition, Metric
from xp.reports import formatting as fmt
from xp.results.arms import arm
from xp.stats import power
from xp.store.model import ExperimentData, SufficientStats


@dataclass(frozen=True)
class Baseline:
    """The control's mean, and its per-unit standard deviation unless it is a proportion."""

    kind: str  # "proportion" or "mean"
    mean: float
    sd: float | None = None


@dataclass(frozen=True)
class Traffic:
    """Exposed units so far, over how many days (first to last UTC day with exposures)."""

    units: int
    days: int

    @property
    def daily(self) -> float:
        return self.units / self.days if self.days else 0.0


@dataclass(frozen=True)
class Plan:
    baseline: Baseline
    mde: float
    alpha: float
    power: float
    variants: int
    per_variant: int
    total: int
    daily_units: float | None
    days_needed: int | None
    current_units: int
    detectable_now: float | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def make_plan(
    baseline: Baseline,
    mde: float,
    alpha: float,
    power_: float,
    weights: tuple[float, ...],
    daily_units: float | None,
    current_units: int = 0,
    current_per_variant: int = 0,
) -> Plan:
    variants = len(weights)
    if baseline.kind == "proportion":
        n = power.sample_size_proportion(baseline.mean, mde, alpha, power_, variants)
        # asked about a drop (mde < 0): the smallest drop detectable, not the smallest rise
        detectable = (
            power.mde_proportion(
                baseline.mean, current_per_variant, alpha, power_, variants, decrease=mde < 0
            )
            if current_per_variant > 0
            else None
        )
    else:
        assert baseline.sd is not None
        n = power.sample_size_mean(baseline.mean, baseline.sd, mde, alpha, power_, variants)
        detectable = (
            power.mde_mean(baseline.mean, baseline.sd, current_per_variant, alpha, power_, variants)
            if current_per_variant > 0
            else None
        )
    # The smallest arm must reach n: the total grows as that arm's share shrinks.
    total = math.ceil(n / min(weights) - 1e-9)
    days = (
        power.days_to_reach(total, current_units, daily_units) if daily_units is not None else None
    )
    return Plan(
        baseline=baseline,
        mde=mde,
        alpha=alpha,
        power=power_,
        variants=variants,
        per_variant=n,
        total=total,
        daily_units=daily_units,
        days_needed=days,
        current_units=current_units,
        detectable_now=detectable,
    )


def observed_baseline(definition: Definition, metric: Metric, data: ExperimentData) -> Baseline:
    control = definition.variant_keys[0]
    stats = data.metrics.get(metric.name, {}).get(control, SufficientStats())
    moments = arm(metric, stats).moments()
    if metric.traits.proportion:
        rate = moments.mean
        if not 0 < rate < 1:
            raise click.ClickException(
                f"the control's {metric.name} rate is {fmt.percent(rate, 2, False)} over "
                f"{_units(stats.n)}; planning needs a rate between 0 and 1 (give --baseline-rate)"
            )
        return Baseline("proportion", rate)
    sd = math.sqrt(moments.variance) if math.isfinite(moments.variance) else math.nan
    if not (math.isfinite(moments.mean) and moments.mean != 0 and sd > 0):
        raise click.ClickException(
            f"the control's {metric.name} has mean {fmt.number(moments.mean)} and sd "
            f"{fmt.number(sd)} over {_units(stats.n)}; planning needs a non-zero mean and "
            "spread (give --baseline-mean and --sd)"
        )
    return Baseline("mean", moments.mean, sd)


def _units(n: float) -> str:
    return f"{fmt.count(n)} unit{'' if n == 1 else 's'}"


def observed_traffic(data: ExperimentData) -> Traffic:
    units = sum(data.units.values())
    if not data.days:
        return Traffic(units, 0)
    days = [dt.date.fromisoformat(day) for day in data.days]
    return Traffic(units, (max(days) - min(days)).days + 1)


def pick_metric(definition: Definition, name: str | None) -> Metric:
    if name is not None:
        metric = definition.metric(name)
        if metric is None:
            known = ", ".join(m.name for m in definition.metrics)
            raise click.BadParameter(
                f"{definition.key!r} has no metric {name!r} (one of {known})", param_hint="--metric"
            )
        return metric
    primary = [m for m in definition.metrics if m.role == "primary"]
    if not (primary or definition.metrics):
        raise click.ClickException(f"{definition.key!r} has no metrics to plan for")
    return (primary or list(definition.metrics))[0]


def option_baseline(rate: float | None, mean: float | None, sd: float | None) -> Baseline | None:
    if rate is not None and (mean is not None or sd is not None):
        raise click.UsageError("give either --baseline-rate, or --baseline-mean with --sd")
    if rate is not None:
        return Baseline("proportion", rate)
    if mean is not None or sd is not None:
        if mean is None or sd is None:
            raise click.UsageError("--baseline-mean and --sd go together")
        return Baseline("mean", mean, sd)
    return None


@click.command()
@click.argument("key", required=False)
@click.option(
    "--mde",
    type=float,
    default=0.05,
    show_default=True,
    help="Relative lift to detect (0.05 = 5%; -0.05 for a 5% drop).",
)
@click.option("--baseline-rate", type=float, help="Control conversion rate (proportion metrics).")
@click.option("--baseline-mean", type=float, help="Control mean (count, sum, ratio metrics).")
@click.option("--sd", type=float, help="Per-unit standard deviation, with --baseline-mean.")
@click.option("--daily-units", type=float, help="Units a day entering the experiment.")
@click.option("--variants", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--power", "power_", type=float, default=0.8, show_default=True)
@click.option("--metric", "metric_name", help="With KEY: the metric (default: first primary).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@source_options
def plan(
    key: str | None,
    mde: float,
    baseline_rate: float | None,
    baseline_mean: float | None,
    sd: float | None,
    daily_units: float | None,
    variants: int,
    alpha: float,
    power_: float,
    metric_name: str | None,
    as_json: bool,
    experiments_dir: str,
    store_url: str | None,
) -> None:
    """Sample size per variant to detect a relative lift MDE, and the days it takes.

    \b
    xp plan --baseline-rate 0.12 --mde 0.05 --daily-units 2000
    xp plan --baseline-mean 6.1 --sd 23 --mde 0.05
    xp plan checkout-button --mde 0.05     (baseline and traffic observed)
    """
    baseline = option_baseline(baseline_rate, baseline_mean, sd)
    lines: list[str] = []
    try:
        if key is None:
            if baseline is None:
                raise click.UsageError(
                    "give KEY, or a baseline: --baseline-rate P, or --baseline-mean M --sd S"
                )
            result = make_plan(
                baseline, mde, alpha, power_, (1 / variants,) * variants, daily_units
            )
        else:
            with open_runtime(experiments_dir, store_url) as runtime:
                definition = find_definition(runtime, key)
                metric = pick_metric(definition, metric_name)
                data = runtime.store.experiment_stats(definition)
            traffic = observed_traffic(data)
            if baseline is None:
                baseline = observed_baseline(definition, metric, data)
            lines.append(
                f"{key}: {metric.name} ({metric.kind}, {metric.role}); the control has "
                f"{_baseline_text(baseline)}; {fmt.count(traffic.units)} units in "
                f"{traffic.days} days"
            )
            result = make_plan(
                baseline,
                mde,
                alpha,
                power_,
                definition.weights,
                daily_units if daily_units is not None else traffic.daily or None,
                traffic.units,
                min(data.units.values(), default=0),
            )
    except ValueError as exc:  # power's checks name the bad parameter
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo("\n".join([*lines, *describe(result)]))


def describe(plan: Plan) -> list[str]:
    lines = [
        f"To detect a {fmt.percent(plan.mde)} relative lift on {_baseline_text(plan.baseline)} "
        f"(alpha {plan.alpha}, power {fmt.percent(plan.power, 0, False)}, "
        f"{plan.variants} variants):",
        f"  units per variant: {fmt.count(plan.per_variant)}",
        f"  units in all:      {fmt.count(plan.total)}",
    ]
    if plan.daily_units:
        when = (
            "already reached"
            if plan.days_needed == 0
            else f"{plan.days_needed} more days"
            if plan.current_units
            else f"{plan.days_needed} days"
        )
        lines.append(f"  at {fmt.count(plan.daily_units)} units a day: {when}")
    if plan.current_units:
        lines.append(
            f"  smallest {'drop' if plan.mde < 0 else 'lift'} detectable with the units so far: "
            f"{fmt.percent(plan.detectable_now, 1, False)}"
        )
    lines.append("  (fixed-horizon test; the sequential test needs more units for the same power)")
    return lines


def _baseline_text(baseline: Baseline) -> str:
    if baseline.kind == "proportion":
        return f"a rate of {fmt.percent(baseline.mean, 2, False)}"
    return f"a mean of {fmt.number(baseline.mean)} (sd {fmt.number(baseline.sd)})"
