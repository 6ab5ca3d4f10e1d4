"""``xp export KEY | head``: a reader that closes the pipe early ends the command quietly with
the status of a process killed by SIGPIPE (128 + 13). Real processes and real pipes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
SIGPIPE_STATUS = 128 + signal.SIGPIPE


def environment(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "XP_DATA_DIR": str(data_dir), "XP_EXPERIMENTS_DIR": str(EXPERIMENTS)}
    env.pop("XP_STORE_URL", None)
    return env


def start(args: list[str], data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "xp.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(data_dir),
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    """The exit status and everything written to stderr (its pipe closed)."""
    assert process.stderr is not None
    with process.stderr:
        err = process.stderr.read()
    return process.wait(timeout=60), err


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 simulated units: an export of ~160 kB, more than a pipe holds."""
    path = tmp_path_factory.mktemp("pipe") / "data"
    subprocess.run(
        [sys.executable, "-m", "xp.cli", "simulate", "checkout-button", "--units", "3000"],
        env=environment(path),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def test_export_into_head_ends_quietly(data_dir: Path) -> None:
    process = start(["export", "checkout-button"], data_dir)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"unit_id,variant,first_exposure")
    process.stdout.close()  # what head does after its lines
    assert finish(process) == (SIGPIPE_STATUS, b"")


@pytest.mark.parametrize(
    "args",
    [
        ["export", "checkout-button"],
        ["report", "checkout-button"],
        ["report", "checkout-button", "--format", "csv"],
        ["plan", "checkout-button", "--mde", "0.05"],
        ["validate", str(EXPERIMENTS)],
    ],
    ids=" ".join,
)
def test_a_pipe_closed_before_the_first_byte_ends_quietly(data_dir: Path, args: list[str]) -> None:
    process = start(args, data_dir)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the interpreter has started: no reader for any byte
    assert finish(process) == (SIGPIPE_STATUS, b"")


def test_a_complete_read_still_exits_zero(data_dir: Path) -> None:
    process = start(["export", "checkout-button"], data_dir)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and err == b""
    assert out.count(b"\n") == 3002  # the header, one row per unit and the trailer
