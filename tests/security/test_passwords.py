"""Password life cycle: a policy that refuses guessable and personal passwords; change with the
current password; reset through a signed, single-use link that expires within the hour, sent
through the outbox to the loopback SMTP server; the owner told of every change; and the change
ends every other session (a cookie copied before it opens nothing afterwards)."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner

from marketplace.auth.models import User
from marketplace.auth.passwords import password_problems, verify_password
from marketplace.enums import Role
from tests.conftest import rows
from tests.security.conftest import replay, session_cookie, signed_in
from tests.support.fixtures import PASSWORD, AuthActions

NEW_PASSWORD = "lanterns-over-erhai-lake"


@pytest.mark.parametrize(
    "weak",
    [
        "password12",
        "qwertyuiop",
        "aaaaaaaaaa",
        "aaaaaaaaaaaa",
        "Password1234",
        "123456789012",
        "iloveyou2026",
        "qwertyuiop123",
        "short-one",
    ],
)
def test_guessable_passwords_are_refused(weak):
    assert password_problems(weak)


@pytest.mark.parametrize(
    ("password", "email", "names"),
    [
        ("zhangwei-lanterns-2026", "zhangwei@example.cn", ()),
        ("my-lanterns-张伟-erhai", "zw@example.cn", ("张伟",)),
        ("lanterns-kunming-lab-erhai", "x@example.cn", ("Kunming Lab",)),
    ],
)
def test_passwords_containing_the_email_or_name_are_refused(password, email, names):
    assert password_problems(password) == []  # strong in itself
    problems = password_problems(password, email=email, names=names)
    assert problems and "邮箱或姓名" in problems[0]


def test_a_strong_password_passes():
    assert password_problems(NEW_PASSWORD, email="a@b.cn", names=("张伟",)) == []
    assert password_problems("x" * 201)  # too long to hash cheaply


def test_registration_refuses_a_common_password(client, session):
    response = client.post(
        "/register/enterprise",
        data={
            "name": "昆明测试科技有限公司",
            "credit_code": "91530102MA6N1UBF9N",
            "contact_name": "李四",
            "contact_phone": "13800000000",
            "email": "weak@example.cn",
            "password": "password12",
            "confirm": "password12",
            "size_class": "small",
        },
    )
    assert response.status_code == 400
    assert rows(session, User, User.email == "weak@example.cn") == []


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(**smtp_server.config)


def _login(client, user, password=PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.status_code
    return response


def test_changing_the_password_needs_the_current_one(mail_app, create_user, session, mailbox):
    user = create_user()
    client = mail_app.test_client()
    _login(client, user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "not-my-password",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 401
    assert "当前密码错误" in response.text
    session.refresh(user)
    assert verify_password(user.password_hash, PASSWORD)
    assert mailbox.messages == []


def test_a_password_change_ends_other_sessions_and_tells_the_owner(
    mail_app, create_user, session, mailbox
):
    user = create_user()
    client = mail_app.test_client()
    _login(client, user)
    stolen = session_cookie(client)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert signed_in(client)  # the session that changed it carries on
    assert not signed_in(replay(mail_app, stolen))  # the copied cookie does not
    session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    [mail] = mailbox.to(user.email)
    assert "密码已修改" in mail["Subject"] and "password was changed" in mail["Subject"]


def test_a_weak_new_password_is_refused_at_the_field(client, auth, create_user):
    user = create_user()
    auth.login(user)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "qwertyuiop12", "confirm": "qwertyuiop12"},
    )
    assert response.status_code == 400
    assert "容易被猜到" in response.text


def _reset_link(mailbox, address: str) -> str:
    [mail] = mailbox.to(address)
    match = re.search(r"http://127\.0\.0\.1:5000(/password/reset/\S+)", mail.get_content())
    assert match, mail.get_content()
    return match.group(1)


def test_reset_by_emailed_link_works_once(mail_app, create_user, session, mailbox):
    user = create_user(Role.FINANCE)
    victim_browser = mail_app.test_client()
    AuthActions(victim_browser, session).login(user)
    assert signed_in(victim_browser)
    client = mail_app.test_client()
    answer = client.post("/password/forgot", data={"email": user.email.upper()})
    assert answer.status_code == 302
    link = _reset_link(mailbox, user.email)
    mailbox.clear()
    assert client.get(link).status_code == 200
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert not signed_in(victim_browser)  # every session ended with the reset
    [notice] = mailbox.to(user.email)
    assert "password was changed" in notice["Subject"]
    # Single use: the same link again is refused, and changes nothing.
    again = client.post(
        link, data={"password": "another-lantern-festival", "confirm": "another-lantern-festival"}
    )
    assert again.status_code == 400 and "已使用" in again.text
    session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)


def test_a_reset_link_expires_within_the_hour(mail_app, create_user, mailbox, monkeypatch):
    user = create_user()
    client = mail_app.test_client()
    issued = int(time.time()) - 3601
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
    client.post("/password/forgot", data={"email": user.email})
    monkeypatch.undo()
    link = _reset_link(mailbox, user.email)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400 and "已过期" in response.text


def test_a_forged_reset_link_is_refused(client):
    response = client.get("/password/reset/eyJ1IjoxLCJwIjoiYWJjIn0.forged.signature")
    assert response.status_code == 400 and "链接无效" in response.text


def _answer(client, email: str) -> tuple[int, str, list[str]]:
    response = client.post("/password/forgot", data={"email": email})
    shown = re.findall(
        r'<div class="flash[^"]*" role="status">(.*?)</div>', client.get("/login").text
    )
    return response.status_code, response.headers["Location"], shown


def test_reset_requests_answer_the_same_for_unknown_addresses(mail_app, create_user, mailbox):
    user = create_user()
    client = mail_app.test_client()
    known = _answer(client, user.email)
    unknown = _answer(client, "nobody@example.cn")
    assert known == unknown and known[2]
    assert len(mailbox.to(user.email)) == 1
    assert mailbox.to("nobody@example.cn") == []
