"""The one export writer: formulas neutralised, CSV and XLSX streamed, money never a float."""

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest

from marketplace import exports

HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\ry", "plain", "公司=有限"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_leading_text_is_prefixed(text):
    safe = exports.neutralise(text)
    if text[0] in "=+-@\t\r":
        assert safe == "'" + text
    else:
        assert safe == text


def test_csv_has_a_bom_once_and_neutralises_every_text_cell():
    lines = list(exports.csv_lines(["名称", "金额"], ([name, 5] for name in HOSTILE)))
    assert lines[0].startswith("\ufeff") and not any(
        line.startswith("\ufeff") for line in lines[1:]
    )
    rows = list(csv.reader(io.StringIO("".join(lines).lstrip("\ufeff"))))
    assert rows[0] == ["名称", "金额"]
    assert [row[0] for row in rows[1:7]] == ["'" + text for text in HOSTILE[:6]]
    assert rows[7:] == [["plain", "5"], ["公司=有限", "5"]]


def test_dates_none_and_integers():
    text = exports.csv_text(["a", "b", "c"], [[date(2026, 1, 2), None, -3]])
    assert text.splitlines()[1] == "2026-01-02,,-3"
    moment = exports.csv_text(["t"], [[datetime(2026, 1, 2, 3, 4)]])
    assert moment.splitlines()[1] == "2026-01-02 03:04:00"


def test_floats_are_refused():
    with pytest.raises(TypeError):
        exports.csv_text(["amount"], [[1.5]])


def test_xlsx_cells_are_text_never_formulas(tmp_path):
    path = tmp_path / "x.xlsx"
    exports.write_xlsx(str(path), ["名称", "金额"], iter([["=1+1", 12_345], ["ok", None]]))
    sheet = openpyxl.load_workbook(path).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["名称", "金额"],
        ["'=1+1", 12_345],
        ["ok", None],
    ]
    assert sheet["A2"].data_type == "s" and sheet["B2"].data_type == "n"


def test_rows_are_consumed_lazily():
    consumed = []

    def rows():
        for n in range(3):
            consumed.append(n)
            yield [n]

    stream = exports.csv_lines(["n"], rows())
    next(stream)  # the header only
    assert consumed == []
    assert list(stream) == ["0\r\n", "1\r\n", "2\r\n"] and consumed == [0, 1, 2]


def test_the_file_writer_neutralises_like_the_line_writer(tmp_path):
    """write_file's buffered csv.writer path (the one large exports take) and csv_lines give
    the same bytes, hostile cells, enums, empty text and dates included."""
    from enum import StrEnum

    class Colour(StrEnum):
        RED = "=red"

    rows = [[name, n, Colour.RED, "", date(2026, 1, 2)] for n, name in enumerate(HOSTILE)]
    path = tmp_path / "x.csv"
    counted: list[int] = []
    exports.write_file(
        str(path),
        exports.Format.CSV,
        ["a", "b", "c", "d", "e"],
        iter(rows),
        "x",
        progress=counted.append,
    )
    written = path.read_bytes().decode("utf-8")  # not read_text: keep the \r\n line ends
    assert written == exports.csv_text(["a", "b", "c", "d", "e"], rows)
    assert counted == [len(HOSTILE)]  # fewer rows than PROGRESS_EVERY: told once, at the end
    parsed = list(csv.reader(io.StringIO(written.lstrip("\ufeff"))))
    assert all(row[2] == "'=red" for row in parsed[1:])


def test_other_cell_types_are_refused():
    from decimal import Decimal

    with pytest.raises(TypeError):
        exports.csv_text(["amount"], [[Decimal("1.50")]])
