"""``xp export`` writes the very bytes ``GET .../units.csv`` serves: one producer for both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from flask import Flask

from tests.support.seed import KEY, Unit


def test_the_cli_file_and_the_api_file_are_identical(
    seeded: list[Unit],
    xp: Callable[..., Result],
    make_app: Callable[..., Flask],
    experiments: Path,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "units.csv"
    done = xp("export", KEY, "--out", out)
    assert done.exit_code == 0, done.output
    app = make_app(experiments_dir=str(experiments), data_dir=str(data_dir))
    served = app.test_client().get(f"/v1/experiments/{KEY}/units.csv").get_data()
    assert out.read_bytes() == served
    assert served.endswith(f"\r\n# end: {len(seeded)} rows\r\n".encode())
    stdout = xp("export", KEY)
    assert stdout.exit_code == 0 and stdout.stdout_bytes == served
