"""A validated experiment definition: the engine's :class:`Experiment` plus what analysis needs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from xp_client.definition import Experiment


@dataclass(frozen=True, slots=True)
class MetricTraits:
    """What validation, analysis and simulation read of a metric kind.

    A kind's arithmetic (what one event adds to a unit's total) lives in
    ``xp.attribution.metric_kinds`` and ``lua/kinds.lua``, which check this table.
    """

    name: str
    proportion: bool = False  # a 0/1 total per unit, analysed as a proportion
    has_denominator: bool = False  # numerator and denominator events, delta-method ratio
    window_pair: bool = False  # needs ``window_days: [start, end]``
    repeats: bool = False  # more than one event per unit counts
    valued: bool = False  # adds up the events' values


METRIC_TRAITS: dict[str, MetricTraits] = {
    traits.name: traits
    for traits in (
        MetricTraits("binomial", proportion=True),
        MetricTraits("count", repeats=True),
        MetricTraits("sum", repeats=True, valued=True),
        MetricTraits("retention", proportion=True, window_pair=True),
        MetricTraits("ratio", has_denominator=True, repeats=True),
    )
}
METRIC_KINDS = tuple(METRIC_TRAITS)
METRIC_ROLES = ("primary", "secondary", "guardrail")
DIRECTIONS = ("increase", "decrease")
# How a metric's values read to people (xp.reports.formatting); currency takes an ISO 4217 code.
METRIC_FORMATS = ("percent", "number", "currency", "duration")
DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of an experiment.

    ``window`` is the attribution window in days after the unit's first exposure, ``[start,
    end)``: ``window_days: 7`` is ``(0, 7)``, a retention metric's ``window_days: [1, 8]`` is
    ``(1, 8)``, and ``None`` means from exposure to the end of the experiment.
    """

    name: str
    kind: str
    role: str = "secondary"
    event: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    window: tuple[float, float] | None = None
    direction: str = "increase"
    description: str = ""
    display_name: str = ""  # the label people read; the name stays the key
    format: str | None = None  # one of METRIC_FORMATS; None: percent for rates, else number
    currency: str | None = None  # with format "currency"

    @property
    def traits(self) -> MetricTraits:
        return METRIC_TRAITS[self.kind]

    @property
    def events(self) -> tuple[str, ...]:
        """Event names this metric listens to."""
        if self.traits.has_denominator:
            assert self.numerator is not None and self.denominator is not None
            return (self.numerator, self.denominator)
        assert self.event is not None
        return (self.event,)

    def in_window(self, seconds_after_exposure: float) -> bool:
        """Whether an event that many seconds after the first exposure is attributed."""
        if seconds_after_exposure < 0:
            return False
        if self.window is None:
            return True
        start, end = self.window
        return start * DAY_SECONDS <= seconds_after_exposure < end * DAY_SECONDS


@dataclass(frozen=True, slots=True)
class Definition:
    """An experiment as a product manager wrote it, validated."""

    experiment: Experiment
    name: str
    metrics: tuple[Metric, ...]
    segments: tuple[str, ...] = ()
    hypothesis: str = ""
    owner: str = ""
    # The schedule as UTC instants, [start, end): the engine reads it from ``experiment``.
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    planned_sample: int | None = None
    phase: int = 1  # a new phase re-buckets and restarts analysis (xp.definitions.phases)
    source: str = ""
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return self.experiment.key

    @property
    def status(self) -> str:
        return self.experiment.status

    @property
    def variant_keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.experiment.variants)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(v.weight for v in self.experiment.variants)

    @property
    def is_live(self) -> bool:
        """Served to SDKs and assigned: everything but drafts with no overrides."""
        return self.status != "draft" or bool(self.experiment.overrides)

    def metric(self, name: str) -> Metric | None:
        for m in self.metrics:
            if m.name == name:
                return m
        return None

    def metrics_on(self, event: str) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if event in m.events)
