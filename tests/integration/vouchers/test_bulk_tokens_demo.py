"""Bulk issuance from CSV, verification tokens, and the demo seed."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
import sqlalchemy as sa

from marketplace.demo import DEMO_FUNDERS, seed
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import applications, expiry, funders, holds, issuance, tokens
from vouchers.enums import (
    ApplicationSource,
    ApplicationStatus,
    ProgrammeKind,
    VerificationStatus,
)
from vouchers.errors import CsvInvalid, VoucherTokenInvalid
from vouchers.models import Application, IssuanceBatch, Programme, Voucher
from vouchers.verify import verify_ledger

SECRET = "test-secret-key-with-enough-length-0123456789"


def _issue(session, programme, data: bytes):
    rows = issuance.parse_csv(data)
    return issuance.issue_in_bulk(
        session,
        programme.id,
        rows,
        filename="batch.csv",
        digest=hashlib.sha256(data).hexdigest(),
        actor_id=None,
        now=VOUCHER_NOW,
    )


def test_csv_rows_are_issued_or_refused_one_by_one(session, funded_programme, create_enterprise):
    programme = funded_programme(total_budget_fen=1_500_000)
    ok = create_enterprise()
    pending = create_enterprise(verification_status=VerificationStatus.PENDING)
    over_budget = create_enterprise()
    data = (
        "credit_code,amount_yuan,note\n"
        f"{ok.credit_code.lower()},10000.50,首批\n"
        f"{pending.credit_code},1000,\n"
        f"{over_budget.credit_code},6000,\n"
        "not-a-code,1000,\n"
        f"{create_enterprise().credit_code},12.345,\n"
        f"{create_enterprise().credit_code},0,\n"
        "91530102MA6T00002X,1000,\n"
        "\n"
    ).encode()
    batch, replayed = _issue(session, programme, data)
    assert not replayed
    outcomes = [(r["line"], r["outcome"], r["code"]) for r in batch.report]
    assert outcomes == [
        (2, "issued", None),
        (3, "refused", "enterprise_unverified"),
        (4, "refused", "budget_exceeded"),
        (5, "refused", "credit_code_invalid"),
        (6, "refused", "amount_invalid"),
        (7, "refused", "amount_invalid"),
        (8, "refused", "credit_code_invalid"),
    ]
    assert (batch.issued_count, batch.refused_count, batch.issued_fen) == (1, 6, 1_000_050)
    voucher = session.scalars(sa.select(Voucher)).one()
    application = session.get(Application, voucher.application_id)
    assert (application.source, application.status, application.approved_fen) == (
        ApplicationSource.BULK,
        ApplicationStatus.APPROVED,
        1_000_050,
    )
    assert [e.action.value for e in application.events] == ["bulk_issue"]
    again, replayed = _issue(session, programme, data)
    assert replayed and again.id == batch.id
    assert session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 1
    assert verify_ledger(session).ok


def test_an_enterprise_is_not_issued_twice_across_batches(
    session, funded_programme, create_enterprise
):
    programme, enterprise = funded_programme(), create_enterprise()
    _issue(session, programme, f"credit_code,amount_yuan\n{enterprise.credit_code},100\n".encode())
    second, _ = _issue(
        session, programme, f"credit_code,amount_yuan\n{enterprise.credit_code},200\n".encode()
    )
    assert second.report[0]["code"] == "application_exists"


def test_gb18030_files_are_read(session, funded_programme, create_enterprise):
    enterprise = create_enterprise()
    data = f"credit_code,amount_yuan,note\n{enterprise.credit_code},100,第一批发放\n".encode(
        "gb18030"
    )
    batch, _ = _issue(session, funded_programme(), data)
    assert batch.issued_count == 1
    assert session.scalars(sa.select(Application)).one().plan == "第一批发放"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b"name,amount\nx,1\n",
        b"credit_code,amount_yuan\n",
        b"\xff\xfe\x00\xd8",
        b"credit_code,amount_yuan\n91530102MA6T0000X0,1\x00\n",
    ],
)
def test_unreadable_files_are_refused(data):
    with pytest.raises(CsvInvalid):
        issuance.parse_csv(data)


def test_tokens_are_signed_and_say_what_a_voucher_can_cover(
    session, issue_voucher, place_hold, create_provider
):
    voucher = issue_voucher(amount_fen=1_000_000)
    token = tokens.verification_token(SECRET, voucher)
    assert token.count(".") == 1 and voucher.serial not in token  # signed payload, opaque
    checked = tokens.verify(session, SECRET, token, VOUCHER_NOW)
    assert (checked.genuine, checked.usable, checked.can_cover_fen) == (True, True, 1_000_000)
    hold = place_hold(voucher, requested_fen=400_000, price_fen=800_000)
    holds.capture_hold(session, hold, "c", VOUCHER_NOW, provider_id=create_provider().id)
    assert tokens.verify(session, SECRET, token, VOUCHER_NOW).can_cover_fen == 600_000
    for forged in (
        token + "x",
        tokens.verification_token("another-secret-key-of-enough-length-000", voucher),
        voucher.serial,
        "",
    ):
        with pytest.raises(VoucherTokenInvalid):
            tokens.verify(session, SECRET, forged, VOUCHER_NOW)
    voucher.token_nonce = "rotated"
    session.flush()
    with pytest.raises(VoucherTokenInvalid):
        tokens.verify(session, SECRET, token, VOUCHER_NOW)


def test_a_revoked_voucher_is_genuine_but_covers_nothing(session, issue_voucher):
    voucher = issue_voucher()
    token = tokens.verification_token(SECRET, voucher)
    expiry.revoke_voucher(session, voucher.id, reason="欺诈", actor_id=None, idempotency_key="r")
    checked = tokens.verify(session, SECRET, token, VOUCHER_NOW)
    assert (checked.genuine, checked.usable, checked.reason, checked.can_cover_fen) == (
        True,
        False,
        "voucher_revoked",
        0,
    )


def test_the_cap_limits_what_a_token_can_cover(
    session, create_enterprise, funded_programme, issue_voucher
):
    enterprise = create_enterprise()
    big = issue_voucher(enterprise, funded_programme(), amount_fen=2_500_000)
    other = issue_voucher(
        enterprise, funded_programme(kind=ProgrammeKind.SERVICE), amount_fen=500_000
    )
    holds.place_hold(session, big, "o", 2_500_000, 5_000_000, "k", VOUCHER_NOW)
    checked = tokens.verify(session, SECRET, tokens.verification_token(SECRET, other), VOUCHER_NOW)
    assert (checked.cap_remaining_fen, checked.can_cover_fen) == (500_000, 500_000)


def test_demo_seed_issues_vouchers_through_the_services_once(session):
    first = seed(session, today=date(2026, 6, 15))
    # Three in the two single-funder programmes, two in the co-funded one (issue 14, point 5).
    assert first.created["vouchers"] == 5 and first.created["applications"] == 6
    assert first.created["funders"] == 5 and first.created["programmes"] == 3
    again = seed(session, today=date(2026, 6, 15))
    assert "vouchers" not in again.created and "applications" not in again.created
    assert "funders" not in again.created and "programmes" not in again.created
    assert session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 5
    co_funded = session.scalars(sa.select(Programme).where(Programme.co_funded)).one()
    assert co_funded.year == 2027 and len(funders.shares_of(session, co_funded.id)) == 2
    assert {
        s.funder.region_code: s.budget_fen for s in funders.standings(session, co_funded.id)
    } == {code: budget for _, code, budget in DEMO_FUNDERS}
    pending = session.scalars(
        sa.select(Application).where(Application.status == ApplicationStatus.SUBMITTED)
    ).all()
    assert len(pending) == 1
    assert verify_ledger(session).ok
    assert session.scalar(sa.select(sa.func.count()).select_from(IssuanceBatch)) == 0
    assert applications.get_application(session, pending[0].id).requested_fen == 800_000
