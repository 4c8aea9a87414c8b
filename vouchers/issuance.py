"""Bulk issuance: administrators issue vouchers to many enterprises at once from a CSV file
(or the API's JSON rows), with a report of what was issued and what was refused and why.

CSV format: a header row with ``credit_code`` and ``amount_yuan`` (optional ``note``); UTF-8
(with or without BOM) or GB18030, as spreadsheet programs in China save it. Each row is
processed in its own savepoint: a refused row changes nothing and does not stop the others.
Each issued row creates an approved application (source ``bulk``) with its history, so the
one-application-per-programme rule also stops an enterprise being issued twice. The batch is
keyed by the SHA-256 of its content per programme: submitting the same file again returns the
first report and issues nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.jobs.models import ROW_OK, ROW_REFUSED
from marketplace.jobs.tracked import JobContext
from marketplace.money import MoneyFormatError, parse_yuan
from vouchers import rules
from vouchers.applications import check_eligible, issue_voucher
from vouchers.enums import ApplicationAction, ApplicationSource
from vouchers.errors import AmountInvalid, CsvInvalid, DuplicateApplication
from vouchers.models import Application, ApplicationEvent, Enterprise, IssuanceBatch
from vouchers.programmes import get_programme

MAX_ROWS = 2000
REQUIRED_COLUMNS = ("credit_code", "amount_yuan")


@dataclass(frozen=True, slots=True)
class BulkRow:
    line: int
    credit_code: str
    amount_fen: int | None
    amount_text: str
    note: str


@dataclass(frozen=True, slots=True)
class RowResult:
    line: int
    credit_code: str
    outcome: str  # "issued" or "refused"
    code: str | None
    message: str | None
    amount_fen: int | None
    voucher_id: int | None
    serial: str | None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvInvalid("文件编码无法识别（请使用UTF-8） / cannot decode the file; save it as UTF-8")


def parse_csv(data: bytes) -> list[BulkRow]:
    """Read the uploaded CSV file into rows. Raises CsvInvalid for an unreadable file or header."""
    if not data.strip():
        raise CsvInvalid("文件为空 / the file is empty")
    text = _decode(data)
    if "\x00" in text:
        raise CsvInvalid(
            "文件含有NUL字符，不是CSV文本 / the file contains NUL characters: not CSV text"
        )
    reader = csv.reader(io.StringIO(text))
    try:
        return _bulk_rows((reader.line_num, record) for record in reader)
    except csv.Error as exc:
        raise CsvInvalid(f"CSV格式错误 / malformed CSV: {exc}") from None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_xlsx(data: bytes) -> list[BulkRow]:
    """Read the first sheet of an uploaded XLSX workbook (the template's layout: a header row
    naming the columns, then one row per voucher). Raises CsvInvalid for an unreadable file."""
    import zipfile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise CsvInvalid("无法读取XLSX文件 / the XLSX file cannot be read") from None
    try:
        sheet = workbook.worksheets[0]
        records = (
            (line, [_cell_text(value) for value in values])
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        return _bulk_rows(records)
    finally:
        workbook.close()


def parse_upload(data: bytes, filename: str) -> list[BulkRow]:
    """The rows of an uploaded file: XLSX (by its name or its zip signature) or CSV."""
    if filename.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        return parse_xlsx(data)
    return parse_csv(data)


def _bulk_rows(records: Iterator[tuple[int, list[str]]]) -> list[BulkRow]:
    """Rows from (line number, cells) records whose first is the header."""
    first = next(records, None)
    if first is None:
        raise CsvInvalid("文件为空 / the file is empty")
    header = [(h or "").strip().lower().lstrip("\ufeff") for h in first[1]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CsvInvalid(
            f"缺少列：{', '.join(missing)}（需要 credit_code, amount_yuan） / missing columns: "
            f"{', '.join(missing)} (the header must name credit_code and amount_yuan)"
        )
    rows: list[BulkRow] = []
    for line, cells in records:
        values = {
            name: (cells[i] if i < len(cells) else "").strip()
            for i, name in enumerate(header)
            if name
        }
        if not any(values.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise CsvInvalid(f"每次最多{MAX_ROWS}行 / at most {MAX_ROWS} rows per file")
        rows.append(
            BulkRow(
                line=line,
                credit_code=values.get("credit_code", ""),
                amount_fen=None,
                amount_text=values.get("amount_yuan", ""),
                note=values.get("note", ""),
            )
        )
    if not rows:
        raise CsvInvalid("文件中没有数据行 / the file has no data rows")
    return rows


#: The template's columns and sample rows (CSV and XLSX, from the same data).
TEMPLATE_HEADER = ("credit_code", "amount_yuan", "note")
TEMPLATE_ROWS = (
    ("91530100MA6K00006J", "20000.00", "2026年第一批 示例行：请替换为真实数据"),
    ("91530102MA6N5X2Y7W", "50000", "示例：金额以元为单位，最多两位小数"),
)


def rows_from_json(items: list[dict[str, object]]) -> list[BulkRow]:
    """API rows (``credit_code``, ``amount_fen``, optional ``note``), numbered from 1."""
    if not items:
        raise CsvInvalid("没有数据行 / no rows given")
    if len(items) > MAX_ROWS:
        raise CsvInvalid(f"每次最多{MAX_ROWS}行 / at most {MAX_ROWS} rows per batch")
    return [
        BulkRow(
            line=i,
            credit_code=str(item.get("credit_code", "")),
            amount_fen=item.get("amount_fen"),  # type: ignore[arg-type]
            amount_text=str(item.get("amount_fen", "")),
            note=str(item.get("note") or ""),
        )
        for i, item in enumerate(items, start=1)
    ]


def digest_of_rows(rows: list[BulkRow]) -> str:
    canonical = json.dumps(
        [[r.credit_code, r.amount_fen, r.amount_text, r.note] for r in rows], ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _amount(row: BulkRow) -> int:
    if row.amount_fen is not None:
        return rules.validate_amount(row.amount_fen)
    try:
        fen = parse_yuan(row.amount_text)
    except MoneyFormatError:
        raise AmountInvalid(
            f"金额“{row.amount_text}”不是最多两位小数的元金额 / “{row.amount_text}” is not an "
            "amount in yuan with at most two decimals",
            field="amount_yuan",
        ) from None
    return rules.validate_amount(fen, field="amount_yuan")


class _Refused(DomainError):
    """A row problem that is not a domain rule of its own (unknown enterprise …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.row_code = code


def _issue_row(
    session: Session, programme_id: int, row: BulkRow, *, actor_id: int | None, now: datetime
) -> RowResult:
    try:
        code = parse_credit_code(row.credit_code).value
    except CreditCodeError as exc:
        raise _Refused("credit_code_invalid", exc.message) from None
    amount = _amount(row)
    enterprise = session.scalar(sa.select(Enterprise).where(Enterprise.credit_code == code))
    if enterprise is None:
        raise _Refused(
            "enterprise_unknown", f"平台上没有企业 {code} / no enterprise with credit code {code}"
        )
    programme = get_programme(session, programme_id)
    check_eligible(programme, enterprise, [])
    live = session.scalar(
        sa.select(Application.id).where(
            Application.enterprise_id == enterprise.id,
            Application.live_programme_id == programme.id,
        )
    )
    if live is not None:
        raise DuplicateApplication(
            "该企业已有本券种的申请或电子券 / the enterprise already has an application or voucher "
            "for this programme"
        )
    application = Application(
        enterprise_id=enterprise.id,
        programme_id=programme.id,
        live_programme_id=programme.id,
        status=rules.APPLICATION.next(None, ApplicationAction.BULK_ISSUE),
        source=ApplicationSource.BULK,
        requested_fen=amount,
        approved_fen=amount,
        planned_categories=[],
        plan=row.note or "批量发放 / bulk issuance",
        decided_at=now,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.flush()
    voucher = issue_voucher(session, application, amount, actor_id=actor_id, now=now)
    session.add(
        ApplicationEvent(
            application_id=application.id,
            action=ApplicationAction.BULK_ISSUE,
            from_status=None,
            to_status=application.status,
            amount_fen=amount,
            note=row.note or None,
            actor_id=actor_id,
            created_at=now,
        )
    )
    session.flush()
    return RowResult(row.line, code, "issued", None, None, amount, voucher.id, voucher.serial)


def issue_in_bulk(
    session: Session,
    programme_id: int,
    rows: list[BulkRow],
    *,
    filename: str,
    digest: str,
    actor_id: int | None,
    now: datetime | None = None,
) -> tuple[IssuanceBatch, bool]:
    """Issue one voucher per row. Returns the batch (with its per-row report) and whether it
    is a replay of an earlier identical batch (then nothing was issued now).

    Raises NotFound (programme); row problems never raise, they are reported. A background
    job does the same in chunks: :func:`open_batch`, :func:`issue_rows` per chunk,
    :func:`close_batch`.
    """
    now = now or utcnow()
    batch, replayed = open_batch(
        session, programme_id, filename=filename, digest=digest, actor_id=actor_id, now=now
    )
    if replayed:
        return batch, True
    issue_rows(session, batch, rows, 0, len(rows), now=now)
    close_batch(session, batch)
    return batch, False


def open_batch(
    session: Session,
    programme_id: int,
    *,
    filename: str,
    digest: str,
    actor_id: int | None,
    now: datetime | None = None,
) -> tuple[IssuanceBatch, bool]:
    """The batch for this content, new, or the earlier one (True) when it was submitted
    before. Raises NotFound (programme)."""
    now = now or utcnow()
    programme = get_programme(session, programme_id)
    existing = session.scalar(
        sa.select(IssuanceBatch).where(
            IssuanceBatch.programme_id == programme.id, IssuanceBatch.sha256 == digest
        )
    )
    if existing is not None:
        return existing, True
    try:
        with session.begin_nested():
            batch = IssuanceBatch(
                programme_id=programme.id,
                filename=filename[:200] or "upload.csv",
                sha256=digest,
                actor_id=actor_id,
                created_at=now,
                report=[],
            )
            session.add(batch)
            session.flush()
    except IntegrityError:
        # The same content was submitted concurrently and committed first.
        return session.scalars(
            sa.select(IssuanceBatch).where(
                IssuanceBatch.programme_id == programme.id, IssuanceBatch.sha256 == digest
            )
        ).one(), True
    return batch, False


def issue_rows(
    session: Session,
    batch: IssuanceBatch,
    rows: list[BulkRow],
    start: int,
    stop: int,
    *,
    now: datetime | None = None,
) -> list[RowResult]:
    """Issue ``rows[start:stop]`` into ``batch``, each row in its own savepoint, adding their
    results to the batch's report. Rows already reported (a job resumed) are skipped, and a
    credit code seen earlier in ``rows`` is refused as a duplicate."""
    now = now or utcnow()
    reported = {int(str(r["line"])) for r in batch.report or []}
    seen = {row.credit_code.strip().upper() for row in rows[:start]}
    results: list[RowResult] = []
    for row in rows[start:stop]:
        key = row.credit_code.strip().upper()
        if row.line in reported:
            seen.add(key)
            continue
        if key in seen:
            results.append(
                RowResult(
                    row.line,
                    row.credit_code,
                    "refused",
                    "duplicate_row",
                    "同一文件中重复出现 / the credit code appears twice in this batch",
                    None,
                    None,
                    None,
                )
            )
            continue
        seen.add(key)
        try:
            with session.begin_nested():
                results.append(
                    _issue_row(session, batch.programme_id, row, actor_id=batch.actor_id, now=now)
                )
        except _Refused as exc:
            exc.recovered()  # the row's savepoint undid it; the batch goes on
            results.append(
                RowResult(
                    row.line,
                    row.credit_code,
                    "refused",
                    exc.row_code,
                    exc.message,
                    None,
                    None,
                    None,
                )
            )
        except DomainError as exc:
            exc.recovered()
            results.append(
                RowResult(
                    row.line, row.credit_code, "refused", exc.code, exc.message, None, None, None
                )
            )
    issued = [r for r in results if r.outcome == "issued"]
    batch.issued_count = (batch.issued_count or 0) + len(issued)
    batch.refused_count = (batch.refused_count or 0) + len(results) - len(issued)
    batch.issued_fen = (batch.issued_fen or 0) + sum(r.amount_fen or 0 for r in issued)
    # A new list, so the JSON column is seen as changed.
    batch.report = [*(batch.report or []), *(asdict(r) for r in results)]
    session.flush()
    return results


def close_batch(session: Session, batch: IssuanceBatch) -> None:
    """Record the batch's audit record, once all its rows were issued or refused."""
    record(
        session,
        "vouchers.bulk_issued",
        actor_id=batch.actor_id,
        subject_type="programme",
        subject_id=batch.programme_id,
        batch_id=batch.id,
        issued=batch.issued_count,
        refused=batch.refused_count,
        issued_fen=batch.issued_fen,
    )


#: Rows issued per transaction by the background job (its progress moves chunk by chunk).
JOB_CHUNK = 25
JOB_HANDLER = "vouchers.issuance.run_bulk_job"


def job_report(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """A batch's rows as a job's per-row report: row, outcome, reason (and what was issued)."""
    return [
        {
            "row": r["line"],
            "outcome": ROW_OK if r["outcome"] == "issued" else ROW_REFUSED,
            "reason": r["message"] or "",
            "code": r["code"],
            "credit_code": r["credit_code"],
            "serial": r["serial"] or "",
            "amount_fen": r["amount_fen"],
        }
        for r in results
    ]


def issue_file(
    data: bytes,
    filename: str,
    programme_id: int,
    actor_id: int | None,
    *,
    transaction: Callable[[], AbstractContextManager[Session]],
    progress: Callable[[Session, int, int], None],
    finish: Callable[[Session, IssuanceBatch, bool], None],
) -> None:
    """Issue an uploaded file's rows in chunks of JOB_CHUNK, each chunk one ``transaction()``
    with ``progress(session, done, total)``, each row in its own savepoint as in
    :func:`issue_in_bulk`; ``finish(session, batch, replayed)`` runs in the last transaction,
    with the batch's audit record. The background job and ``flask vouchers bulk-issue``.

    Raises CsvInvalid for an unreadable file, NotFound for an unknown programme.
    """
    rows = parse_upload(data, filename)
    now = utcnow()
    with transaction() as session:
        batch, replayed = open_batch(
            session,
            programme_id,
            filename=filename,
            digest=hashlib.sha256(data).hexdigest(),
            actor_id=actor_id,
            now=now,
        )
        batch_id = batch.id
        if replayed:
            # The same file again: a repeat, unless an earlier run stopped half-way (its rows
            # are not all reported); then it is taken up where it stopped.
            reported = {int(str(r["line"])) for r in batch.report or []}
            replayed = all(row.line in reported for row in rows)
        progress(session, len(rows) if replayed else 0, len(rows))
        if replayed:
            finish(session, batch, True)
            return
    for start in range(0, len(rows), JOB_CHUNK):
        stop = min(start + JOB_CHUNK, len(rows))
        with transaction() as session:
            batch = session.get_one(IssuanceBatch, batch_id)
            issue_rows(session, batch, rows, start, stop, now=now)
            progress(session, stop, len(rows))
            if stop == len(rows):  # the last chunk closes the batch in the same transaction
                close_batch(session, batch)
                finish(session, batch, False)


def run_bulk_job(context: JobContext) -> None:
    """The background job of a bulk issuance uploaded on the programme's page."""

    def finish(session: Session, batch: IssuanceBatch, replayed: bool) -> None:
        context.finish(
            session,
            summary=_summary(batch, replayed=replayed),
            report=job_report(batch.report or []),
        )

    issue_file(
        context.input_data or b"",
        context.input_name or "upload.csv",
        int(context.params["programme_id"]),
        context.owner_id,
        transaction=context.transaction,
        progress=context.progress,
        finish=finish,
    )


def _summary(batch: IssuanceBatch, *, replayed: bool) -> dict[str, object]:
    return {
        "batch_id": batch.id,
        "programme_id": batch.programme_id,
        "ok": batch.issued_count,
        "refused": batch.refused_count,
        "issued_fen": batch.issued_fen,
        "replayed": replayed,
    }
