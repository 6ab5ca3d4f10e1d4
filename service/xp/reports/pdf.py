"""The HTML report printed to PDF by headless Chromium, for people who mail results.

``chromium --headless --print-to-pdf`` on the standalone HTML report (no script, nothing
fetched) written to a private temporary folder. Chromium is found as ``XP_CHROMIUM`` or on
``PATH``; without it, or when it fails or hangs past the timeout, :class:`PdfError` says so
in one line. Chromium starts helper processes, so it runs in a session of its own and a hung
one is killed with its whole process group; the PDF reaches ``out`` only when complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

# Names Debian, Fedora/Arch and Google give the binary, tried in this order on PATH.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
    "--generate-pdf-document-outline",  # bookmarks from the headings: metrics, segments
)
DEFAULT_TIMEOUT = 60.0


class PdfError(Exception):
    """The PDF could not be made: no Chromium, or Chromium failed or hung."""


def find_chromium(setting: str | None) -> str:
    """The Chromium to run: ``setting`` (XP_CHROMIUM) when given, else the first on PATH."""
    if setting:
        found = shutil.which(setting)
        if found is None:
            raise PdfError(f"XP_CHROMIUM={setting!r} is not an executable file")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise PdfError(
        "PDF needs headless Chromium, and none is on PATH "
        f"({', '.join(CANDIDATES)}); install it or set XP_CHROMIUM"
    )


def html_to_pdf(html: str, out: Path, chromium: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Print ``html`` to the PDF file ``out`` with ``chromium``, in at most ``timeout`` s."""
    with tempfile.TemporaryDirectory(prefix="xp-pdf-") as folder:
        work = Path(folder)
        page = work / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = work / "report.pdf"
        command = [
            chromium,
            *FLAGS,
            # Chromium refuses to start as root with its sandbox (containers, CI).
            *(("--no-sandbox",) if os.geteuid() == 0 else ()),
            f"--user-data-dir={work / 'profile'}",
            f"--print-to-pdf={printed}",
            page.as_uri(),
        ]
        log = work / "chromium.log"
        # stderr to a file, not a pipe: a helper that outlives Chromium and keeps the pipe
        # open cannot make the wait below block past the timeout.
        with log.open("wb") as stderr:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                )
            except OSError as exc:
                raise PdfError(f"cannot run {chromium!r}: {exc.strerror or exc}") from None
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PdfError(f"{chromium!r} did not finish the PDF in {timeout:g} s") from None
        finally:
            _kill_group(process.pid)  # a hung one, or helpers a finished one leaves behind
            process.wait()
        if process.returncode != 0 or not _is_pdf(printed):
            lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            detail = f": {lines[-1][:300]}" if lines else ""
            raise PdfError(f"{chromium!r} exited {process.returncode} without a PDF{detail}")
        partial = out.with_name(out.name + ".partial")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(printed, partial)
            partial.replace(out)
        except OSError as exc:
            with contextlib.suppress(OSError):  # no folder: no partial file either
                partial.unlink(missing_ok=True)
            raise PdfError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(5) == b"%PDF-"
    except OSError:
        return False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
