"""``xp report`` with the results document stubbed: options, formats, output, errors."""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.sample_results import sample_results
from tests.web.chromium import chromium_or_skip
from xp.cli import cli
from xp.definitions.model import Definition
from xp.runtime import Runtime

# service.cli.report the module, not the command of the same name that service.cli exports
report_module = importlib.import_module("xp.cli.report")
EXPERIMENTS = str(Path(__file__).resolve().parents[2] / "experiments")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str, float]]:
    seen: list[tuple[str, str, float]] = []

    def fake(
        definition: Definition,
        runtime: Runtime,
        method: str,
        alpha: float,
        thresholds: Mapping[str, float] | None = None,
    ) -> Any:
        seen.append((definition.key, method, alpha))
        return sample_results(method=method, alpha=alpha)

    monkeypatch.setattr(report_module, "experiment_results", fake)
    monkeypatch.setenv("XP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("XP_STORE_URL", raising=False)
    return seen


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["report", *args, "--experiments", EXPERIMENTS])


def test_markdown_by_default(calls: list[tuple[str, str, float]]) -> None:
    result = run("checkout-button")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Green checkout button")
    assert calls == [("checkout-button", "frequentist", 0.05)]


def test_csv_parses(calls: list[tuple[str, str, float]]) -> None:
    result = run("checkout-button", "--format", "csv", "--method", "sequential")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 12 and {r["method"] for r in rows} == {"sequential"}
    assert calls == [("checkout-button", "sequential", 0.05)]


def test_json_and_alpha(calls: list[tuple[str, str, float]]) -> None:
    result = run("checkout-button", "--format", "json", "--alpha", "0.1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["alpha"] == 0.1
    assert calls[0][2] == 0.1


def test_html_to_a_file(calls: list[tuple[str, str, float]], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("checkout-button", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert f"wrote {out}" in result.output


def test_unknown_experiment_lists_the_known_ones(calls: list[tuple[str, str, float]]) -> None:
    result = run("nope")
    assert result.exit_code == 1
    assert "no experiment 'nope'" in result.output and "checkout-button" in result.output
    assert calls == []


@pytest.mark.parametrize(
    "args", [("checkout-button", "--format", "docx"), ("checkout-button", "--alpha", "1.5")]
)
def test_bad_options_are_usage_errors(
    calls: list[tuple[str, str, float]], args: tuple[str, ...]
) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert calls == []


PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![s\w])")


def pdf_titles(data: bytes) -> list[str]:
    """Every ``/Title`` string of the PDF: the document's (the page's <title>, UTF-16 hex) and
    its outline's, one bookmark a heading (literal strings)."""
    titles = []
    for text in re.findall(rb"/Title\s*(<[0-9A-Fa-f]*>|\((?:[^()\\]|\\.)*\))", data):
        if text.startswith(b"<"):
            raw = bytes.fromhex(text[1:-1].decode())
            titles.append(raw[2:].decode("utf-16-be") if raw[:2] == b"\xfe\xff" else raw.decode())
        else:
            titles.append(re.sub(rb"\\(.)", rb"\1", text[1:-1]).decode("latin-1"))
    return titles


@pytest.mark.browser
def test_pdf_is_printed_by_chromium(
    seeded: list[Any], xp: Callable[..., Result], tmp_path: Path
) -> None:
    chromium_or_skip()
    out = tmp_path / "out" / "report.pdf"
    result = xp("report", "seeded", "--format", "pdf", "--out", out)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(PAGE_OBJECT.findall(data)) >= 2  # the whole report, not only its first screen
    boxes = {tuple(map(float, b.split())) for b in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", data)}
    # every page A4 landscape (842 x 595 pt), as the print CSS asks
    assert [tuple(round(v) for v in box) for box in boxes] == [(0, 0, 842, 595)]
    titles = pdf_titles(data)
    assert titles[0] == "Seeded <checkout> test · xp"  # the document: the experiment's name
    # the outline: the page's own headings, so the printed content is the report
    assert "Seeded <checkout> test seeded" in titles
    assert any(t.startswith("Decision: ") for t in titles) and "Sample ratio" in titles
    assert not list(out.parent.glob("*.partial"))


def test_pdf_without_chromium_says_so_in_one_line(
    seeded: list[Any],
    xp: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no chromium on this PATH
    monkeypatch.delenv("XP_CHROMIUM", raising=False)
    out = tmp_path / "report.pdf"
    result = xp("report", "seeded", "--format", "pdf", "--out", out)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "PDF needs headless Chromium, and none is on PATH" in result.output
    assert not out.exists()

    monkeypatch.setenv("XP_CHROMIUM", str(tmp_path / "no-such-chromium"))
    result = xp("report", "seeded", "--format", "pdf", "--out", out)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "XP_CHROMIUM=" in result.output and "is not an executable file" in result.output
    assert not out.exists()


@pytest.fixture
def browser_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make XP_CHROMIUM a shell script with this body: a browser that misbehaves on purpose."""

    def install(body: str) -> None:
        script = tmp_path / "misbehaving-chromium"
        script.write_text(f"#!/bin/sh\n{body}")
        script.chmod(0o755)
        monkeypatch.setenv("XP_CHROMIUM", str(script))

    return install


def test_a_hung_chromium_is_killed_with_its_children(
    seeded: list[Any], xp: Callable[..., Result], tmp_path: Path, browser_script: Any
) -> None:
    # A browser that never prints: it starts a helper (as Chromium does) and waits forever.
    pids = tmp_path / "pids"
    browser_script(f"sleep 300 &\necho $$ $! > {pids}\nwait\n")
    out = tmp_path / "report.pdf"
    started = time.monotonic()
    result = xp("report", "seeded", "--format", "pdf", "--out", out, "--timeout", "1.5")
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert "did not finish the PDF in 1.5 s" in result.output
    assert not out.exists()
    # SIGKILL is delivered asynchronously: the group may take a moment to be gone.
    alive = list(map(int, pids.read_text().split()))
    deadline = time.monotonic() + 5
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if running(pid)]
        time.sleep(0.05)
    assert not alive


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a killed child not reaped yet is a zombie: not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_a_failing_chromium_is_reported_with_its_last_line(
    seeded: list[Any], xp: Callable[..., Result], tmp_path: Path, browser_script: Any
) -> None:
    browser_script("echo 'first line' >&2\necho 'cannot open display' >&2\nexit 3\n")
    result = xp("report", "seeded", "--format", "pdf", "--out", tmp_path / "r.pdf")
    assert result.exit_code == 1
    assert "exited 3 without a PDF: cannot open display" in result.output


@pytest.mark.browser
def test_pdf_to_a_place_that_cannot_be_written_names_it(
    seeded: list[Any], xp: Callable[..., Result], tmp_path: Path
) -> None:
    chromium_or_skip()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = xp("report", "seeded", "--format", "pdf", "--out", blocker / "report.pdf")
    assert result.exit_code == 1
    assert f"cannot write '{blocker / 'report.pdf'}'" in result.output
    assert "Traceback" not in result.output
