"""No account enumeration: registering with an address that has an account answers exactly as
a new registration (same status, redirect and message; the owner is told by e-mail instead),
and reset requests answer the same for unknown addresses (tests/security/test_passwords.py)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.support.fixtures import unique_credit_code, unique_email
from vouchers.models import Enterprise


def _form(email: str) -> dict[str, str]:
    return {
        "name": "昆明枚举测试科技有限公司",
        "credit_code": unique_credit_code(),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": email,
        "password": "lanterns-over-erhai-lake",
        "confirm": "lanterns-over-erhai-lake",
        "size_class": "small",
        "industry": "软件",
    }


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(**smtp_server.config)


def _answer(client, path: str, email: str):
    data = _form(email)
    if path.endswith("provider"):
        data["institution_type"] = "ip_agency"
    response = client.post(path, data=data)
    shown = re.findall(
        r'<div class="flash[^"]*" role="status">(.*?)</div>', client.get("/login").text
    )
    return (
        response.status_code,
        response.headers.get("Location"),
        [m.replace(email, "<e>") for m in shown],
    )


@pytest.mark.parametrize("path", ["/register/enterprise", "/register/provider"])
def test_registering_a_taken_address_answers_as_a_new_one(
    mail_app, create_user, session, mailbox, path
):
    owner = create_user()
    new_address = unique_email("new")
    client = mail_app.test_client()
    fresh = _answer(client, path, new_address)
    taken = _answer(client, path, owner.email)
    assert fresh == taken and fresh[0] == 302 and fresh[2]
    # The owner hears that someone tried; nothing was created for the attempt.
    [notice] = mailbox.to(owner.email)
    assert "tried to register" in notice["Subject"]
    [welcome] = mailbox.to(new_address)
    assert "Registration received" in welcome["Subject"]
    names = session.scalars(
        sa.select(Enterprise.name).where(Enterprise.contact_email == owner.email)
    )
    assert list(names) == []
