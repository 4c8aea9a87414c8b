"""The one writer of spreadsheet files (CSV and XLSX) the platform hands out.

Every text cell goes through :func:`neutralise`: a cell beginning with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is prefixed with an apostrophe, so that a name such as
``=HYPERLINK(…)`` typed by a registrant is shown as text and never runs as a formula in the
spreadsheet program of the official who opens the export (OWASP "CSV injection").

Rows are consumed lazily and written out as they come, so an export of a million records
streams in constant memory: CSV line by line, XLSX through xlsxwriter's constant-memory mode
into a temporary file that is then sent in chunks and removed.

Money is passed in as text (``format_fen``) or integer fen by the caller; floats are refused.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import date, datetime
from enum import StrEnum
from typing import IO, Any, Protocol

import sqlalchemy as sa
from flask import Response
from sqlalchemy.orm import Session

Cell = str | int | date | datetime | None
Row = Sequence[Cell]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Excel opens a UTF-8 CSV as UTF-8 only with a byte-order mark; without it Chinese is garbled.
BOM = "\ufeff"
_CHUNK = 64 * 1024


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MIMETYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def neutralise(value: str) -> str:
    """``value`` made safe to open in a spreadsheet program (see the module's docstring)."""
    return "'" + value if value[:1] in _FORMULA_FIRST else value


#: The same characters as a set of one-character strings: ``value[:1] in`` is the cheapest test
#: Python has for the common case (a cell that starts with anything else), and "" is not in it.
_FORMULA_FIRST = frozenset(FORMULA_START)


def _not_allowed(cell: object) -> str:
    # bool is an int and float has no place in money; both are a caller's mistake.
    raise TypeError(f"export cells are text, int, date or datetime, not {type(cell).__name__}")


def _datetime_text(cell: datetime) -> str:
    return cell.isoformat(sep=" ")


#: How each type of cell becomes text, looked up by exact type (one dict lookup per cell instead
#: of a chain of isinstance tests: an export of a million records writes ten million cells).
_TEXT_OF: dict[type, Callable[[Any], str]] = {
    str: neutralise,
    int: int.__repr__,
    datetime: _datetime_text,
    date: date.isoformat,
    bool: _not_allowed,
    float: _not_allowed,
}


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    convert = _TEXT_OF.get(type(cell))
    if convert is not None:
        return convert(cell)
    # Subclasses (StrEnum members, IntEnum …) take the slow, exact road.
    if isinstance(cell, bool | float):
        return _not_allowed(cell)
    if isinstance(cell, int):
        return str(int(cell))
    if isinstance(cell, datetime):
        return _datetime_text(cell)
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, str):
        return neutralise(str(cell))
    return _not_allowed(cell)  # Decimal, objects …: say so rather than guess a text


def _texts(row: Row) -> list[str]:
    # The common cell (text that starts harmlessly) is passed through without a call.
    return [
        cell if type(cell) is str and cell[:1] not in _FORMULA_FIRST else _text(cell)
        for cell in row
    ]


def csv_lines(header: Row, rows: Iterable[Row], *, line_end: str = "\r\n") -> Iterator[str]:
    """The CSV file as a stream of lines (the first with the byte-order mark)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end)
    for index, row in enumerate(_chain(header, rows)):
        writer.writerow(_texts(row))
        line = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        yield (BOM + line) if index == 0 else line


def _chain(header: Row, rows: Iterable[Row]) -> Iterator[Row]:
    yield header
    yield from rows


def csv_text(header: Row, rows: Iterable[Row], *, line_end: str = "\r\n") -> str:
    """The whole CSV file as one string (for small files stored or attached whole)."""
    return "".join(csv_lines(header, rows, line_end=line_end))


Progress = Callable[[int], None]
#: How often (in rows) a long export reports its progress.
PROGRESS_EVERY = 1_000


def _counted(rows: Iterable[Row], progress: Progress | None) -> Iterator[Row]:
    """``rows``, calling ``progress(rows so far)`` every PROGRESS_EVERY rows and at the end."""
    if progress is None:
        yield from rows
        return
    done = 0
    for done, row in enumerate(rows, start=1):
        yield row
        if not done % PROGRESS_EVERY:
            progress(done)
    progress(done)


def write_csv(stream: IO[str], header: Row, rows: Iterable[Row]) -> None:
    """Write the CSV file to a text ``stream`` (opened with ``newline=""``): a csv.writer on
    the buffered stream, each row's cells converted once, no per-line string juggling."""
    stream.write(BOM)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(_texts(header))
    writer.writerows(map(_texts, rows))


def write_xlsx(path: str, header: Row, rows: Iterable[Row], *, sheet: str = "Sheet1") -> None:
    """Write the XLSX workbook to ``path``; memory stays flat whatever the row count."""
    import xlsxwriter  # only where a workbook is written (tests/architecture/test_lazy_imports)

    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            # Never turn text into formulas or URLs: cells are data, whatever they look like.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    for column, title in enumerate(header):
        worksheet.write_string(0, column, _text(title), bold)
    write_string = worksheet.write_string
    write_number = worksheet.write_number
    for line, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            kind = type(cell)
            if kind is str:
                write_string(line, column, neutralise(cell))  # type: ignore[arg-type]
            elif kind is int:
                write_number(line, column, cell)
            elif cell is None:
                continue
            elif isinstance(cell, int) and not isinstance(cell, bool):
                write_number(line, column, int(cell))
            else:
                write_string(line, column, _text(cell))
    workbook.close()


def write_file(
    path: str,
    kind: Format,
    header: Row,
    rows: Iterable[Row],
    sheet: str,
    *,
    progress: Progress | None = None,
) -> None:
    """Write the export to ``path``; ``progress(rows written)`` is called as it goes (jobs show
    it as a progress bar)."""
    counted = _counted(rows, progress)
    if kind is Format.XLSX:
        write_xlsx(path, header, counted, sheet=sheet)
        return
    with open(path, "w", encoding="utf-8", newline="", buffering=_CHUNK) as stream:
        write_csv(stream, header, counted)


def _chunks_then_remove(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


class Sink(Protocol):
    """Where :func:`download` writes instead of answering, while a background job runs an
    export: the file is written there, with progress, and the job offers it for download."""

    def __call__(
        self, stem: str, kind: Format, header: Row, rows: Iterable[Row], total: int | None
    ) -> None: ...


#: Set by the export job around the view it runs (marketplace.web.jobs.exports).
job_sink: ContextVar[Sink | None] = ContextVar("export_job_sink", default=None)


def count(session: Session, stmt: sa.Select[Any]) -> int:
    """How many rows ``stmt`` selects (a job's progress bar needs the total)."""
    return int(
        session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )


def download(
    stem: str,
    kind: Format,
    header: Row,
    rows: Iterable[Row],
    *,
    total: Callable[[], int] | None = None,
) -> Response:
    """An attachment ``<stem>.csv`` or ``<stem>.xlsx`` of ``rows``.

    The file is written to a temporary file while the request's transaction is open (the rows
    usually come from a query in it), then sent in chunks and removed: memory stays flat for a
    million rows, and the database work stays inside the request as the transaction rule wants.

    Inside a background export job (:data:`job_sink` set) the rows go to the job's file
    instead, and ``total()`` (when given) tells its progress bar how many rows to expect.
    """
    sink = job_sink.get()
    if sink is not None:
        sink(stem, kind, header, rows, total() if total is not None else None)
        return Response(status=204)
    handle, path = tempfile.mkstemp(prefix="export-", suffix=f".{kind.value}")
    os.close(handle)
    try:
        write_file(path, kind, header, rows, sheet=stem)
    except BaseException:
        os.unlink(path)
        raise
    response = Response(
        _chunks_then_remove(path),
        mimetype=MIMETYPES[kind],
        headers={
            "Content-Disposition": f"attachment; filename={stem}.{kind.value}",
            "Cache-Control": "no-store",
        },
    )
    response.content_length = os.path.getsize(path)
    return response
