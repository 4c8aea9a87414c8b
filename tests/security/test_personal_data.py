"""Personal data shown only to who needs it (issue 12, point 6): bank accounts, phones and
e-mails are masked for every role on the pages and in the API; finance sees a provider's whole
account on the payout screens and in the bank file only; anyone else entitled reveals one field
with a reason after a fresh second factor, and every reveal and every export of personal data
is in the audit trail. Identity numbers are stored masked (and as a keyed hash) only."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from marketplace import masking
from marketplace.api.endpoint import STEP_UP_HEADER
from marketplace.audit.models import AuditEvent
from marketplace.auth import sessions
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.web import vocabulary
from providers.models import BankAccountChange
from tests.support.fixtures import AuthActions, second_factor_code

PHONE = "13987654321"
EMAIL = "zhang.wei@dianchi-tech.cn"
ACCOUNT = "6228480012345670001"
PROVIDER_ACCOUNT = "6222020012345678901"
NEW_ACCOUNT = "6217000012345678123"


@pytest.fixture
def people(session, create_enterprise, create_provider):
    enterprise = create_enterprise(
        contact_phone=PHONE, contact_email=EMAIL, bank_account_number=ACCOUNT
    )
    provider = create_provider(
        contact_phone=PHONE,
        contact_email=EMAIL,
        bank_account_name="昆明检测中心",
        bank_name="中国银行昆明分行",
        bank_account_number=PROVIDER_ACCOUNT,
    )
    change = BankAccountChange(
        provider_id=provider.id,
        bank_account_name="昆明检测中心",
        bank_name="中国建设银行",
        bank_account_number=NEW_ACCOUNT,
    )
    session.add(change)
    session.flush()
    return enterprise, provider, change


def _events(session, action):
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


WHOLE = (PHONE, EMAIL, ACCOUNT, PROVIDER_ACCOUNT, NEW_ACCOUNT)


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES, key=lambda r: r.value))
def test_pages_show_personal_data_masked_to_every_role(
    make_app, session, create_user, people, role
):
    enterprise, provider, change = people
    client = make_app().test_client()
    AuthActions(client, session).login(create_user(role))
    for path in (f"/admin/enterprises/{enterprise.id}", f"/admin/providers/{provider.id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert not [v for v in WHOLE if v in page.text], path
        assert masking.phone(PHONE) in page.text and masking.email(EMAIL) in page.text
    detail = client.get(f"/admin/providers/{provider.id}").text
    assert masking.bank_account(PROVIDER_ACCOUNT) in detail
    assert masking.bank_account(NEW_ACCOUNT) in detail
    reveal_link = f'data-testid="reveal-provider_bank_change-{change.id}-bank_account_number"'
    # Who may reveal sees the link; the auditor reads only, masked like everyone else.
    assert (reveal_link in detail) is (role is not Role.AUDITOR)


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES, key=lambda r: r.value))
def test_api_answers_show_personal_data_masked_to_every_role(
    client, api_token, create_user, people, role
):
    enterprise, provider, _change = people
    headers = api_token(create_user(role))
    texts = [
        client.get(path, headers=headers).get_data(as_text=True)
        for path in (
            f"/api/v1/enterprises/{enterprise.id}",
            "/api/v1/enterprises",
            f"/api/v1/admin/providers/{provider.id}",
            "/api/v1/admin/providers",
            "/api/v1/admin/bank-changes",
        )
    ]
    assert all(text.startswith(("{", "[")) for text in texts)
    assert not [v for v in WHOLE for text in texts if v in text]
    assert masking.bank_account(NEW_ACCOUNT) in texts[4]


def test_organisations_see_their_own_data_masked_too(client, api_token, create_user, people, auth):
    enterprise, provider, _change = people
    own = client.get("/api/v1/me/enterprise", headers=api_token(create_user(enterprise=enterprise)))
    assert own.get_json()["contact_phone"] == masking.phone(PHONE)
    seller = create_user(Role.PROVIDER, provider=provider)
    file = client.get("/api/v1/provider/application", headers=api_token(seller)).get_json()
    assert file["bank_account_number"] == masking.bank_account(PROVIDER_ACCOUNT)
    assert file["pending_bank_change"]["bank_account_number"] == masking.bank_account(NEW_ACCOUNT)


def test_the_openapi_document_says_which_fields_are_masked(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "masked" in schemas["EnterpriseOut"]["properties"]["contact_phone"]["description"]
    assert "masked" in schemas["BankChangeOut"]["properties"]["bank_account_number"]["description"]


# --------------------------------------------------------------------- the payout screens


@pytest.fixture
def batch(settlement_world, session):
    claim = settlement_world.approved_claim(settlement_world.order())
    batch = settlement_world.batch([line.id for line in claim.lines])
    session.flush()
    return batch


def _account_of(batch):
    return batch.lines[0].bank_account_number


def test_finance_sees_whole_accounts_on_the_payout_screens_only(
    make_app, session, settlement_world, batch, create_user, api_token
):
    account = _account_of(batch)
    assert account and len(account) > 8
    finance, auditor = settlement_world.finance, create_user(Role.AUDITOR)
    app = make_app()
    for person, whole in ((finance, True), (auditor, False)):
        client = app.test_client()
        AuthActions(client, session).login(person)
        page = client.get(f"/admin/settlement/payouts/{batch.id}").text
        assert (account in page) is whole
        assert masking.bank_account(account) in page or whole
        bank_file = client.get(f"/admin/settlement/payouts/{batch.id}/payment-file.csv").text
        assert (account in bank_file) is whole
        headers = api_token(person)
        line = client.get(f"/api/v1/payout-batches/{batch.id}", headers=headers).json["lines"][0]
        assert (line["bank_account_number"] == account) is whole
        api_file = client.get(f"/api/v1/payout-batches/{batch.id}/payment-file", headers=headers)
        assert (account in api_file.json["content"]) is whole
    # … and nowhere else: the provider's page shows finance the same masked account.
    client = app.test_client()
    AuthActions(client, session).login(finance)
    provider_page = client.get(f"/admin/providers/{batch.lines[0].provider_id}").text
    assert account not in provider_page
    exported = _events(session, "personal_data.exported")
    assert len(exported) == 4  # each download of the bank file, by whom, of which batch
    assert {(e.actor_id, e.subject_type, e.subject_id) for e in exported} == {
        (finance.id, "payout_batch", batch.id),
        (auditor.id, "payout_batch", batch.id),
    }


# --------------------------------------------------------------------- revealing a field


def test_a_reveal_on_the_page_needs_a_fresh_factor_and_a_reason_and_is_recorded(
    client, auth, session, create_user, people
):
    enterprise, _provider, _change = people
    reviewer = create_user(Role.REVIEWER)
    auth.login(reviewer)
    path = f"/admin/personal-data/enterprise/{enterprise.id}/contact_phone"
    with client.session_transaction() as stored:
        stored[sessions.SECOND_FACTOR_AT] = int(time.time()) - 301
    stale = client.get(path)
    assert stale.status_code == 302 and "/account/confirm" in stale.headers["Location"]
    assert client.post(path, data={"reason": "核对联系人"}).status_code == 302
    assert _events(session, "personal_data.revealed") == []
    auth.confirm(reviewer)
    form = client.get(path)
    assert form.status_code == 200 and PHONE not in form.text
    assert masking.phone(PHONE) in form.text
    no_reason = client.post(path, data={"reason": ""})
    assert no_reason.status_code == 400 and PHONE not in no_reason.text
    shown = client.post(path, data={"reason": "核对联系人电话以便回访"})
    assert shown.status_code == 200 and PHONE in shown.text
    [event] = _events(session, "personal_data.revealed")
    assert (event.actor_id, event.subject_type, event.subject_id) == (
        reviewer.id,
        "enterprise",
        enterprise.id,
    )
    assert event.detail["field"] == "contact_phone"
    assert event.detail["reason"] == "核对联系人电话以便回访"
    assert PHONE not in str(event.detail)  # the trail records that it was seen, not the value
    assert vocabulary.audit_action("personal_data.revealed") == "查看完整个人信息（已说明理由）"


def test_unknown_fields_and_records_are_not_found(client, auth, create_user, people):
    enterprise, _provider, _change = people
    auth.login(create_user(Role.SYSADMIN))
    for path in (
        f"/admin/personal-data/enterprise/{enterprise.id}/credit_code",
        f"/admin/personal-data/enterprise/{enterprise.id + 1000}/contact_phone",
        f"/admin/personal-data/orders/{enterprise.id}/contact_phone",
    ):
        assert client.get(path).status_code == 404, path


def test_auditors_do_not_reveal(client, auth, create_user, people):
    enterprise, _provider, _change = people
    auth.login(create_user(Role.AUDITOR))
    path = f"/admin/personal-data/enterprise/{enterprise.id}/contact_phone"
    assert client.get(path).status_code == 403


def test_a_reveal_through_the_api(client, session, api_token, create_user, people):
    _enterprise, provider, change = people
    finance = create_user(Role.FINANCE)
    headers = api_token(finance)
    body = {
        "subject_type": "provider_bank_change",
        "subject_id": change.id,
        "field": "bank_account_number",
        "reason": "审核变更前核对开户证明",
    }
    refused = client.post("/api/v1/personal-data/reveal", json=body, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (403, "step_up_required")
    code = {STEP_UP_HEADER: second_factor_code(session, finance)}
    shown = client.post("/api/v1/personal-data/reveal", json=body, headers={**headers, **code})
    assert shown.status_code == 200
    assert shown.json["value"] == NEW_ACCOUNT
    assert shown.json["masked"] == masking.bank_account(NEW_ACCOUNT)
    [event] = _events(session, "personal_data.revealed")
    assert event.detail == {"field": "bank_account_number", "reason": body["reason"]}
    code = {STEP_UP_HEADER: second_factor_code(session, finance)}
    short = client.post(
        "/api/v1/personal-data/reveal", json={**body, "reason": "x"}, headers={**headers, **code}
    )
    assert short.status_code == 422
    code = {STEP_UP_HEADER: second_factor_code(session, finance)}
    missing = client.post(
        "/api/v1/personal-data/reveal",
        json={**body, "subject_type": "provider", "subject_id": provider.id + 1000},
        headers={**headers, **code},
    )
    assert missing.status_code == 404
    auditor = client.post(
        "/api/v1/personal-data/reveal", json=body, headers=api_token(create_user(Role.AUDITOR))
    )
    assert (auditor.status_code, auditor.json["code"]) == (403, "forbidden")


def test_downloading_the_audit_trail_is_recorded(client, auth, session, create_user):
    """The trail's file holds every event's client address: each download is recorded."""
    auditor = create_user(Role.AUDITOR)
    auth.login(auditor)
    for suffix in ("csv", "xlsx"):
        assert client.get(f"/admin/audit.{suffix}").status_code == 200
    exported = _events(session, "personal_data.exported")
    assert [(e.actor_id, e.subject_type, e.detail["export"]) for e in exported] == [
        (auditor.id, "audit_trail", "audit_trail.csv"),
        (auditor.id, "audit_trail", "audit_trail.xlsx"),
    ]
