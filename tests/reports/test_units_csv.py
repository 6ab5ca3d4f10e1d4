from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from xp.definitions.loader import load_directory
from xp.definitions.model import Definition
from xp.reports import units_csv as module
from xp.reports.units_csv import iso_utc, unit_columns, units_csv
from xp.store import UnitRow


@pytest.fixture
def definition(tmp_path: Path) -> Definition:
    document = {
        "key": "r",
        "name": "Ratio export",
        "status": "running",
        "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
        "metrics": [
            {"name": "cps", "kind": "ratio", "numerator": "click", "denominator": "search"},
            {"name": "spend", "event": "buy", "kind": "sum"},
        ],
        "segments": ["platform"],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(document))
    return load_directory(tmp_path).definitions["r"]


def test_ratio_metrics_carry_their_denominator(definition: Definition) -> None:
    assert unit_columns(definition) == [
        "unit_id", "variant", "first_exposure", "platform", "cps", "cps_denominator", "spend"
    ]  # fmt: skip
    row = UnitRow("u1", "b", 1_795_000_000.25, {"platform": "ios"},
                  {"cps": 2.0, "spend": 12.5}, {"cps": 3.0})  # fmt: skip
    text = "".join(units_csv(definition, [row]))
    (parsed,) = csv.DictReader(io.StringIO(text))
    assert parsed == {
        "unit_id": "u1",
        "variant": "b",
        "first_exposure": "2026-11-18T11:06:40.250Z",
        "platform": "ios",
        "cps": "2",
        "cps_denominator": "3",
        "spend": "12.5",
    }


def test_missing_totals_are_zero_and_formula_ids_defused(definition: Definition) -> None:
    row = UnitRow("=cmd|' /C calc'!A0", "a", 1_795_000_000.0)
    (parsed,) = csv.DictReader(io.StringIO("".join(units_csv(definition, [row]))))
    assert parsed["unit_id"] == "'=cmd|' /C calc'!A0"
    assert parsed["cps"] == parsed["cps_denominator"] == parsed["spend"] == "0"
    assert parsed["platform"] == ""


def test_rows_come_in_chunks(definition: Definition, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "CHUNK_ROWS", 10)
    rows = [UnitRow(f"u{i}", "a", 1_795_000_000.0 + i) for i in range(25)]
    chunks = list(units_csv(definition, iter(rows)))
    assert len(chunks) == 3
    assert len(list(csv.DictReader(io.StringIO("".join(chunks))))) == 25


@pytest.mark.parametrize("sizes", [[25], [3, 0, 9, 1, 12], [10, 10, 5], [0], []])
def test_lines_in_lists_come_in_the_chunks_of_their_rows(
    definition: Definition, monkeypatch: pytest.MonkeyPatch, sizes: list[int]
) -> None:
    """Lists of lines of any lengths: the chunks, and the trailer, of the same rows through
    ``csv.writer``."""
    monkeypatch.setattr(module, "CHUNK_ROWS", 10)
    rows = [[f"u{i}", "a", str(i), "", "0", "0", "0"] for i in range(sum(sizes))]
    lines = [module.RowFormatter.csv_line(row) for row in rows]
    batches, start = [], 0
    for size in sizes:
        batches.append(lines[start : start + size])
        start += size
    expected = list(module.csv_chunks(definition, iter(rows), trailer=True))
    assert list(module.line_chunks(definition, iter(batches), trailer=True)) == expected


def test_lines_cut_by_a_store_failure_end_with_the_error_line(
    definition: Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xp.store.base import StoreError

    monkeypatch.setattr(module, "CHUNK_ROWS", 10)
    lines = [f"u{i},a,{i},,0,0,0\r\n" for i in range(13)]

    def batches() -> Iterator[list[str]]:
        yield lines
        raise StoreError("gone")

    chunks = module.line_chunks(definition, batches(), trailer=True)
    first = next(chunks)
    assert first.count("\r\n") == 11  # header and ten rows
    with pytest.raises(module.ExportInterrupted):
        rest = next(chunks)
        assert rest == "".join(lines[10:]) + "# error: incomplete after 13 rows: gone\r\n"
        next(chunks)


@pytest.mark.parametrize(
    ("ts", "text"),
    [(0.0, "1970-01-01T00:00:00.000Z"), (1_795_000_000.5, "2026-11-18T11:06:40.500Z")],
)
def test_iso_utc(ts: float, text: str) -> None:
    assert iso_utc(ts) == text


def test_the_fast_timestamp_path_matches_iso_utc_exactly(definition: Definition) -> None:
    """Millisecond timestamps (what the stores keep), arbitrary floats, and the halves where
    rounding to the microsecond decides the millisecond."""
    import random

    formatter = module.RowFormatter(definition)
    rng = random.Random(3)
    stamps = [round(rng.uniform(946_684_800, 4_102_444_800), 3) for _ in range(20_000)]
    stamps += [rng.uniform(946_684_800, 4_102_444_800) for _ in range(20_000)]
    stamps += [s + d for s in (1_795_000_000, 1_795_000_059) for d in (0.9995, 0.9999995, 0.0005)]
    stamps += [1_795_000_000.0 + i / 1000 for i in range(2000)]
    for ts in stamps:
        assert formatter._iso(ts) == iso_utc(ts), ts


def test_positional_and_named_units_give_the_same_cells(definition: Definition) -> None:
    from xp.store.model import UnitLayout, UnitValues

    layout = UnitLayout.of(definition)
    values = [
        UnitValues("u1", "a", 1_795_000_000.25, ("ios",), (2.0, 3.0, 12.5)),
        UnitValues("=HYPERLINK(x)", "b", 1_795_000_000.0, (None,), (0.0, 0.0, 0.0)),
        UnitValues("-5", "a", 1_795_000_000.001, ("+cmd",), (1e16, -0.0, 0.1)),
        UnitValues("", "b", 1_795_000_000.999, ("",), (1.5e-7, 123456789.125, 1.0)),
    ]
    formatter = module.RowFormatter(definition)
    for unit in values * 2:  # the second time from the memos
        assert formatter(unit) == formatter(layout.row(unit)) == unit_row_reference(unit)


def unit_row_reference(unit: object) -> list[str]:
    """The cells written out by hand for the rows above (columns: unit_id, variant,
    first_exposure, platform, cps, cps_denominator, spend)."""
    table = {
        "u1": ["u1", "a", "2026-11-18T11:06:40.250Z", "ios", "2", "3", "12.5"],
        "=HYPERLINK(x)": ["'=HYPERLINK(x)", "b", "2026-11-18T11:06:40.000Z", "", "0", "0", "0"],
        "-5": ["-5", "a", "2026-11-18T11:06:40.001Z", "'+cmd", "10000000000000000", "0", "0.1"],
        "": ["", "b", "2026-11-18T11:06:40.999Z", "", "1.5e-07", "123456789.125", "1"],
    }
    return table[unit[0]]  # type: ignore[index]


def test_memos_stay_bounded_on_hostile_data(
    definition: Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xp.store.model import UnitValues

    monkeypatch.setattr(module, "CACHE_LIMIT", 50)
    formatter = module.RowFormatter(definition)
    for i in range(500):
        formatter(UnitValues(f"u{i}", "a", 1_795_000_000.0 + i * 61, (f"p{i}",), (i + 0.5,) * 3))
    assert len(formatter._texts) <= 50 and len(formatter._numbers) <= 50
    assert len(formatter._minutes) <= 50 and len(formatter._segment_cells) <= 50
    assert formatter(UnitValues("x", "a", 1_795_000_000.0, ("p499",), (499.5,) * 3))[3:] == [
        "p499",
        "499.5",
        "499.5",
        "499.5",
    ]


def lua_fmt(x: float) -> str:
    """What the Redis scripts write for a number (``fmt`` in ``lua/lib.lua``)."""
    text = f"{x:.15g}"
    return text if float(text) == x else f"{x:.17g}"


def test_number_texts_are_spelled_as_their_doubles(definition: Definition) -> None:
    import random

    formatter = module.RowFormatter(definition)
    rng = random.Random(5)
    numbers = [0.0, -0.0, 1.0, -3.0, 0.1, 0.1 + 0.2, 1e-7, 1e15, 1e16, 2.0**53, 123456789.125]
    numbers += [float("inf"), float("-inf"), 1 / 3, -2 / 3, 99999999999999.9, 0.0001, 0.00001]
    numbers += [round(rng.uniform(-1e6, 1e6), rng.randrange(8)) for _ in range(20_000)]
    numbers += [rng.uniform(-1, 1) * 10.0 ** rng.randrange(-12, 20) for _ in range(20_000)]
    for x in numbers:
        assert formatter.number_text(lua_fmt(x)) == formatter.number(x), x


def test_timestamp_texts_are_spelled_as_their_doubles(definition: Definition) -> None:
    import random

    formatter = module.RowFormatter(definition)
    rng = random.Random(9)
    stamps = [round(rng.uniform(0, 2**34), rng.randrange(5)) for _ in range(20_000)]
    stamps += [rng.uniform(946_684_800, 4_102_444_800) for _ in range(5_000)]
    stamps += [2**33 - 0.001, 2**33, 2**33 + 0.999, 999_999_999.999, 1e9, 0.0, 59.999]
    stamps += [1_795_000_000 + i / 1000 for i in range(2000)]
    for ts in stamps:
        assert formatter.timestamp_texts([lua_fmt(ts)])[0] == iso_utc(ts), ts
    for text in ["1795000000.5e1", "١٧٩٥٠٠٠٠٠٠.5", "1795000000.25"]:
        assert formatter.timestamp_texts([text])[0] == iso_utc(float(text)), text


@pytest.mark.parametrize("limit", [100_000, 25])
def test_tens_prefixes_are_the_start_of_iso_utc(
    definition: Definition, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Nine digits of seconds far from and near 2**33 s, not digits, and a full memo."""
    import random

    monkeypatch.setattr(module, "CACHE_LIMIT", limit)
    tens = module.RowFormatter(definition).tens_prefixes
    rng = random.Random(9)
    texts = [f"{rng.randrange(10**8, module.TENS_LIMIT + 20):09d}" for _ in range(3000)]
    texts += [str(module.TENS_LIMIT + d) for d in range(-12, 3)] + ["17950000x", "1795000", "٠" * 9]
    for text in texts * 2:
        valid = len(text) == 9 and text.isdigit() and text.isascii()
        if valid and int(text) < module.TENS_LIMIT:
            assert tens[text] == iso_utc(int(text) * 10.0)[:18], text
        else:
            assert tens[text] == "", text
    assert len(tens) <= limit
