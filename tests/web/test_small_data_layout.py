"""An experiment with little data yet, laid out by headless Chromium on a real ``xp serve``.

Sixteen units (eight an arm: every comparison is insufficient data) against a planned sample
of 20,000: the lift chart's placeholder is one compact line, the progress reads ``<1%`` with a
sliver of bar, the Bayesian page's phone cards label each cell for its method, and the list's
Decision column has the same row borders as the rest of the table. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import seed as seeded
from tests.support.service_process import running_service
from tests.web.cdp import Browser
from tests.web.chromium import chromium_or_skip
from xp.store import open_store

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PLANNED = 20_000


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("small-data")
    folder = root / "experiments"
    folder.mkdir()
    definition = {**seeded.EXPERIMENT, "planned_sample": PLANNED}
    (folder / f"{seeded.KEY}.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    now = time.time()
    store = open_store(None, root / "data")
    try:
        seeded.ingest(store, seeded.definitions(folder), seeded.make_units(now, 16), now)
    finally:
        store.close()
    env = {"XP_API_KEYS": "", "XP_STORE_URL": "", "XP_SECRET_KEY": ""}
    with running_service(folder, root / "data", env=env, workers=1) as url:
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
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.open(f"{service}/experiments/{seeded.KEY}", width, 900)
        found = browser.evaluate(CHART)
        browser.screenshot(ARTIFACTS / f"small-data-{name}.png")
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
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.open(f"{service}/experiments/{seeded.KEY}", 1280, 900)
        found = browser.evaluate(PROGRESS)
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
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.open(f"{service}/experiments/{seeded.KEY}?method=bayesian", 390, 900)
        cards = browser.evaluate(CARDS)
        browser.screenshot(ARTIFACTS / "small-data-bayesian-phone.png")
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
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.open(f"{service}/", width, 900)
        rows = browser.evaluate(BORDERS)
    assert rows
    for cells in rows:
        assert len(set(cells)) == 1, cells  # the Decision cell like every other cell
