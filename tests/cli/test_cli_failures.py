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


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("XP_PORT", "abc", "Error: XP_PORT: 'abc' is not a valid integer."),
        ("XP_WORKERS", "zero", "Error: XP_WORKERS: 'zero' is not a valid integer."),
    ],
)
def test_a_bad_option_setting_names_its_variable(
    variable: str, value: str, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # click would print its usage text, name --port and exit 2: a setting is not a usage slip
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["serve", "--experiments", str(EXPERIMENTS)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [line]


def test_a_bad_option_on_the_command_line_stays_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "abc"])
    assert result.exit_code == 2
    assert "Invalid value for '--port': 'abc' is not a valid integer." in result.stderr
    assert "Usage: cli serve" in result.stderr  # CliRunner names the group "cli"


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


@pytest.mark.parametrize(
    "args",
    [
        ["report", "checkout-button", "--experiments", str(EXPERIMENTS)],
        ["export", "checkout-button", "--experiments", str(EXPERIMENTS)],
        ["plan", "checkout-button", "--experiments", str(EXPERIMENTS)],
        ["validate", str(EXPERIMENTS)],
    ],
    ids=["report", "export", "plan", "validate"],
)
def test_a_reading_command_refuses_a_sqlite_store_that_is_not_there(
    args: list[str], tmp_path: Path
) -> None:
    # a mistyped path would otherwise become a new empty store, and an empty report
    path = tmp_path / "typo" / "xp.sqlite"
    result = run([*args, "--store", f"sqlite:///{path}"], tmp_path)
    assert result.returncode == 1, result.stderr
    (line,) = error_lines(result)
    assert line.endswith(f"no SQLite store at {str(path)!r}") and line.startswith("Error: --store")
    assert not path.exists() and not path.parent.exists()


def test_simulate_creates_the_sqlite_store_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    args = ["simulate", "checkout-button", "--units", "200", "--experiments", str(EXPERIMENTS)]
    result = run([*args, "--store", f"sqlite:///{path}"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert path.exists()
    shown = run(
        ["report", "checkout-button", "--experiments", str(EXPERIMENTS)],
        tmp_path,
        XP_STORE_URL=f"sqlite:///{path}",
    )
    assert shown.returncode == 0, shown.stderr
