from __future__ import annotations

import json

import pytest

from tests.support.sample_results import sample_dict, sample_results
from xp.reports.formats import FORMATS, UnknownFormat, render


@pytest.mark.parametrize(
    ("format", "mimetype", "marker"),
    [
        ("json", "application/json", '"key": "checkout-button"'),
        ("md", "text/markdown; charset=utf-8", "## Decision: Keep running"),
        ("csv", "text/csv; charset=utf-8", "experiment,method,metric"),
        ("html", "text/html; charset=utf-8", "<!doctype html>"),
    ],
)
def test_every_format_has_its_mimetype(format: str, mimetype: str, marker: str) -> None:
    content, got = render(sample_results(), format)
    assert got == mimetype
    assert marker in content


def test_json_is_the_document_itself() -> None:
    content, _ = render(sample_results(), "json")
    expected = sample_dict()
    expected["experiment"].update(
        days_left=None, daily_units={}, mde=None, context={}, phase=1
    )  # progress defaults
    for metric in expected["metrics"]:  # the sample predates the labels: their defaults
        metric.update(
            display_name="", format=None, currency=None, description="", units_in_window=None
        )
        for comparison in metric["comparisons"] + [
            c for segment in metric["segments"] for c in segment["comparisons"]
        ]:
            comparison["bayesian"] = None  # and the Bayesian readings
            comparison["rule"] = None  # and the Bayesian rule's words
            tested = [s for s in ("relative", "absolute") if comparison[s]["p_value"] is not None]
            comparison["tested_scale"] = tested[0] if tested else None  # derived, not stored
        for point in metric["series"]:
            point["chance_to_win"] = None
    expected["bayesian"] = None  # method=bayesian's settings
    assert json.loads(content) == expected
    # keys in the documented order
    assert list(json.loads(content)) == [*sample_dict(), "bayesian"]


def test_unknown_format_names_the_value_and_the_choices() -> None:
    with pytest.raises(UnknownFormat, match=r"'pdf'.*json, md, csv, html"):
        render(sample_results(), "pdf")
    assert set(FORMATS) == {"json", "md", "csv", "html"}
