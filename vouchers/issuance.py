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
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.db import utcnow
from marketplace.errors import DomainError
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
    """Read the uploaded file into rows. Raises CsvInvalid for an unreadable file or header."""
    if not data.strip():
        raise CsvInvalid("文件为空 / the file is empty")
    text = _decode(data)
    if "\x00" in text:
        raise CsvInvalid(
            "文件含有NUL字符，不是CSV文本 / the file contains NUL characters: not CSV text"
        )
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CsvInvalid(
            f"缺少列：{', '.join(missing)}（需要 credit_code, amount_yuan） / missing columns: "
            f"{', '.join(missing)} (the header must name credit_code and amount_yuan)"
        )
    reader.fieldnames = header
    rows: list[BulkRow] = []
    try:
        for record_ in reader:
            if len(rows) >= MAX_ROWS:
                raise CsvInvalid(f"每次最多{MAX_ROWS}行 / at most {MAX_ROWS} rows per file")
            values = {k: (v or "").strip() for k, v in record_.items() if isinstance(k, str)}
            if not any(values.values()):
                continue
            rows.append(
                BulkRow(
                    line=reader.line_num,
                    credit_code=values.get("credit_code", ""),
                    amount_fen=None,
                    amount_text=values.get("amount_yuan", ""),
                    note=values.get("note", ""),
                )
            )
    except csv.Error as exc:
        raise CsvInvalid(f"CSV格式错误 / malformed CSV: {exc}") from None
    if not rows:
        raise CsvInvalid("文件中没有数据行 / the file has no data rows")
    return rows


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

    Raises NotFound (programme); row problems never raise, they are reported.
    """
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

    results: list[RowResult] = []
    seen: set[str] = set()
    for row in rows:
        key = row.credit_code.strip().upper()
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
                results.append(_issue_row(session, programme.id, row, actor_id=actor_id, now=now))
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
    batch.issued_count = len(issued)
    batch.refused_count = len(results) - len(issued)
    batch.issued_fen = sum(r.amount_fen or 0 for r in issued)
    batch.report = [asdict(r) for r in results]
    session.flush()
    record(
        session,
        "vouchers.bulk_issued",
        actor_id=actor_id,
        subject_type="programme",
        subject_id=programme.id,
        batch_id=batch.id,
        issued=batch.issued_count,
        refused=batch.refused_count,
        issued_fen=batch.issued_fen,
    )
    return batch, False
