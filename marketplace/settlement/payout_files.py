"""The two bank files of a payout: the payment file we send, the confirmation we get back.

Payment file (CSV, UTF-8 with a byte-order mark so spreadsheet programs show Chinese
correctly, one header row, one row per payment line). A batch is one paying treasury's: every
row names the account it pays from (``payer_*``; empty for programmes naming no funder, paid
from their own budget as before funders) and the file holds only that treasury's lines::

    line_id,provider_name,bank_account_name,bank_name,account_number,amount_yuan,amount_fen,reference,payer_name,payer_bank_name,payer_account_number
    12,昆明检测中心,昆明检测中心,中国银行昆明分行,6216610100001234567,1500.00,150000,VMPAY00000012,云南省财政厅国库存款户,中国人民银行昆明中心支行,53005300000001

Text cells that a spreadsheet would run as a formula (starting with = + - @ or a control
character) are prefixed with an apostrophe.

Confirmation file (CSV, UTF-8 with or without BOM, a header row naming the columns)::

    line_id,reference,status,bank_transaction_id,date,reason
    12,VMPAY00000012,paid,B20260701-0001,2026-07-01,
    13,VMPAY00000013,failed,,2026-07-01,账户已销户

``line_id`` or ``reference`` (or both, then they must agree) name the payment line; ``status``
is ``paid`` or ``failed``; a paid row needs the bank transaction id; ``date`` is the bank's
value date (``YYYY-MM-DD`` or ``YYYYMMDD``); ``reason`` is optional. A file with any unreadable
row is refused whole, with every problem listed by row number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from marketplace import masking
from marketplace.exports import neutralise
from marketplace.parsing import ascii_int
from marketplace.settlement.enums import PayoutLineStatus
from marketplace.settlement.errors import ConfirmationInvalid
from marketplace.settlement.models import PayoutBatch
from marketplace.settlement.rules import yuan_text

PAYMENT_HEADER = (
    "line_id",
    "provider_name",
    "bank_account_name",
    "bank_name",
    "account_number",
    "amount_yuan",
    "amount_fen",
    "reference",
    "payer_name",
    "payer_bank_name",
    "payer_account_number",
)
CONFIRMATION_COLUMNS = ("line_id", "reference", "status", "bank_transaction_id", "date", "reason")
MAX_ROWS = 10_000
MAX_REASON = 300
BOM = "\ufeff"
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_REFERENCE = re.compile(r"^VMPAY(\d{8,19})$")
#: Bank transaction ids: letters and digits, then also . _ : / - (no spaces, no control
#: characters), at most 100 characters. The API schema states the same pattern.
TRANSACTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"
_TRANSACTION = re.compile(TRANSACTION_PATTERN)


def payment_file(batch: PayoutBatch, *, whole_accounts: bool = True) -> str:
    """The bank payment file of ``batch`` (text; encode as UTF-8). Finance gets the accounts
    whole (the bank needs them); anyone else (``whole_accounts=False``) masked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAYMENT_HEADER)
    # The treasury's own account (an institution's, not personal data): always whole.
    payer = [
        neutralise(batch.payer_name or ""),
        neutralise(batch.payer_bank_name or ""),
        neutralise(batch.payer_account_number or ""),
    ]
    for line in batch.lines:
        writer.writerow(
            [
                line.id,
                neutralise(line.provider_name),
                neutralise(line.bank_account_name),
                neutralise(line.bank_name),
                neutralise(
                    line.bank_account_number
                    if whole_accounts
                    else masking.bank_account(line.bank_account_number)
                ),
                yuan_text(line.amount_fen),
                line.amount_fen,
                line.reference,
                *payer,
            ]
        )
    return BOM + out.getvalue()


def payment_filename(batch: PayoutBatch) -> str:
    """``payout-PB00000012.csv``, or with the paying treasury's division code
    (``payout-PB00000012-530000.csv``) so two treasuries' files are told apart."""
    treasury = f"-{batch.funder.region_code}" if batch.funder is not None else ""
    return f"payout-{batch.reference}{treasury}.csv"


def confirmation_template(batch: PayoutBatch, value_date: date) -> str:
    """A confirmation file for ``batch`` to complete from the bank's statement: one row per
    line still awaiting the bank, marked paid on ``value_date``, the bank transaction id left
    blank (it must come from the bank). Change a row to ``failed`` with a reason where the
    bank refused it. The import reads it as it reads any confirmation."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CONFIRMATION_COLUMNS)
    for line in batch.lines:
        if line.status is PayoutLineStatus.PENDING:
            writer.writerow(
                [
                    line.id,
                    line.reference,
                    PayoutLineStatus.PAID.value,
                    "",
                    value_date.isoformat(),
                    "",
                ]
            )
    return BOM + out.getvalue()


def confirmation_template_filename(batch: PayoutBatch) -> str:
    return f"confirmation-{batch.reference}.csv"


@dataclass(frozen=True, slots=True)
class ConfirmationRow:
    """One bank confirmation, as read from a file or a JSON body (``row`` counts from 1)."""

    row: int
    line_id: int | None
    reference: str | None
    status: PayoutLineStatus
    bank_transaction_id: str | None
    value_date: date
    reason: str | None

    def same_outcome(self, other: ConfirmationRow) -> bool:
        return (self.status, self.bank_transaction_id, self.value_date) == (
            other.status,
            other.bank_transaction_id,
            other.value_date,
        )


def _parse_row(row: int, raw: Mapping[str, Any]) -> tuple[ConfirmationRow | None, list[str]]:
    problems: list[str] = []

    def text(name: str) -> str:
        value = raw.get(name)
        return "" if value is None else str(value).strip()

    line_id: int | None = None
    line_text = text("line_id")
    if line_text:
        line_id = ascii_int(line_text) or None
        if line_id is None:
            problems.append(f"line_id 不是有效编号 / line_id is not a valid id: {line_text!r}")
    reference = text("reference").upper() or None
    if reference is not None and not _REFERENCE.match(reference):
        problems.append(
            f"reference 格式不正确 / reference is not a payment reference: {reference!r}"
        )
    if line_id is None and reference is None and not line_text:
        problems.append("缺少 line_id 或 reference / line_id or reference is required")
    status_text = text("status").lower()
    status = {"paid": PayoutLineStatus.PAID, "failed": PayoutLineStatus.FAILED}.get(status_text)
    if status is None:
        problems.append(
            f"status 必须是 paid 或 failed / status must be paid or failed: {status_text!r}"
        )
    transaction = text("bank_transaction_id") or None
    if transaction is not None and not _TRANSACTION.match(transaction):
        problems.append(
            "银行流水号只能包含字母、数字和 . _ : / -，最长 100 位 / bank_transaction_id: letters, "
            "digits and . _ : / - only, at most 100 characters"
        )
    if status is PayoutLineStatus.PAID and transaction is None:
        problems.append("已到账的行必须有银行流水号 / a paid row needs its bank_transaction_id")
    value_date: date | None = None
    match = _DATE.match(text("date"))
    if match:
        try:
            value_date = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            value_date = None
    if value_date is None:
        problems.append(f"date 必须是 YYYY-MM-DD / date must be YYYY-MM-DD: {text('date')!r}")
    reason = text("reason").replace("\x00", "")[:MAX_REASON] or None
    if problems or status is None or value_date is None:
        return None, problems
    return (
        ConfirmationRow(row, line_id, reference, status, transaction, value_date, reason),
        [],
    )


def _read_rows(items: Iterable[Mapping[str, Any]], *, first_row: int) -> list[ConfirmationRow]:
    """Validate rows read from a file; ConfirmationInvalid lists every problem by row, under
    the field ``csv`` (the API's field holding the file)."""
    rows: list[ConfirmationRow] = []
    problems: list[str] = []
    for number, raw in enumerate(items, start=first_row):
        if number - first_row >= MAX_ROWS:
            problems.append(f"最多 {MAX_ROWS} 行 / at most {MAX_ROWS} rows")
            break
        parsed, row_problems = _parse_row(number, raw)
        problems.extend(f"row {number}: {problem}" for problem in row_problems)
        if parsed is not None:
            rows.append(parsed)
    if not rows and not problems:
        problems.append("没有确认数据 / the confirmation has no rows")
    if problems:
        raise ConfirmationInvalid(
            "银行回单无法读取 / the bank confirmation cannot be read", {"csv": problems}
        )
    return rows


def rows_from_json(
    paid: Sequence[Mapping[str, Any]], failed: Sequence[Mapping[str, Any]]
) -> list[ConfirmationRow]:
    """Rows from the API's JSON body, already validated by its schema (paid rows carry their
    bank transaction id; every row its line id and value date). Numbered in body order,
    paid rows first."""
    rows = [
        ConfirmationRow(
            number,
            int(item["line_id"]),
            None,
            PayoutLineStatus.PAID,
            str(item["bank_transaction_id"]),
            item["date"],
            None,
        )
        for number, item in enumerate(paid, start=1)
    ]
    rows += [
        ConfirmationRow(
            number,
            int(item["line_id"]),
            None,
            PayoutLineStatus.FAILED,
            item.get("bank_transaction_id"),
            item["date"],
            (item.get("reason") or "").replace("\x00", "")[:MAX_REASON] or None,
        )
        for number, item in enumerate(failed, start=len(rows) + 1)
    ]
    return rows


def parse_confirmation_csv(content: str | bytes) -> list[ConfirmationRow]:
    """Read a confirmation CSV (see the module docstring); ConfirmationInvalid otherwise."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfirmationInvalid(
                "银行回单必须是 UTF-8 编码的 CSV / the confirmation must be a UTF-8 CSV file",
                {"csv": ["not UTF-8"]},
            ) from None
    text = content.removeprefix(BOM)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip().lower() for h in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in ("status", "date") if c not in header]
        if not ({"line_id", "reference"} & set(header)):
            missing.append("line_id/reference")
        if missing:
            raise ConfirmationInvalid(
                "银行回单缺少必需的列 / the confirmation lacks required columns",
                {"csv": [f"header: missing columns {', '.join(missing)}"]},
            )
        raw_rows: Sequence[Mapping[str, Any]] = [
            r for r in reader if any((v or "").strip() for k, v in r.items() if k is not None)
        ]
    except csv.Error as exc:
        raise ConfirmationInvalid(
            "银行回单不是有效的 CSV / the confirmation is not valid CSV", {"csv": [str(exc)]}
        ) from None
    # Row numbers as a person sees them in the file: the header is row 1.
    return _read_rows(raw_rows, first_row=2)
