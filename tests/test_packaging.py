"""The two distributions: the SDK installs alone; neither puts a generic name in site-packages."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run inside the SDK-only venv: a working Client with a config, and nothing of the service.
SDK_SCRIPT = """
import importlib.util, json
from xp_client import Client
config = {"experiments": [{"key": "exp", "variants": [
    {"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]}]}
with Client(config=config) as client:
    variant = client.get_variant("exp", "user-1")
missing = [m for m in ("flask", "scipy", "numpy", "redis", "gunicorn", "xp", "client", "service")
           if importlib.util.find_spec(m) is not None]
print(json.dumps({"variant": variant.key, "present": missing}))
"""


@pytest.mark.slow
def test_the_sdk_installs_alone_in_an_empty_venv(tmp_path: Path) -> None:
    env_dir = tmp_path / "sdk-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(ROOT / "client")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert names - {"pip", "setuptools", "wheel"} == {"mmh3", "xp-client"}
    run = subprocess.run(
        [python, "-c", SDK_SCRIPT], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert '"present": []' in run.stdout
    assert '"variant": "control"' in run.stdout or '"variant": "treatment"' in run.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("source", "top_level"), [(".", {"xp"}), ("client", {"xp_client"})])
def test_each_wheel_holds_only_its_own_import_name(
    tmp_path: Path, source: str, top_level: set[str]
) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path)]
        + [str(ROOT / source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        roots = {name.split("/")[0] for name in archive.namelist()}
    assert {r for r in roots if not r.endswith((".dist-info", ".data"))} == top_level
    if source == ".":
        with zipfile.ZipFile(wheel) as archive:
            files = set(archive.namelist())
        assert "xp/store/redis/lua/lib.lua" in files
        assert "xp/store/sqlite/schema.sql" in files
        assert "xp/web/templates/base.html" in files
