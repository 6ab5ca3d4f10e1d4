"""``xp validate [DIR] [--store URL]``: check every experiment file, print every problem.

With ``--store`` the files are also checked against the assignment fingerprints the store
recorded at each experiment's first exposure, the check the service makes when it loads
them: a change that would re-bucket units with data fails here before it is deployed.
"""

from __future__ import annotations

import click

from xp.definitions.guard import History, check
from xp.definitions.loader import load_directory
from xp.store import StoreError, open_store


@click.command()
@click.argument("directory", default="experiments", envvar="XP_EXPERIMENTS_DIR")
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="Also check against the fingerprints recorded in this store (redis://, sqlite:///).",
)
def validate(directory: str, store_url: str | None) -> None:
    """Validate the experiment YAML files in DIRECTORY (default: ./experiments)."""
    result = load_directory(directory)
    problems = list(result.problems)
    if store_url:
        try:
            store = open_store(store_url, ".")
            try:
                recorded = store.recorded_definitions()
            finally:
                store.close()
        except StoreError as exc:
            raise click.ClickException(f"cannot read the store {store_url!r}: {exc}") from None
        problems += check(result.definitions, History.of(recorded))[1]
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        bad = len({p.file for p in problems})
        click.echo(f"{bad} of {result.files} files refused, {len(problems)} problems", err=True)
        raise SystemExit(1)
    checked = " and the store's fingerprints" if store_url else ""
    click.echo(f"{len(result.definitions)} experiments OK in {directory}{checked}")
