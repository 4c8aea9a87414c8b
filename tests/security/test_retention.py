"""Retention: ``flask accounts retention --years N`` anonymises the personal data of accounts
closed longer than N years (default from RETENTION_YEARS), and the contacts of organisations
with nobody left; the records they took part in keep pointing at them, and the audit trail's
integrity check still passes afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.auth.models import ApiToken, User
from marketplace.auth.services import close_account, create_api_token, user_for_token
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.parties.models import PartyAttribute
from marketplace.settlement.ledger_checks import verify_books
from tests.support.fixtures import PASSWORD

YEAR = timedelta(days=366)


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=["accounts", "retention", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def closed(session, app, create_user, create_enterprise):
    """An enterprise with two people: one closed four years ago, one closed last year."""
    enterprise = create_enterprise(contact_phone="13987654321", bank_account_number="62284800")
    old = create_user(Role.ENTERPRISE, enterprise=enterprise, second_factor=True)
    recent = create_user(Role.ENTERPRISE, enterprise=enterprise)
    with app.app_context():  # only while closing: each command below runs in its own app
        _t, token = create_api_token(session, old, name="erp")
        close_account(session, old, actor_id=None)
        close_account(session, recent, actor_id=None)
    old.closed_at = utcnow() - 4 * YEAR
    recent.closed_at = utcnow() - YEAR
    session.add(
        PartyAttribute(
            party_kind="enterprise",
            party_id=enterprise.id,
            kind="phone",
            value="13987654321",
            evidence="contact_phone",
        )
    )
    session.flush()
    return enterprise, old, recent, token


def test_accounts_closed_longer_than_the_period_are_anonymised(app, session, closed, client):
    enterprise, old, recent, token = closed
    email, name = old.email, old.display_name
    chain.seal(session)
    output = _run(app, "--years", "3")
    assert "anonymised 1 account(s), 0 enterprise(s)" in output
    session.expire_all()
    assert old.anonymised_at is not None and old.email != email and name not in old.display_name
    assert old.totp_secret is None and not old.is_active
    assert user_for_token(session, token) is None
    assert session.scalar(sa.select(ApiToken.revoked_at).where(ApiToken.user_id == old.id))
    # The one still inside the period is untouched, and so is the organisation it belongs to.
    assert recent.anonymised_at is None and recent.email.startswith("enterprise")
    assert enterprise.contact_phone == "13987654321"
    # Nobody can sign in as the anonymised account, with the old address or the new one.
    for address in (email, old.email):
        response = client.post("/login", data={"email": address, "password": PASSWORD})
        assert response.status_code != 302 or "/login" in response.headers["Location"]
    # The records keep their references; the trail's integrity check passes afterwards.
    assert session.get(User, old.id) is not None
    chain.seal(session)
    report = chain.verify(session)
    assert report.ok, report.problems
    assert verify_books(session).ok
    [event] = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "user.anonymised", AuditEvent.subject_id == old.id
        )
    )
    assert event.actor_id is None


def test_the_organisation_is_anonymised_when_nobody_is_left(app, session, closed):
    enterprise, _old, recent, _token = closed
    _run(app, "--years", "1")
    session.expire_all()
    assert recent.anonymised_at is not None
    assert enterprise.contact_phone == "00000000000"
    assert enterprise.bank_account_number is None and enterprise.legal_rep_name is None
    assert "13987654321" not in enterprise.contact_email
    assert enterprise.credit_code  # public registry data stays: disclosure and the ledger need it
    attributes = session.scalars(
        sa.select(PartyAttribute).where(PartyAttribute.party_id == enterprise.id)
    )
    assert not [a for a in attributes if a.party_kind.value == "enterprise"]
    chain.seal(session)
    assert chain.verify(session).ok
    assert "anonymised 0 account(s)" in _run(app, "--years", "1")  # once only


def test_the_default_period_comes_from_the_settings(make_app, session, closed):
    _enterprise, old, recent, _token = closed
    output = _run(make_app(RETENTION_YEARS="5"))
    assert "anonymised 0 account(s)" in output and "5 year(s)" in output
    output = _run(make_app(RETENTION_YEARS="2"))
    assert "anonymised 1 account(s)" in output
    session.expire_all()
    assert old.anonymised_at is not None and recent.anonymised_at is None


def test_closing_an_account_by_command(app, session, create_user):
    user = create_user(Role.PROVIDER)
    result = app.test_cli_runner().invoke(args=["users", "close", "--email", user.email])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert user.closed_at is not None and not user.is_active
    again = app.test_cli_runner().invoke(args=["users", "close", "--email", user.email])
    assert again.exit_code != 0
