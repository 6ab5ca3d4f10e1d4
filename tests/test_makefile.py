"""``make serve`` installs xp alone; ``make test`` adds the test tools, even after a serve."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(target: str, venv: Path) -> str:
    """The commands ``make`` would run for ``target`` (``-n``: nothing is run)."""
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_serve_installs_xp_without_the_test_extra(tmp_path: Path) -> None:
    plan = planned("serve", tmp_path / "venv")
    assert "pip install --quiet -e ./client -e ." in plan
    assert "[test]" not in plan


def test_test_installs_the_test_extra_after_a_serve(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "xp").touch()  # what `make serve` leaves: the xp stamp, newer than sources
    assert "pip install" not in planned("install", venv)
    assert "pip install --quiet -e '.[test]'" in planned("unit", venv)
    (venv / ".test-tools").touch()
    assert "pip install" not in planned("unit", venv)  # idempotent once installed
