"""Numbers typed into forms, headers and bank files are read as ASCII digits only.

``"²".isdigit()`` and ``"٣".isdigit()`` are true, but ``int("²")`` raises and ``int("٣")`` is
3: every version field, If-Match header and line id goes through ``marketplace.parsing``, so
such input is refused with a 4xx and changes nothing — never a 500, never a silent match.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.parsing import NO_SUCH_VERSION, ascii_int, form_version
from marketplace.payments.enums import PaymentStatus
from marketplace.settlement import payout_files
from marketplace.settlement.enums import ClaimAction, ClaimLineStatus, PayoutBatchStatus
from marketplace.settlement.errors import ConfirmationInvalid
from providers.enums import ProviderStatus
from tests.support.settlement_fixtures import set_bank_account
from tests.web.vouchers.test_admin_pages import _programme_form
from vouchers.models import Enterprise, Programme

UNICODE_DIGITS = ["²", "٣"]
#: Header values travel as Latin-1: superscripts are the Unicode digits a header can carry.
HEADER_DIGITS = ["²", "³"]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", 7),
        (" 42 ", 42),
        ("007", 7),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),
        ("²", None),
        ("٣", None),
        ("１２", None),  # full-width
        ("-1", None),
        ("+1", None),
        ("1 2", None),
        ("1.0", None),
        ("", None),
        (None, None),
    ],
)
def test_ascii_int(raw, expected):
    assert ascii_int(raw) == expected


def test_form_version_refuses_rather_than_skips():
    assert form_version(None) is None and form_version("  ") is None
    assert form_version("3") == 3
    assert form_version("٣") == NO_SUCH_VERSION == form_version("²")


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_bank_confirmation_line_ids_must_be_ascii(digit):
    text = f"line_id,status,bank_transaction_id,date\r\n{digit},paid,T1,2026-07-01\r\n"
    with pytest.raises(ConfirmationInvalid) as caught:
        payout_files.parse_confirmation_csv(text)
    assert "line_id" in str(caught.value.errors)


# --------------------------------------------------------------------------- API headers


@pytest.mark.parametrize("digit", HEADER_DIGITS)
def test_payment_if_match_with_unicode_digits_is_400(
    client, session, api_token, finance, create_payment, digit
):
    payment = create_payment(amount_fen=50_000)
    response = client.post(
        f"/api/v1/payments/{payment.id}/offline-receipt",
        json={"bank_reference": "R-1", "amount_fen": 50_000},
        headers={**api_token(finance), **_key(), "If-Match": f'"{digit}"'},
    )
    assert response.status_code == 400 and response.json["code"] == "invalid_if_match"
    session.expire_all()
    assert payment.status is PaymentStatus.PENDING


@pytest.mark.parametrize("digit", HEADER_DIGITS)
def test_settlement_if_match_with_unicode_digits_is_400(
    client, session, api_token, settlement_world, digit
):
    w = settlement_world
    claim = w.claim(w.recent_order(), now=utcnow())
    response = client.post(
        f"/api/v1/claims/{claim.id}/review/approve",
        json={},
        headers={**api_token(w.reviewer), "If-Match": digit},
    )
    assert response.status_code == 400 and response.json["code"] == "invalid_if_match"
    session.expire_all()
    assert {line.status for line in claim.lines} == {ClaimLineStatus.PENDING_REVIEW}


# --------------------------------------------------------------------------- form versions


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_payment_forms_refuse_unicode_versions(
    client, auth, session, finance, create_payment, digit
):
    payment = create_payment(amount_fen=50_000)
    auth.login(finance)
    response = client.post(
        f"/admin/payments/{payment.id}/receipt",
        data={"bank_reference": "ICBC-1", "amount": "500.00", "version": digit},
    )
    assert response.status_code == 412
    session.expire_all()
    assert payment.status is PaymentStatus.PENDING


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_claim_and_payout_forms_refuse_unicode_versions(
    client, auth, session, settlement_world, digit
):
    w = settlement_world
    order = w.recent_order()
    claim = w.claim(order, now=utcnow())
    auth.login(w.reviewer)
    review = client.post(
        f"/admin/settlement/claims/{claim.id}/review",
        data={"decision": "approve", "version": digit},
    )
    assert review.status_code == 412
    session.expire_all()
    assert claim.lines[0].status is ClaimLineStatus.PENDING_REVIEW

    # The provider resubmits lines sent back for changes.
    w.review(claim, ClaimAction.REQUEST_CHANGES, reason="请补充验收单", now=utcnow())
    auth.logout()
    auth.login(w.seller(order))
    resubmit = client.post(f"/settlement/claims/{claim.id}/resubmit", data={"version": digit})
    assert resubmit.status_code == 412
    session.expire_all()
    assert claim.lines[0].status is ClaimLineStatus.CHANGES_REQUESTED

    # Finance marks a payout batch as sent.
    other = w.recent_order()
    approved = w.claim(other, now=utcnow())
    w.review(approved, now=utcnow())
    w.finance_decide(approved, now=utcnow())
    set_bank_account(other.provider)
    session.flush()
    batch = w.batch()
    auth.logout()
    auth.login(w.finance)
    sent = client.post(f"/admin/settlement/payouts/{batch.id}/sent", data={"version": digit})
    assert sent.status_code == 412
    session.expire_all()
    assert batch.status is PayoutBatchStatus.DRAFT


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_programme_and_enterprise_forms_refuse_unicode_versions(
    client, auth, session, create_user, digit
):
    auth.login(create_user(Role.SYSADMIN))
    assert client.post("/admin/programmes/new", data=_programme_form()).status_code == 302
    programme = session.scalars(sa.select(Programme)).one()
    edit = client.post(
        f"/admin/programmes/{programme.id}/edit",
        data=_programme_form(name="改名", version=digit),
    )
    assert edit.status_code == 412
    session.expire_all()
    assert session.get(Programme, programme.id).name != "改名"
    auth.logout()

    sme = create_user(Role.ENTERPRISE)
    auth.login(sme)
    profile = client.post(
        "/enterprise/profile",
        data={
            "contact_name": "新联系人",
            "contact_phone": "0871-12345678",
            "contact_email": "new@example.cn",
            "industry": "新材料",
            "version": digit,
        },
    )
    assert profile.status_code == 412
    session.expire_all()
    assert session.get(Enterprise, sme.enterprise_id).contact_name != "新联系人"


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_provider_file_form_refuses_unicode_versions(
    client, auth, session, create_user, create_provider, digit
):
    provider = create_provider(status=ProviderStatus.PENDING)
    auth.login(create_user(Role.PROVIDER, provider=provider))
    response = client.post(
        "/provider/application",
        data={
            "contact_name": "新联系人",
            "contact_phone": "0871-65550000",
            "contact_email": "lab@example.cn",
            "version": digit,
        },
    )
    assert response.status_code == 412
    session.expire_all()
    assert provider.contact_name != "新联系人"
