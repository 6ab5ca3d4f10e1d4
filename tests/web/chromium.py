"""Headless Chromium from the command line: the DOM of a page, and a screenshot of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from xp.reports.pdf import PdfError, find_chromium

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_or_skip() -> str:
    """Path of the Chromium ``xp report --format pdf`` would run (XP_CHROMIUM, else PATH);
    skips without it, fails when XP_REQUIRE_BROWSER=1."""
    try:
        return find_chromium(os.environ.get("XP_CHROMIUM"))
    except PdfError as exc:
        if os.environ.get("XP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"XP_REQUIRE_BROWSER=1 but {exc} (apt-get install chromium)")
        pytest.skip(f"{exc}; apt-get install chromium to run the browser test")


def run_chromium(binary: str, profile: Path, *args: str, timeout: float = 90) -> str:
    result = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


def dump_dom(binary: str, profile: Path, url: str) -> str:
    """The page's DOM after load, serialized as HTML."""
    return run_chromium(binary, profile, "--dump-dom", url)


def screenshot(binary: str, profile: Path, url: str, path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(binary, profile, f"--screenshot={path}", f"--window-size={width},{height}", url)
    if not path.is_file() or path.stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot to {path}")
