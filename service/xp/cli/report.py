"""``xp report KEY``: an experiment's results as Markdown, CSV, JSON, HTML or PDF.

Also the plumbing every experiment command shares: ``--experiments``/``--store`` options and
:func:`open_runtime`, which reads the settings, the definitions and the store like the service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from xp.api.definitions import MAX_PHASE, Located, locate_in
from xp.api.results import parse_thresholds, with_status
from xp.definitions.model import Definition
from xp.errors import NotFound, ValidationFailed
from xp.redaction import register
from xp.reports.formats import FORMATS, METHODS, render
from xp.reports.html import render_html
from xp.reports.pdf import DEFAULT_TIMEOUT, PdfError, find_chromium, html_to_pdf
from xp.results.build import experiment_results
from xp.runtime import Runtime
from xp.settings import Settings, SettingsError
from xp.store import missing_sqlite_file

F = TypeVar("F", bound=Callable[..., Any])


def source_options(command: F) -> F:
    """``--experiments DIR`` and ``--store URL``, with the same variables as ``xp serve``."""
    command = click.option(
        "--store",
        "store_url",
        envvar="XP_STORE_URL",
        default=None,
        help="redis://... or sqlite:///path; default: SQLite in XP_DATA_DIR.",
    )(command)
    return click.option(
        "--experiments",
        "experiments_dir",
        envvar="XP_EXPERIMENTS_DIR",
        default="experiments",
        show_default=True,
        type=click.Path(exists=True, file_okay=False),
        help="Folder of experiment YAML files.",
    )(command)


@contextmanager
def open_runtime(
    experiments_dir: str, store_url: str | None, reading: bool = True
) -> Iterator[Runtime]:
    """The service's runtime (definitions, store) for one command; the store closed after.

    A command that is ``reading`` refuses a SQLite URL naming no file (``--store`` or
    ``XP_STORE_URL``): opening it would make an empty store and report nothing. The default
    store in ``XP_DATA_DIR`` is opened either way (a fresh machine has no events yet)."""
    try:
        settings = Settings.from_env().replace(experiments_dir=experiments_dir)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if store_url:
        settings = settings.replace(store_url=store_url)
    missing = missing_sqlite_file(settings.store_url) if reading else None
    if missing is not None:
        raise click.ClickException(f"--store (XP_STORE_URL): no SQLite store at {missing!r}")
    register(settings.store_url)  # its errors are shown redacted, like the service's
    runtime = Runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()


def find_definition(runtime: Runtime, key: str) -> Definition:
    definitions = runtime.registry.current().definitions
    definition = definitions.get(key)
    if definition is None:
        known = ", ".join(sorted(definitions)) or "none"
        raise click.ClickException(
            f"no experiment {key!r} in {runtime.settings.experiments_dir!r} (known: {known})"
        )
    return definition


def phase_option(command: F) -> F:
    """``--phase N``: an earlier phase, or the last phase of an archived experiment."""
    return click.option(
        "--phase",
        type=click.IntRange(1, MAX_PHASE),
        default=None,
        help="Default: the live phase, else the last one with data (archived experiments).",
    )(command)


def find_experiment(runtime: Runtime, key: str, phase: int | None) -> Located:
    """``key`` in ``phase``, live or archived, looked up like the API does."""
    try:
        return locate_in(runtime.registry.current(), key, phase)
    except NotFound as exc:
        if phase is None or "phase" not in exc.details:
            find_definition(runtime, key)  # raises with the known keys listed
        raise click.ClickException(exc.message) from None


def write_output(content: str, out: str | None) -> None:
    if out is None:
        click.echo(content, nl=False)
        return
    Path(out).write_text(content, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)


@click.command()
@click.argument("key")
@click.option(
    "--format",
    "format_",
    type=click.Choice([*FORMATS, "pdf"]),
    default="md",
    show_default=True,
    help="md for people, csv for spreadsheets and pandas, json, a standalone html page, "
    "or that page printed to pdf by headless Chromium.",
)
@click.option("--method", type=click.Choice(METHODS), default="frequentist", show_default=True)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Default: stdout; for pdf, KEY-results.pdf in the current folder.",
)
@click.option(
    "--chromium",
    envvar="XP_CHROMIUM",
    default=None,
    help="pdf: the Chromium binary (name or path); default: chromium on PATH.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="pdf: seconds Chromium may take before it is killed.",
)
@click.option(
    "--chance-to-win",
    "chance_to_win",
    default=None,
    help="bayesian: the chance to win a treatment needs to be better (0.5 to below 1); "
    "default: the experiment's rule, else 0.95.",
)
@click.option(
    "--risk-threshold",
    "risk_threshold",
    default=None,
    help="bayesian: the most risk (expected relative loss, 0.0025 = 0.25%) a better "
    "treatment may carry; default: the experiment's rule, else 0.0025.",
)
@phase_option
@source_options
def report(
    key: str,
    format_: str,
    method: str,
    alpha: float,
    out: str | None,
    chromium: str | None,
    timeout: float,
    chance_to_win: str | None,
    risk_threshold: str | None,
    phase: int | None,
    experiments_dir: str,
    store_url: str | None,
) -> None:
    """Print the results of experiment KEY from the configured store."""
    thresholds = _thresholds(method, chance_to_win, risk_threshold)
    binary = None
    if format_ == "pdf":
        binary = _chromium(chromium)  # before any work: no Chromium, no store opened
    with open_runtime(experiments_dir, store_url) as runtime:
        found = find_experiment(runtime, key, phase)
        results = experiment_results(
            found.definition, runtime.store, method=method, alpha=alpha, thresholds=thresholds
        )
        results = with_status(results, found)
    if binary is None:
        content, _ = render(results, format_)
        write_output(content, out)
        return
    target = Path(out or f"{key}-results.pdf")
    try:
        html_to_pdf(render_html(results), target, binary, timeout)
    except PdfError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {target}", err=True)


def _chromium(setting: str | None) -> str:
    try:
        return find_chromium(setting)
    except PdfError as exc:
        raise click.ClickException(str(exc)) from None


def _thresholds(
    method: str, chance_to_win: str | None, risk_threshold: str | None
) -> dict[str, float]:
    """The Bayesian rule's options, checked like the results API's query parameters."""
    given = {"chance_to_win": chance_to_win, "risk_threshold": risk_threshold}
    try:
        return parse_thresholds({k: v for k, v in given.items() if v is not None}, method)
    except ValidationFailed as exc:
        name = next(iter(exc.details))
        raise click.BadParameter(exc.message, param_hint=f"--{name.replace('_', '-')}") from None
