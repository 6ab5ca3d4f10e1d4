"""Labels a person writes: display names, formats and descriptions in every rendering."""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.sample_results import SAMPLE
from tests.support.seed import EXPERIMENT
from xp.definitions.loader import load_directory
from xp.reports import formatting as fmt
from xp.reports.csv_report import render_csv
from xp.reports.html import render_html
from xp.reports.markdown import render_markdown
from xp.results.document import ResultsDocument


def labelled() -> ResultsDocument:
    data: dict[str, Any] = copy.deepcopy(SAMPLE)
    purchase, revenue, refunds = data["metrics"]
    purchase.update(display_name="Purchase rate", description="Bought within 7 days")
    revenue.update(display_name="Revenue per user", format="currency", currency="EUR")
    refunds.update(display_name="Refund time", format="duration")
    return ResultsDocument.from_dict(data)


def test_html_uses_labels_formats_and_descriptions() -> None:
    page = render_html(labelled())
    assert "<h3>Purchase rate <code>purchase_rate</code>" in page
    assert '<p class="description">Bought within 7 days</p>' in page
    assert "Cumulative relative lift of Purchase rate per day" in page  # the chart's title
    assert "Revenue per user by segment" in page or "Purchase rate by segment" in page
    assert "6.07 EUR" in page and "+0.54 EUR (-0.40 EUR to +1.48 EUR)" in page
    assert '<span class="ci">(EUR)</span>' in page
    assert "12.21%" in page and "+0.52 pp" in page  # a rate stays a percentage
    # refund rate 0.0082 read as seconds: a duration, never a percentage
    refunds = page[page.index('id="metric-refund_rate"') :]
    refunds = refunds[: refunds.index("</section>")]
    assert "0.00818 s" in refunds and "+0.000641 s (-0.00296 s to +0.00424 s)" in refunds
    assert "0.82%" not in refunds and " pp" not in refunds


def test_markdown_and_csv_use_the_labels() -> None:
    text = render_markdown(labelled())
    assert "## Purchase rate (primary, binomial, increase is better)" in text
    assert "Bought within 7 days" in text
    assert "| Mean (EUR) |" in text and "| 6.07 EUR |" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(labelled()))))
    revenue = next(r for r in rows if r["metric"] == "revenue_per_user")
    assert revenue["metric_label"] == "Revenue per user" and revenue["format"] == "currency:EUR"
    purchase = next(r for r in rows if r["metric"] == "purchase_rate")
    assert purchase["format"] == "percent"


@pytest.mark.parametrize(
    ("value", "style", "mean", "lift"),
    [
        (0.1234, "percent", "12.34%", "+12.34 pp"),
        (6.06816, "number", "6.068", "+6.068"),
        (6.06816, "currency:USD", "6.07 USD", "+6.07 USD"),
        (0.004, "currency:JPY", "0.004 JPY", "+0.004 JPY"),
        (0.0, "currency:USD", "0.00 USD", "+0.00 USD"),
        (42.5, "duration", "42.5 s", "+42.5 s"),
        (185.0, "duration", "3 min 05 s", "+3 min 05 s"),
        (3599.7, "duration", "1 h 00 min", "+1 h 00 min"),
        (-7380.0, "duration", "-2 h 03 min", "-2 h 03 min"),
        (86_400 * 3.3, "duration", "3 d 07 h", "+3 d 07 h"),
        (1e300, "duration", "1.157e+295 d", "+1.157e+295 d"),
        (float("nan"), "duration", "—", "—"),
        (float("inf"), "currency:USD", "—", "—"),
    ],
)
def test_formats(value: float, style: str, mean: str, lift: str) -> None:
    assert fmt.mean(value, style) == mean
    assert fmt.absolute(value, style) == lift


def write(tmp_path: Path, **metric: Any) -> list[tuple[str, str]]:
    data = copy.deepcopy(EXPERIMENT)
    data["metrics"][1].update(metric)
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(data))
    result = load_directory(tmp_path)
    if not result.problems:
        (definition,) = result.definitions.values()
        revenue = definition.metrics[1]
        assert (revenue.display_name, revenue.format) == (
            metric.get("display_name", ""),
            metric.get("format"),
        )
    return [(p.path, p.message) for p in result.problems]


def test_yaml_accepts_labels_and_names_bad_fields(tmp_path: Path) -> None:
    assert write(tmp_path, display_name="Revenue", format="currency", currency="USD") == []
    assert write(tmp_path, format="duration", description="Seconds on the page") == []
    assert write(tmp_path, format="currency") == [
        ("metrics.1.currency", "a currency metric needs 'currency' (a code such as USD)")
    ]
    assert write(tmp_path, format="number", currency="USD") == [
        ("metrics.1.currency", "'currency' goes with format: currency")
    ]
    assert write(tmp_path, format="currency", currency="usd") == [
        ("metrics.1.currency", "must be an ISO 4217 code such as USD")
    ]
    ((path, _),) = write(tmp_path, format="money")
    assert path == "metrics.1.format"
    ((path, _),) = write(tmp_path, display_name="x" * 121)
    assert path == "metrics.1.display_name"
