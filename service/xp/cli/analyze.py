"""``xp analyze [FILE|-]``: the same analysis as ``POST /v1/analyze``, from a JSON file."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from xp.stats.analyze import AnalyzeInputError, analyze


@click.command("analyze")
@click.argument("source", default="-", type=click.File("r", encoding="utf-8"))
@click.option("--indent", default=2, show_default=True, help="JSON indentation of the output.")
def analyze_command(source: TextIO, indent: int) -> None:
    """Analyze sufficient statistics given as JSON in SOURCE (a file, or - for stdin)."""
    name = getattr(source, "name", "-")
    try:
        document = json.load(source)
    except (ValueError, RecursionError) as exc:
        click.echo(f"{name}: not valid JSON: {exc}", err=True)
        sys.exit(2)
    try:
        result = analyze(document)
    except AnalyzeInputError as exc:
        for path, messages in (exc.errors or {"": [str(exc)]}).items():
            for message in messages:
                click.echo(f"{name}: {path or '(document)'}: {message}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result, indent=indent or None, allow_nan=False))
