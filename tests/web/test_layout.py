"""The results page fits a laptop and a phone: measured in headless Chromium on ``xp serve``.

A seeded experiment with three arms and a segment is served by a real gunicorn process; the
browser (over the DevTools protocol) lays the page out at 1280 and 390 CSS pixels and reports
whether anything scrolls sideways: the document, or any table inside its scrolling wrapper.
Screenshots of both widths go to ``test-artifacts/``. The print layout (what ``xp report
--format pdf`` prints, on landscape A4: about 1030 CSS pixels inside the margins) is measured
the same way with the print media emulated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import seed as seeded
from tests.web.cdp import Browser
from tests.web.chromium import chromium_or_skip
from tests.web.seeded_service import ARTIFACTS, seeded_service

pytestmark = pytest.mark.browser

ARMS = ("control", "treatment", "bold-new-checkout")
OVERFLOW = """(() => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('.table-wrap')]
    .filter(w => w.scrollWidth > w.clientWidth + 1)
    .map(w => (w.closest('section') || {}).id || '?');
  return {scroll: root.scrollWidth, inner: innerWidth, wide: wide,
          bars: document.querySelectorAll('svg.bar').length,
          cards: getComputedStyle(document.querySelector('table.results tr')).display};
})()"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    definition = dict(seeded.EXPERIMENT)
    definition["variants"] = [{"key": arm, "weight": 1 / 3} for arm in ARMS]

    def three_arms(units: list[seeded.Unit]) -> None:
        for i, unit in enumerate(units):
            unit.variant = ARMS[i % 3]
            unit.country = "US" if (i // 3) % 3 else "CA"  # every arm in every country

    with seeded_service(tmp_path_factory.mktemp("layout"), definition, 900, three_arms) as url:
        yield url


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_results_page_fits_without_sideways_scrolling(
    chromium: str, service: str, tmp_path: Path, width: int, name: str
) -> None:
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.open(f"{service}/experiments/{seeded.KEY}", width, 900)
        found = browser.evaluate(OVERFLOW)
        browser.screenshot(ARTIFACTS / f"layout-{name}.png")
    assert found["inner"] == width
    assert found["scroll"] <= found["inner"], found
    assert found["wide"] == [], f"tables scroll sideways at {width} px: {found['wide']}"
    # three metrics x two treatments, plus the segment rows: every comparison has its bar
    assert found["bars"] >= 6, found
    assert found["cards"] == ("block" if width == 390 else "table-row")
    assert (ARTIFACTS / f"layout-{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_experiment_list_fits_without_sideways_scrolling(
    chromium: str, service: str, tmp_path: Path, width: int, name: str
) -> None:
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.open(f"{service}/?sort=units&order=desc", width, 900)
        found = browser.evaluate(OVERFLOW.replace("table.results tr", "table tr"))
        browser.screenshot(ARTIFACTS / f"list-{name}.png")
    assert found["scroll"] <= found["inner"] == width, found
    assert found["wide"] == [], f"the list scrolls sideways at {width} px"


PRINT_WIDTH = 1030  # A4 landscape, 297 mm less two 12 mm margins, at 96 CSS px per inch


def test_the_printed_page_fits_landscape_a4(chromium: str, service: str, tmp_path: Path) -> None:
    with Browser(chromium, tmp_path / "profile") as browser:
        browser.call("Emulation.setEmulatedMedia", session=True, media="print")
        browser.open(f"{service}/experiments/{seeded.KEY}", PRINT_WIDTH, 900)
        found = browser.evaluate(OVERFLOW)
        hidden = browser.evaluate(
            "['header.top', '.downloads', 'nav.switch'].map(s => document.querySelector(s))"
            ".filter(e => e && getComputedStyle(e).display !== 'none').length"
        )
        browser.screenshot(ARTIFACTS / "layout-print.png")
    # Paper does not scroll: a table wider than the page would be cut off.
    assert found["scroll"] <= found["inner"] == PRINT_WIDTH, found
    assert found["wide"] == [], f"tables are cut on paper: {found['wide']}"
    assert hidden == 0  # no navigation or download links on paper
