from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from tests.support.seed import KEY, Unit


def test_one_row_per_exposed_unit_with_its_totals(
    seeded: list[Unit], xp: Callable[..., Result]
) -> None:
    result = xp("export", KEY)
    assert result.exit_code == 0, result.output
    body, trailer = result.stdout_bytes.decode().rsplit(
        "# end:", 1
    )  # the API's trailer: the file is complete
    assert trailer == " 600 rows\r\n"
    reader = csv.DictReader(io.StringIO(body))
    assert reader.fieldnames == [
        "unit_id",
        "variant",
        "first_exposure",
        "country",
        "purchased",
        "revenue",
        "refunds",
    ]
    rows = {row["unit_id"]: row for row in reader}
    assert len(rows) == len(seeded) == 600
    for unit in seeded:
        row = rows[unit.unit_id]
        assert row["variant"] == unit.variant
        assert row["country"] == unit.country
        exposed = dt.datetime.fromisoformat(row["first_exposure"].replace("Z", "+00:00"))
        assert row["first_exposure"].endswith("Z")
        assert exposed.timestamp() == unit.exposed_at
        totals = unit.totals
        assert int(row["purchased"]) == totals["purchased"]
        assert float(row["revenue"]) == totals["revenue"]
        assert int(row["refunds"]) == totals["refunds"]


def test_export_to_a_file(seeded: list[Unit], xp: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "units.csv"
    result = xp("export", KEY, "--out", out)
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert len(rows) == 602 and rows[-1] == ["# end: 600 rows"]  # header, units, trailer


def test_an_experiment_without_units_has_only_the_header(
    data_dir: Path, xp: Callable[..., Result], experiments: Path
) -> None:
    from tests.support.seed import write_experiment

    write_experiment(experiments)
    result = xp("export", KEY)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "unit_id,variant,first_exposure,country,purchased,revenue,refunds",
        "# end: 0 rows",
    ]


def test_unknown_experiment(seeded: list[Unit], xp: Callable[..., Result]) -> None:
    result = xp("export", "nope")
    assert result.exit_code == 1
    assert "no experiment 'nope'" in result.output and KEY in result.output


def test_a_store_failure_exits_non_zero_naming_the_file_and_leaves_no_file(
    seeded: list[Unit], xp: Callable[..., Result], tmp_path: Path
) -> None:
    from tests.support.redis_server import free_port

    out = tmp_path / "units.csv"
    store = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = xp("export", KEY, "--out", out, "--store", store)
    assert result.exit_code == 1
    assert f"export of {KEY!r} to {out} failed" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "units.csv.partial").exists()
