"""The bank files: the payment file we write and the confirmation file we read."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from marketplace.settlement import payout_files
from marketplace.settlement.enums import PayoutLineStatus
from marketplace.settlement.errors import ConfirmationInvalid
from marketplace.settlement.models import PayoutBatch, PayoutLine
from vouchers.funder_models import Funder


def _batch() -> PayoutBatch:
    batch = PayoutBatch(id=7, total_fen=350_005, line_count=2)
    batch.lines = [
        PayoutLine(
            id=12,
            provider_id=1,
            provider_name="昆明检测中心",
            bank_account_name="昆明检测中心",
            bank_name="中国银行昆明分行",
            bank_account_number="6216610100001234567",
            amount_fen=150_000,
        ),
        PayoutLine(
            id=13,
            provider_id=2,
            provider_name='=HYPERLINK("http://x")',
            bank_account_name="+cmd",
            bank_name="@bank",
            bank_account_number="-0042",
            amount_fen=200_005,
        ),
    ]
    return batch


def test_payment_file_has_one_row_per_provider_with_yuan_and_fen():
    text = payout_files.payment_file(_batch())
    assert text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == list(payout_files.PAYMENT_HEADER)
    assert rows[1] == [
        "12",
        "昆明检测中心",
        "昆明检测中心",
        "中国银行昆明分行",
        "6216610100001234567",
        "1500.00",
        "150000",
        "VMPAY00000012",
        # A programme's own budget pays: no treasury account to name.
        "",
        "",
        "",
    ]
    assert rows[2][5:8] == ["2000.05", "200005", "VMPAY00000013"]
    assert len(rows) == 3
    assert payout_files.payment_filename(_batch()) == "payout-PB00000007.csv"


def test_a_treasury_s_payment_file_names_the_account_it_pays_from():
    batch = _batch()
    batch.funder = Funder(id=3, name="曲靖市财政局", region_code="530300")
    batch.payer_name, batch.payer_bank_name = (
        "=曲靖市财政局国库存款户",
        "中国人民银行曲靖市中心支行",
    )
    batch.payer_account_number = "530053030001"
    rows = list(
        csv.DictReader(io.StringIO(payout_files.payment_file(batch).removeprefix("\ufeff")))
    )
    assert {(r["payer_name"], r["payer_bank_name"], r["payer_account_number"]) for r in rows} == {
        ("'=曲靖市财政局国库存款户", "中国人民银行曲靖市中心支行", "530053030001")
    }
    # Whole for everyone: an institution's account, not personal data.
    masked = payout_files.payment_file(batch, whole_accounts=False)
    assert "530053030001" in masked and "6216610100001234567" not in masked
    assert payout_files.payment_filename(batch) == "payout-PB00000007-530300.csv"


def test_payment_file_defuses_spreadsheet_formulas():
    rows = list(csv.reader(io.StringIO(payout_files.payment_file(_batch()).removeprefix("\ufeff"))))
    assert rows[2][1:5] == ['\'=HYPERLINK("http://x")', "'+cmd", "'@bank", "'-0042"]


def test_confirmation_reads_bom_header_case_and_both_date_forms():
    content = (
        "\ufeffLine_ID, Reference ,STATUS,bank_transaction_id,date,reason\r\n"
        "12,VMPAY00000012,PAID,B-1,2026-07-01,\r\n"
        ",vmpay00000013,failed,,20260702,账户已销户\r\n"
        ",,,,,\r\n"
    ).encode()
    rows = payout_files.parse_confirmation_csv(content)
    assert [(r.row, r.line_id, r.reference, r.status) for r in rows] == [
        (2, 12, "VMPAY00000012", PayoutLineStatus.PAID),
        (3, None, "VMPAY00000013", PayoutLineStatus.FAILED),
    ]
    assert rows[0].bank_transaction_id == "B-1" and rows[0].value_date == date(2026, 7, 1)
    assert rows[1].bank_transaction_id is None and rows[1].reason == "账户已销户"
    assert rows[1].value_date == date(2026, 7, 2)


def test_every_bad_row_is_reported_and_nothing_is_returned():
    content = (
        "line_id,status,bank_transaction_id,date\n"
        "12,paid,,2026-07-01\n"
        "x,lost,B 2,2026-02-30\n"
        "14,failed,,2026-07-01\n"
    )
    with pytest.raises(ConfirmationInvalid) as caught:
        payout_files.parse_confirmation_csv(content)
    problems = caught.value.errors["csv"]
    assert [p.split(":")[0] for p in problems] == ["row 2"] + ["row 3"] * 4
    assert "bank_transaction_id" in problems[0]
    assert set(caught.value.errors) == {"csv"}


def test_json_rows_keep_their_order_and_outcome():
    rows = payout_files.rows_from_json(
        [{"line_id": 3, "bank_transaction_id": "T-1", "date": date(2026, 7, 1)}],
        [
            {
                "line_id": 4,
                "date": date(2026, 7, 2),
                "reason": "销户\x00",
                "bank_transaction_id": None,
            }
        ],
    )
    assert [(r.row, r.line_id, r.status, r.bank_transaction_id) for r in rows] == [
        (1, 3, PayoutLineStatus.PAID, "T-1"),
        (2, 4, PayoutLineStatus.FAILED, None),
    ]
    assert rows[1].reason == "销户" and rows[1].value_date == date(2026, 7, 2)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not utf-8",
        "status,date\npaid,2026-07-01\n",  # neither line_id nor reference
        "line_id,reference,status,bank_transaction_id,date\n",  # no rows
        'line_id,status,date\n"12,paid,2026-07-01\n',  # unterminated quote
    ],
)
def test_unreadable_files_are_refused(content):
    with pytest.raises(ConfirmationInvalid):
        payout_files.parse_confirmation_csv(content)
