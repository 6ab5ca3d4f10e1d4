"""Redis' :class:`LineDecoder` writes what ``csv.writer`` writes for :class:`RowDecoder`'s cells,
record by record: the ones its regex pastes and the ones it leaves to the cells (the records
here are written by hand, in and out of what the scripts write)."""

from __future__ import annotations

import csv
import io
import random

import pytest

from tests.support.experiments import make_definition
from xp.reports.units_csv import RowFormatter
from xp.store.redis.units import LineDecoder, RowDecoder

NAMES = {
    "v\x1fcontrol": "0",
    "v\x1f=treatment": "8",
    "g\x1fcountry\x1fUS": "1",
    "g\x1fdevice\x1fweb": "2",
    'g\x1fcountry\x1fa,"b"\r\nc': "9",
    "g\x1fdropped\x1fx": "12",
    "m\x1fconverted": "3",
    "m\x1fpurchases": "4",
    "m\x1frevenue": "5",
    "m\x1fretained": "6",
    "m\x1fclicks_per_search": "7",
    "m\x1fdropped": "13",
}
TOTALS = [
    "",
    "3:1,4:1,5:73.54,6:1,7:23.76:5.88",  # every column, in order: pasted
    "7:39.54:45.91",
    "7:39.54",  # a ratio without its denominator
    "6:1,3:1",  # another order
    "3:1,13:4,5:2.5",  # a metric the definition dropped
    "3:1,3:2",  # twice
    "5:-0",
    "5:-0.5",
    "5:1e-07",
    "5:0.10000000000000001",  # %.17g
    "5:123456789012345",  # 15 characters
    "5:nan",
    "5:-inf",
    "5:1,",
    '5:3"',
    "4:1:2",
    "7:1:2:3",
    ",3:1",  # a comma first
    "3:1,,4:1",
    "3:1:2",  # a denominator on a metric without one
]
STAMPS = ["1795913612.03", "1795913612", "1795913612.125", "1795913612.1234", "179591361.5"]
STAMPS += ["17959136120.5", "8589934592.5", "8589934591.999", "١٧٩٥٩١٣٦١٢"]
IDS = ["user-1", "=cmd", "-5", "+x", "a,b", 'q"q', "\tt", "", "x\ry"]


def lines(records: dict[str, str]) -> str:
    definition = make_definition()
    decode = LineDecoder(definition, NAMES, RowFormatter(definition))
    return "".join(decode(list(records), list(records.values())))


def cells_written(records: dict[str, str]) -> str:
    definition = make_definition()
    buffer = io.StringIO()
    rows = RowDecoder(definition, NAMES, RowFormatter(definition))(
        list(records), list(records.values())
    )
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


@pytest.mark.parametrize("totals", TOTALS)
@pytest.mark.parametrize("stamp", STAMPS)
def test_a_unit_line_is_what_csv_writes_for_its_cells(stamp: str, totals: str) -> None:
    records = {"user-1": f"0|{stamp}|1,2||{totals}", "=x": f"8|{stamp}|9||{totals}"}
    try:
        expected = cells_written(records)
    except (KeyError, ValueError) as exc:  # the cells fail: so must the lines, alike
        with pytest.raises(type(exc)):
            lines(records)
        return
    assert lines(records) == expected
    assert expected.count("\r\n") >= 2


def test_a_bucket_of_mixed_units_keeps_its_order() -> None:
    rng = random.Random(3)
    records = {
        rng.choice(IDS) + str(i): f"{rng.choice('08')}|{rng.choice(STAMPS[:4])}|"
        f"{rng.choice(['', '1', '2,9', '12,1'])}||{rng.choice(TOTALS[:14])}"
        for i in range(300)
    }
    assert lines(records) == cells_written(records)


def test_unknown_ids_are_a_key_error_as_for_the_cells() -> None:
    for record in ["5|1795913612|1||", "0|1795913612|77||", "0|1795913612|1||99:1"]:
        with pytest.raises(KeyError):
            lines({"u": record})


def test_csv_field_is_what_csv_writer_writes() -> None:
    rng = random.Random(5)
    alphabet = 'ab ,"\r\n\t=\x00\u2028é'
    texts = ["", " ", '"', ",", "\r\n"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(8))) for _ in range(2000)
    ]
    for text in texts:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(["x", text])
        assert RowFormatter.csv_line(["x", text]) == buffer.getvalue()


def test_mutated_records_give_the_lines_of_their_cells() -> None:
    """Records of every column cut, doubled and garbled at random: each line the one written
    for its cells, or the same error."""
    rng = random.Random(11)
    pieces = list("0123456789,:|.-+en") + ["3:", "5:", "7:", ",", "|", "-0", "1e+20", "nan"]
    checked = 0
    for i in range(3000):
        text = list(f"{rng.choice('08')}|{rng.choice(STAMPS[:4])}|1,2||{TOTALS[1]}")
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            if rng.random() < 0.5:
                text.insert(at, rng.choice(pieces))
            else:
                del text[at]
        records = {f"u{i}": "".join(text)}
        try:
            expected = cells_written(records)
        except (KeyError, ValueError, OverflowError) as exc:
            with pytest.raises(type(exc)):
                lines(records)
            continue
        assert lines(records) == expected, records
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("unit_id", [*IDS, "@sum", "a\nb", "x\x00-y", "é,", "\u2028=", "\r"])
def test_one_unsafe_unit_id_among_safe_ones_is_written_as_csv_writes_it(unit_id: str) -> None:
    records = {f"user-{i}": f"0|{STAMPS[0]}|1,2||{TOTALS[1]}" for i in range(5)}
    records[unit_id] = f"8|{STAMPS[2]}|9||{TOTALS[2]}"
    assert lines(records) == cells_written(records)
