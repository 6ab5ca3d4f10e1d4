"""The ``xp`` command line.

Every command ends a failure with one line naming the problem and a non-zero exit, never a
traceback: an unreachable store, a bad ``XP_*`` setting or an unwritable file become a
:class:`click.ClickException` here, their text redacted like every message of the service.
A reader that closes the pipe early (``xp export KEY | head``) ends the command quietly with
the status of a process killed by SIGPIPE, as ``cat`` or ``yes`` would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

import click
from click.core import ParameterSource

from xp import logs
from xp.cli.analyze import analyze_command
from xp.cli.export import export
from xp.cli.plan import plan
from xp.cli.report import report
from xp.cli.serve import serve
from xp.cli.simulate import simulate
from xp.cli.validate import validate
from xp.redaction import redact
from xp.settings import SettingsError
from xp.store.base import StoreError


class Commands(click.Group):
    """The ``xp`` group: expected failures of any command as one line, exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # What is still buffered would fail again at exit ("Exception ignored ..."): the
            # rest of the output goes nowhere, like the reader wanted.
            with contextlib.suppress(OSError, ValueError):  # a stdout without a descriptor
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(128 + signal.SIGPIPE)
        except click.BadParameter as exc:
            setting = _from_environment(exc)
            if setting is None:
                raise
            # a bad XP_* setting is not a usage mistake: name the variable, not the option
            raise click.ClickException(redact(f"{setting}: {exc.message}")) from None
        except StoreError as exc:
            raise click.ClickException(f"the event store failed: {redact(str(exc))}") from None
        except SettingsError as exc:
            raise click.ClickException(redact(str(exc))) from None
        except OSError as exc:  # a file that cannot be read or written, a port in use
            where = f" {exc.filename!r}" if exc.filename else ""
            raise click.ClickException(redact(f"{exc.strerror or exc}{where}")) from None


def _from_environment(exc: click.BadParameter) -> str | None:
    """The environment variable the refused value came from, if it did."""
    param, ctx = exc.param, exc.ctx
    if param is None or ctx is None or param.name is None:
        return None
    if ctx.get_parameter_source(param.name) is not ParameterSource.ENVIRONMENT:
        return None
    envvar = param.resolve_envvar_value(ctx) and param.envvar
    if isinstance(envvar, list | tuple):
        envvar = next((name for name in envvar if os.environ.get(name)), None)
    return envvar if isinstance(envvar, str) else None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xp")
def cli() -> None:
    """xp: experiment assignment, event statistics and lift analysis."""


cli.add_command(serve)
cli.add_command(validate)
cli.add_command(report)
cli.add_command(export)
cli.add_command(plan)
cli.add_command(simulate)
cli.add_command(analyze_command)


def main() -> None:
    # Log lines (a degraded guard, a store retry) in the service's format, so they read as log
    # lines before the command's one closing line; `xp serve` configures its own.
    log_format = os.environ.get("XP_LOG_FORMAT", "text")
    logs.configure("WARNING", log_format if log_format in ("text", "json") else "text")
    cli(prog_name="xp")
