"""``xp validate [DIR] [--features DIR] [--holdouts DIR] [--store URL]``: check every
experiment, feature and holdout file, print every problem.

With ``--store`` the files are also checked against the assignment fingerprints the store
recorded at each experiment's first exposure, the check the service makes when it loads
them: a change that would re-bucket units with data fails here before it is deployed.
"""

from __future__ import annotations

import click

from xp.definitions.features import load_features
from xp.definitions.guard import History, check
from xp.definitions.holdouts import load_holdouts
from xp.definitions.loader import load_directory
from xp.settings import features_beside
from xp.store import StoreError, missing_sqlite_file, open_store


@click.command()
@click.argument("directory", default="experiments", envvar="XP_EXPERIMENTS_DIR")
@click.option(
    "--features",
    "features_dir",
    default=None,
    envvar="XP_FEATURES_DIR",
    metavar="DIR",
    help="Feature files to check too (default: the features folder beside DIRECTORY).",
)
@click.option(
    "--holdouts",
    "holdouts_dir",
    default=None,
    envvar="XP_HOLDOUTS_DIR",
    metavar="DIR",
    help="Holdout files to check too (default: the holdouts folder beside DIRECTORY).",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="Also check against the fingerprints recorded in this store (redis://, sqlite:///).",
)
def validate(
    directory: str, features_dir: str | None, holdouts_dir: str | None, store_url: str | None
) -> None:
    """Validate the experiment YAML files in DIRECTORY (default: ./experiments), the
    feature files (default: ./features) and the holdout files (default: ./holdouts)."""
    result = load_directory(directory)
    features_dir = features_dir or features_beside(directory)
    features = load_features(features_dir, result.definitions)
    holdouts_dir = holdouts_dir or features_beside(directory, "holdouts")
    holdouts = load_holdouts(holdouts_dir, result.definitions, features.features)
    problems = list(result.problems) + features.problems + holdouts.problems
    if store_url:
        missing = missing_sqlite_file(store_url)
        if missing is not None:
            raise click.ClickException(f"--store: no SQLite store at {missing!r}")
        try:
            store = open_store(store_url, ".")
            try:
                recorded = store.recorded_definitions()
            finally:
                store.close()
        except StoreError as exc:
            raise click.ClickException(f"cannot read the store {store_url!r}: {exc}") from None
        guarded = {
            **result.definitions,
            **{k: h.definition for k, h in holdouts.holdouts.items()},
        }
        problems += check(guarded, History.of(recorded))[1]
    for problem in problems:
        click.echo(str(problem), err=True)
    # The cross-file checks need a whole definition; say so rather than skip them silently.
    skipped = ["unique key", "layer range"] + (["stored fingerprint"] if store_url else [])
    for name in result.unparsed:
        click.echo(
            f"{name}: {len(skipped)} more checks skipped until this file is valid "
            f"({', '.join(skipped)})",
            err=True,
        )
    if problems:
        bad = len({p.file for p in problems})
        files = result.files + features.files + holdouts.files
        found = _counted(len(problems), "problem")
        # a problem may be a folder's ("is not a directory"): then no file was read at all
        summary = f"{bad} of {_counted(files, 'file')} refused" if files else "no file read"
        click.echo(f"{summary}, {found}", err=True)
        raise SystemExit(1)
    checked = " and the store's fingerprints" if store_url else ""
    click.echo(
        f"{len(result.definitions)} experiments OK in {directory}{checked}; "
        f"{len(features.features)} features OK in {features_dir}; "
        f"{len(holdouts.holdouts)} holdouts OK in {holdouts_dir}"
    )


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
