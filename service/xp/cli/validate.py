"""``xp validate [DIR]``: check every experiment file, print every problem."""

from __future__ import annotations

import click

from xp.definitions.loader import load_directory


@click.command()
@click.argument("directory", default="experiments", envvar="XP_EXPERIMENTS_DIR")
def validate(directory: str) -> None:
    """Validate the experiment YAML files in DIRECTORY (default: ./experiments)."""
    result = load_directory(directory)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems:
        bad = len({p.file for p in result.problems})
        click.echo(
            f"{bad} of {result.files} files refused, {len(result.problems)} problems", err=True
        )
        raise SystemExit(1)
    click.echo(f"{len(result.definitions)} experiments OK in {directory}")
