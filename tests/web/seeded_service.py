"""A real ``xp serve`` over a seeded experiment, and one look at a page in headless Chromium."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.support import seed as seeded
from tests.support.service_process import running_service
from tests.web.cdp import Browser
from xp.store import open_store

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextmanager
def seeded_service(
    root: Path,
    definition: Mapping[str, Any],
    count: int,
    shape: Callable[[list[seeded.Unit]], None] | None = None,
) -> Iterator[str]:
    """Serve ``definition`` (the seeded experiment's key) with ``count`` hand-made units,
    reshaped by ``shape`` before they are ingested; yields the service's URL."""
    folder = root / "experiments"
    folder.mkdir()
    (folder / f"{seeded.KEY}.yaml").write_text(yaml.safe_dump(dict(definition), sort_keys=False))
    now = time.time()
    units = seeded.make_units(now, count)
    if shape is not None:
        shape(units)
    store = open_store(None, root / "data")
    try:
        seeded.ingest(store, seeded.definitions(folder), units, now)
    finally:
        store.close()
    env = {"XP_API_KEYS": "", "XP_STORE_URL": "", "XP_SECRET_KEY": ""}
    with running_service(folder, root / "data", env=env, workers=1) as url:
        yield url


def measure(
    chromium: str, profile: Path, url: str, width: int, script: str, shot: str | None = None
) -> Any:
    """``script``'s value on ``url`` laid out ``width`` CSS pixels wide; with ``shot``, a
    screenshot of the whole page as ``test-artifacts/<shot>.png``."""
    with Browser(chromium, profile) as browser:
        browser.open(url, width, 900)
        found = browser.evaluate(script)
        if shot:
            browser.screenshot(ARTIFACTS / f"{shot}.png")
    return found
