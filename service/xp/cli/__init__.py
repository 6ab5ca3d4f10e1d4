"""The ``xp`` command line."""

from __future__ import annotations

import click

from xp.cli.analyze import analyze_command
from xp.cli.export import export
from xp.cli.plan import plan
from xp.cli.report import report
from xp.cli.serve import serve
from xp.cli.simulate import simulate
from xp.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    cli(prog_name="xp")
