"""A real browser on a real service: headless Chromium opens a seeded experiment's page.

The service is an ``xp serve`` process (gunicorn) on a free port, with XP_DATA_DIR pointing at
a SQLite store seeded through the store API. Chromium dumps the DOM the page builds and takes
screenshots (desktop and phone width) into test-artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.seed import KEY, Unit, seed
from tests.support.service_process import running_service
from tests.web.chromium import chromium_or_skip, dump_dom, screenshot
from xp.stats.frequentist import frequentist_lift
from xp.stats.sufficient import ProportionStats
from xp.store import open_store

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Unit]]]:
    root = tmp_path_factory.mktemp("browser")
    data_dir = root / "data"
    store = open_store(None, data_dir)
    try:
        units = seed(root / "experiments", store, time.time())
    finally:
        store.close()
    env = {"XP_API_KEYS": "", "XP_STORE_URL": "", "XP_SECRET_KEY": ""}
    with running_service(root / "experiments", data_dir, env=env, workers=1) as url:
        yield url, units


def primary_lift(units: list[Unit]) -> str:
    def arm(variant: str) -> ProportionStats:
        chosen = [u for u in units if u.variant == variant]
        return ProportionStats(len(chosen), sum(1 for u in chosen if u.purchases))

    relative = frequentist_lift(arm("control"), arm("treatment")).relative
    assert relative.estimate is not None and relative.ci_low is not None
    assert relative.ci_high is not None
    return (
        f"{relative.estimate * 100:+.1f}% "
        f"({relative.ci_low * 100:+.1f}% to {relative.ci_high * 100:+.1f}%)"
    )


def test_experiment_page_in_chromium(
    chromium: str, service: tuple[str, list[Unit]], tmp_path: Path
) -> None:
    url, units = service
    page = f"{url}/experiments/{KEY}"
    dom = dump_dom(chromium, tmp_path / "profile", page)

    decision = re.search(r'<span class="decision-label">([^<]+)</span>', dom)
    assert decision is not None, dom[:2000]
    assert decision.group(1) in {
        "Ship",
        "Don't ship",
        "Keep running",
        "Guardrail breached",
        "Sample ratio mismatch",
        "Insufficient data",
    }
    assert "Seeded &lt;checkout&gt; test" in dom  # escaped by the server, parsed as text

    section = dom[dom.index('id="metric-purchased"') :]
    section = section[: section.index("</section>")]
    assert primary_lift(units) in section

    start = section.index('class="chart" id=')  # the lift chart, after the interval bars
    svg = section[start : section.index("</svg>", start)]
    line = re.search(r'<path class="line" d="([^"]+)"', svg)
    assert line is not None
    assert len(re.findall(r"[ML]-?[\d.]+,-?[\d.]+", line.group(1))) >= 2  # a drawn series
    assert 'class="band"' in svg and 'class="zero"' in svg
    assert "<script" not in dom

    desktop = ARTIFACTS / "results-page.png"
    phone = ARTIFACTS / "results-page-phone.png"
    screenshot(chromium, tmp_path / "profile", page, desktop, 1280, 2400)
    screenshot(chromium, tmp_path / "profile", page, phone, 390, 2400)
    assert desktop.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_index_page_in_chromium(
    chromium: str, service: tuple[str, list[Unit]], tmp_path: Path
) -> None:
    url, _ = service
    dom = dump_dom(chromium, tmp_path / "profile", f"{url}/")
    row = re.search(rf'<tr data-key="{KEY}">(.*?)</tr>', dom, re.S)
    assert row is not None
    assert f'href="/experiments/{KEY}"' in row.group(1) and "600" in row.group(1)
