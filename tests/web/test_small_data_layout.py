"""An experiment with little data yet, laid out by headless Chromium on a real ``xp serve``.

Sixteen units (eight an arm: every comparison is insufficient data) against a planned sample
of 20,000: the lift chart's placeholder is one compact line, the progress reads ``<1%`` with a
sliver of bar, the Bayesian page's phone cards label each cell for its method, and the list's
Decision column has the same row borders as the rest of the table. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import seed as seeded
from tests.web.chromium import chromium_or_skip
from tests.web.seeded_service import measure, seeded_service

pytestmark = pytest.mark.browser

PLANNED = 20_000


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    definition = {**seeded.EXPERIMENT, "planned_sample": PLANNED}
    with seeded_service(tmp_path_factory.mktemp("small-data"), definition, 16) as url:
        yield url


CHART = """(() => {
  const figure = document.querySelector('section[data-role=primary] figure.chart');
  const svg = figure.querySelector('svg');
  return {figure: figure.getBoundingClientRect().height,
          svg: svg.getBoundingClientRect().height,
          text: svg.querySelector('text.empty').textContent,
          scroll: document.documentElement.scrollWidth, inner: innerWidth};
})()"""


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_the_empty_chart_is_one_compact_line(
    chromium: str, service: str, tmp_path: Path, width: int, name: str
) -> None:
    url = f"{service}/experiments/{seeded.KEY}"
    found = measure(chromium, tmp_path / "profile", url, width, CHART, f"small-data-{name}")
    assert found["text"] == "Too little data on every day so far to draw a lift."
    # the title and one line of text (was a 300-unit frame: ~340 px at 1280)
    assert found["svg"] <= 70, found
    assert found["figure"] <= 130, found  # with its caption
    assert found["scroll"] <= found["inner"] == width, found


PROGRESS = """(() => {
  const bar = document.getElementById('sample-progress');
  return {value: bar.value, max: bar.max, width: bar.getBoundingClientRect().width,
          text: document.getElementById('sample-share').textContent,
          line: document.getElementById('progress').textContent.replace(/\\s+/g, ' ')};
})()"""


def test_progress_below_one_percent_shows_a_sliver(
    chromium: str, service: str, tmp_path: Path
) -> None:
    url = f"{service}/experiments/{seeded.KEY}"
    found = measure(chromium, tmp_path / "profile", url, 1280, PROGRESS)
    assert found["text"] == "<1%" and "16 of 20,000 planned units" in found["line"]
    assert found["max"] == PLANNED and found["value"] == PLANNED / 100
    # the filled part is value/max of the bar: at least a pixel, where 16/20,000 is 0.1 px
    assert found["width"] * found["value"] / found["max"] >= 1, found


CARDS = """(() => [...document.querySelectorAll('table.results tbody tr')]
  .filter(tr => tr.querySelector('td.verdict'))
  .map(tr => [...tr.querySelectorAll('td')]
    .filter(td => getComputedStyle(td).display !== 'none')
    .map(td => getComputedStyle(td, '::before').content.replace(/^"|"$/g, ''))))()"""


def test_the_bayesian_phone_cards_label_cells_for_the_method(
    chromium: str, service: str, tmp_path: Path
) -> None:
    url = f"{service}/experiments/{seeded.KEY}?method=bayesian"
    cards = measure(chromium, tmp_path / "profile", url, 390, CARDS, "small-data-bayesian-phone")
    labels = {label for card in cards for label in card}
    assert cards and {"Chance to win", "Risk", "Verdict"} <= labels, labels
    assert not labels & {"p-value", "Corrected p"}, labels


BORDERS = """(() => [...document.querySelectorAll('#experiments tbody tr')].map(tr =>
  [...tr.cells].map(td => getComputedStyle(td).borderBottomColor + ' ' +
                          getComputedStyle(td).borderBottomWidth)))()"""


@pytest.mark.parametrize("width", [1280, 390])
def test_the_decision_column_has_the_tables_row_borders(
    chromium: str, service: str, tmp_path: Path, width: int
) -> None:
    rows = measure(chromium, tmp_path / "profile", f"{service}/", width, BORDERS)
    assert rows
    for cells in rows:
        assert len(set(cells)) == 1, cells  # the Decision cell like every other cell
