"""No account enumeration through the API: registering with an address that has an account
answers exactly as a new registration (same status, same body apart from the address), the
owner is told by e-mail through the outbox, and nothing is created for the attempt. Reset
requests exist on the pages only (tests/security/test_passwords.py shows they answer the same
for unknown addresses); the API has no endpoint that could answer differently."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.notifications.models import OutboundEmail
from tests.support.fixtures import PASSWORD, unique_credit_code, unique_email
from vouchers.models import Enterprise


def _body(kind: str, email: str) -> dict[str, str]:
    body = {
        "name": "昆明枚举测试科技有限公司",
        "credit_code": unique_credit_code(),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": email,
        "password": PASSWORD,
    }
    if kind == "enterprise":
        body["size_class"] = "small"
    else:
        body["institution_type"] = "ip_agency"
    return body


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(**smtp_server.config)


def _answer(client, kind: str, email: str) -> tuple[int, str, dict[str, str]]:
    response = client.post(f"/api/v1/registrations/{kind}", json=_body(kind, email))
    body = response.get_json()
    return response.status_code, response.content_type, {**body, "email": "<e>"}


@pytest.mark.parametrize("kind", ["enterprise", "provider"])
def test_registering_a_taken_address_answers_as_a_new_one(
    mail_app, create_user, session, mailbox, kind
):
    owner = create_user()
    new_address = unique_email("new")
    client = mail_app.test_client()
    fresh = _answer(client, kind, new_address)
    taken = _answer(client, kind, owner.email.upper())
    assert fresh == taken, (fresh, taken)
    assert fresh[0] == 202 and fresh[2]["status"] == "received"
    # The owner hears that someone tried, through the outbox; the newcomer gets a welcome.
    [notice] = mailbox.to(owner.email)
    assert "tried to register" in notice["Subject"]
    [welcome] = mailbox.to(new_address)
    assert "Registration received" in welcome["Subject"]
    kinds = session.scalars(
        sa.select(OutboundEmail.template).where(OutboundEmail.to_address == owner.email)
    )
    assert list(kinds) == ["account_exists"]
    names = session.scalars(
        sa.select(Enterprise.name).where(Enterprise.contact_email == owner.email)
    )
    assert list(names) == []


def test_a_taken_credit_code_is_still_refused_openly(client, create_enterprise):
    """The credit code is public registry data: refusing it tells nothing about accounts."""
    existing = create_enterprise()
    body = _body("enterprise", unique_email("cc"))
    body["credit_code"] = existing.credit_code
    response = client.post("/api/v1/registrations/enterprise", json=body)
    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate_registration"


def test_no_api_operation_answers_about_passwords_or_resets(client):
    """Reset requests are a page (answering the same for unknown addresses); no API path could
    be asked whether an address has an account."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert not [p for p in paths if "password" in p or "reset" in p or "exists" in p]
