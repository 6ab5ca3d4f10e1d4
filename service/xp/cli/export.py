"""``xp export KEY``: every exposed unit of an experiment as CSV, streamed."""

from __future__ import annotations

import contextlib
import os

import click

from xp.cli.report import find_experiment, open_runtime, phase_option, source_options
from xp.redaction import redact
from xp.reports.units_csv import stored_units_csv
from xp.store.base import StoreError


@click.command()
@click.argument("key")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Default: stdout.")
@phase_option
@source_options
def export(
    key: str, out: str | None, phase: int | None, experiments_dir: str, store_url: str | None
) -> None:
    """Write one CSV row per exposed unit of experiment KEY.

    Columns: unit_id, variant, first_exposure (ISO 8601 UTC), one per segment attribute, then
    one per metric with the unit's total (0/1 for binomial, the count, the sum). A store
    failure exits non-zero; with --out the file appears only once complete.
    """
    with open_runtime(experiments_dir, store_url) as runtime:
        found = find_experiment(runtime, key, phase)
        # the bytes the API serves, its trailer included
        chunks = stored_units_csv(runtime.store, found.stored, found.definition, trailer=True)
        try:
            if out is None:
                for chunk in chunks:
                    click.echo(chunk, nl=False)
                return
            partial = f"{out}.partial"
            with open(partial, "w", encoding="utf-8", newline="") as file:
                for chunk in chunks:
                    file.write(chunk)
            os.replace(partial, out)  # a reader never sees a short file under the real name
        except StoreError as exc:
            if out is not None:
                with contextlib.suppress(OSError):
                    os.unlink(f"{out}.partial")
            target = "stdout" if out is None else out
            message = redact(f"the event store failed: {exc}; export of {key!r} to {target} failed")
            raise click.ClickException(message) from None
        click.echo(f"wrote {out}", err=True)
