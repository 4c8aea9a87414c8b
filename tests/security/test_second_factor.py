"""The second factor: mandatory for administrative roles (nothing but enrolment is reachable
until they enrol), optional for enterprises and providers; enrolment by QR code; a code works
once (replay refused); recovery codes work once; the actions that move money or reveal data
need a second factor from the last five minutes; an administrator's reset is recorded and told
to the person by e-mail."""

from __future__ import annotations

import time

import pyotp
import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.auth import second_factor as totp
from marketplace.auth import sessions
from marketplace.auth.models import RecoveryCode, User
from marketplace.db import utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import InvalidSecondFactor, ValidationFailed
from tests.conftest import rows
from tests.security.conftest import signed_in
from tests.support.fixtures import PASSWORD, AuthActions, second_factor_code


def _password_step(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES))
def test_administrators_reach_nothing_but_enrolment_until_enrolled(client, create_user, role):
    user = create_user(role, second_factor=False)
    assert _password_step(client, user) == "/account"  # the password alone signs in …
    for path in ("/account", "/admin/", "/orders/", "/account/password"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/second-factor", path
    page = client.get("/account/second-factor")
    assert page.status_code == 200 and "<svg" in page.text  # … to enrolment only
    assert "http" not in page.text.split('data-testid="totp-qr"')[1].split("</div>")[0].replace(
        "http://www.w3.org", ""
    )  # the QR code is drawn here, by no outside service


def test_enrolment_with_the_qr_secret_turns_the_factor_on(client, create_user, session):
    user = create_user(Role.FINANCE, second_factor=False)
    _password_step(client, user)
    client.get("/account/second-factor")
    with client.session_transaction() as stored:
        secret = stored["_2fa_enrolment_secret"]
    wrong = client.post("/account/second-factor", data={"code": "000000"})
    assert wrong.status_code == 401
    done = client.post("/account/second-factor", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = [c for c in done.text.split("<code>")[1:]]
    assert len(codes) == totp.RECOVERY_CODES
    session.refresh(user)
    assert user.has_second_factor and user.totp_secret == secret
    stored_hashes = {
        r.code_hash for r in rows(session, RecoveryCode, RecoveryCode.user_id == user.id)
    }
    assert all(c.split("<")[0] not in stored_hashes for c in codes)  # stored hashed only
    assert client.get("/admin/").status_code == 200


def test_enterprises_may_do_without_it(client, auth, create_user):
    auth.login(create_user(Role.ENTERPRISE))
    assert signed_in(client)
    assert "双重验证" in client.get("/account").text


def test_the_password_alone_does_not_sign_in_an_enrolled_account(client, create_user):
    user = create_user(Role.REVIEWER)
    assert _password_step(client, user).startswith("/login/second-factor")
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_a_code_is_accepted_once(app, client, create_user, session):
    user = create_user(Role.REVIEWER)
    step_url = _password_step(client, user)
    code = pyotp.TOTP(user.totp_secret).now()
    assert client.post(step_url, data={"code": code}).status_code == 302
    assert signed_in(client)
    # The same code, seen over the shoulder and typed in another browser, is refused.
    attacker = app.test_client()
    attacker_step = _password_step(attacker, user)
    replayed = attacker.post(attacker_step, data={"code": code})
    assert replayed.status_code == 401
    assert not signed_in(attacker)


def test_an_earlier_code_is_refused_after_a_later_one(session, create_user):
    user = create_user(Role.AUDITOR)
    now = utcnow()
    step = pyotp.TOTP(user.totp_secret).timecode(now)
    later = pyotp.TOTP(user.totp_secret).generate_otp(step + 1)
    earlier = pyotp.TOTP(user.totp_secret).generate_otp(step)
    assert totp.verify(session, user, later, now=now) == "totp"
    with pytest.raises(InvalidSecondFactor):
        totp.verify(session, user, earlier, now=now)


def test_recovery_codes_work_once(app_ctx, session, create_user):
    user = create_user(Role.FINANCE, second_factor=False)
    secret = totp.new_secret()
    codes = totp.enrol(session, user, secret, pyotp.TOTP(secret).now())
    assert totp.verify(session, user, codes[0].upper()) == "recovery"
    with pytest.raises(InvalidSecondFactor):
        totp.verify(session, user, codes[0])
    assert totp.recovery_codes_left(session, user) == totp.RECOVERY_CODES - 1
    with pytest.raises(InvalidSecondFactor):
        totp.verify(session, user, "not-a-code")


def test_a_tampered_enrolment_secret_is_refused(app_ctx, session, create_user):
    user = create_user(Role.FINANCE, second_factor=False)
    with pytest.raises(ValidationFailed):
        totp.enrol(session, user, "not base32 !!", "123456")


def test_a_pending_sign_in_expires(client, create_user):
    user = create_user(Role.REVIEWER)
    step_url = _password_step(client, user)
    with client.session_transaction() as stored:
        stored["_2fa_pending_since"] = int(time.time()) - 301
    response = client.post(step_url, data={"code": pyotp.TOTP(user.totp_secret).now()})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not signed_in(client)


STEP_UP_ACTIONS = [
    (Role.FINANCE, "/admin/settlement/claims/1/finance"),
    (Role.FINANCE, "/admin/settlement/payouts"),
    (Role.FINANCE, "/admin/settlement/payouts/1/sent"),
    (Role.FINANCE, "/admin/settlement/payouts/1/confirmation"),
    (Role.FINANCE, "/admin/providers/1/bank-changes/1/approve"),
    (Role.REVIEWER, "/admin/enterprises/1/blacklist"),
]


@pytest.mark.parametrize(("role", "path"), STEP_UP_ACTIONS)
def test_money_and_blacklisting_need_a_fresh_second_factor(client, auth, create_user, role, path):
    user = create_user(role)
    auth.login(user)
    with client.session_transaction() as stored:
        stored[sessions.SECOND_FACTOR_AT] = int(time.time()) - 301
    response = client.post(path, data={}, headers={"Referer": "http://localhost/admin/"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm?next=/admin/")
    # After confirming, the same request reaches the action (here: its own checks).
    assert auth.confirm(user).status_code == 302
    again = client.post(path, data={})
    assert not again.headers.get("Location", "").startswith("/account/confirm")


def test_the_step_up_page_accepts_a_code_once(client, auth, create_user, session):
    user = create_user(Role.FINANCE)
    auth.login(user)
    code = second_factor_code(session, user)
    assert client.post("/account/confirm", data={"code": code}).status_code == 302
    assert client.post("/account/confirm", data={"code": code}).status_code == 401


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(**smtp_server.config)


def test_an_administrator_resets_a_lost_factor_and_the_person_is_told(
    mail_app, create_user, session, mailbox
):
    person = create_user(Role.FINANCE)
    person_browser = mail_app.test_client()
    AuthActions(person_browser, session).login(person)
    admin = create_user(Role.SYSADMIN)
    admin_browser = mail_app.test_client()
    AuthActions(admin_browser, session).login(admin)
    response = admin_browser.post(f"/admin/users/{person.id}/second-factor/reset")
    assert response.status_code == 302
    session.refresh(person)
    assert person.totp_secret is None and not person.has_second_factor
    assert not signed_in(person_browser)
    [mail] = mailbox.to(person.email)
    assert "reset your two-step verification" in mail["Subject"]
    [event] = rows(session, AuditEvent, AuditEvent.action == "user.second_factor_reset")
    assert (event.actor_id, event.subject_id) == (admin.id, person.id)


def test_only_system_administrators_reset_factors(client, auth, create_user, session):
    person = create_user(Role.FINANCE)
    auth.login(create_user(Role.REVIEWER))
    assert client.post(f"/admin/users/{person.id}/second-factor/reset").status_code == 403
    session.refresh(person)
    assert person.has_second_factor


def test_an_administrator_cannot_reset_their_own(app_ctx, session, create_user):
    admin = create_user(Role.SYSADMIN)
    with pytest.raises(ValidationFailed):
        totp.reset(session, admin, actor=admin)
    assert session.scalar(sa.select(User.totp_secret).where(User.id == admin.id))


def test_the_api_does_not_hand_out_tokens_for_a_password_alone(client, create_user, session):
    admin = create_user(Role.FINANCE)
    ask = {"email": admin.email, "password": PASSWORD, "name": "erp"}
    refused = client.post("/api/v1/auth/tokens", json=ask)
    assert refused.status_code == 401
    assert refused.json["code"] == "invalid_second_factor"
    assert refused.headers["Content-Type"] == "application/problem+json"
    wrong = client.post("/api/v1/auth/tokens", json={**ask, "code": "000000"})
    assert wrong.status_code == 401
    granted = client.post(
        "/api/v1/auth/tokens", json={**ask, "code": second_factor_code(session, admin)}
    )
    assert granted.status_code == 201
    unenrolled = create_user(Role.AUDITOR, second_factor=False)
    denied = client.post("/api/v1/auth/tokens", json={**ask, "email": unenrolled.email})
    assert denied.status_code == 403
