"""Every command that reads the store ends an unreachable store with one line naming the
problem and exit status 1: no traceback, no password, no host and port. Real processes, so
what a person sees is what is tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.redis_server import free_port
from xp.cli import cli

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
PASSWORD = "cli-pa55word"


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "XP_DATA_DIR": str(tmp_path / "data"), **env}
    full_env.pop("XP_STORE_URL", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "xp.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without the service's log lines (timestamped), which serve also writes there."""
    return [line for line in result.stderr.splitlines() if line and not line[:2].isdigit()]


def unreachable() -> tuple[str, int]:
    port = free_port()
    return f"redis://:{PASSWORD}@127.0.0.1:{port}/0", port


@pytest.mark.parametrize(
    "command",
    [
        ["report", "checkout-button"],
        ["report", "checkout-button", "--format", "csv"],
        ["export", "checkout-button"],
        ["plan", "checkout-button"],
        ["simulate", "checkout-button", "--units", "10"],
    ],
    ids=" ".join,
)
def test_an_unreachable_store_is_one_line_and_exit_1(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (quick): click's own handling of the one error it is given."""
    monkeypatch.setenv("XP_DATA_DIR", str(tmp_path / "data"))
    url, port = unreachable()
    result = CliRunner().invoke(cli, [*command, "--experiments", str(EXPERIMENTS), "--store", url])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not an exception escaping the command
    assert PASSWORD not in result.output and f"127.0.0.1:{port}" not in result.output
    (line,) = [x for x in result.stderr.splitlines() if x]
    assert line.startswith("Error: the event store ")
    assert "Connection refused" in line or "connecting" in line


@pytest.mark.parametrize(
    "command", [["report", "checkout-button"], ["serve", "--port", "0"]], ids=" ".join
)
def test_a_real_process_prints_no_traceback(command: list[str], tmp_path: Path) -> None:
    url, port = unreachable()
    result = run([*command, "--experiments", str(EXPERIMENTS), "--store", url], tmp_path)
    assert result.returncode == 1, result.stderr
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything
    assert PASSWORD not in everything and f"127.0.0.1:{port}" not in everything
    (line,) = error_lines(result)
    assert line.startswith("Error: the event store ")


def test_a_bad_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XP_LOG_FORMAT", "xml")
    result = CliRunner().invoke(
        cli, ["report", "checkout-button", "--experiments", str(EXPERIMENTS)]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [
        "Error: XP_LOG_FORMAT: expected one of text, json, got 'xml'"
    ]


def test_an_unwritable_output_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("XP_STORE_URL", raising=False)
    out = tmp_path / "no-such-folder" / "report.md"
    args = ["report", "checkout-button", "--experiments", str(EXPERIMENTS), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (line,) = [x for x in result.stderr.splitlines() if x]
    assert line.startswith("Error: No such file or directory") and "report.md" in line


def test_an_unknown_store_scheme_keeps_its_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hint names the schemes in words: an example URL would be redacted away.
    result = CliRunner().invoke(
        cli,
        ["report", "checkout-button", "--experiments", str(EXPERIMENTS), "--store", "bogus://x"],
    )
    assert result.exit_code == 1
    assert "unsupported store URL scheme 'bogus'" in result.output
    assert "redis, redis+cluster or sqlite" in result.output and "[redacted]" not in result.output
