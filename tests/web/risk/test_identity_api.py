"""Legal representatives, registered addresses and bank accounts through registration and the
API: refused when invalid, indexed when valid, never shown in full."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.parties.enums import AttributeKind, PartyKind
from marketplace.parties.models import PartyAttribute
from providers.models import Provider
from tests.support.fixtures import unique_credit_code, unique_email
from tests.unit.test_parties_rules import id_number
from vouchers.models import Enterprise

REP = id_number("53010219800101003")


def _body(**overrides):
    body = {
        "name": "昆明关联测试有限公司",
        "credit_code": unique_credit_code(),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": unique_email("identity"),
        "password": "a-strong-password",
    }
    body.update(overrides)
    return body


def test_registration_records_and_indexes_who_is_behind_an_organisation(client, session):
    bad = client.post(
        "/api/v1/registrations/enterprise",
        json=_body(size_class="small", legal_rep_name="王芳", legal_rep_id_number=REP[:-1] + "Y"),
    )
    assert bad.status_code == 422 and "legal_rep_id_number" in bad.get_json()["errors"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) == 0
    ok = client.post(
        "/api/v1/registrations/enterprise",
        json=_body(
            size_class="small",
            legal_rep_name="王芳",
            legal_rep_id_number=REP,
            registered_address="云南省昆明市五华区学府路 8 号",
            bank_account_number="6222 0200 1234 5678",
        ),
    )
    assert ok.status_code == 202, ok.get_json()
    provider = client.post(
        "/api/v1/registrations/provider",
        json=_body(institution_type="university", legal_rep_name="王芳", legal_rep_id_number=REP),
    )
    assert provider.status_code == 202, provider.get_json()
    enterprise = session.scalars(sa.select(Enterprise)).one()
    institution = session.scalars(sa.select(Provider)).one()
    assert enterprise.legal_rep_id_hash == institution.legal_rep_id_hash
    assert REP not in str(enterprise.__dict__) and REP not in str(institution.__dict__)
    kinds = set(
        session.scalars(
            sa.select(PartyAttribute.kind).where(
                PartyAttribute.party_kind == PartyKind.ENTERPRISE,
                PartyAttribute.party_id == enterprise.id,
            )
        )
    )
    assert {
        AttributeKind.LEGAL_REPRESENTATIVE,
        AttributeKind.BANK_ACCOUNT,
        AttributeKind.ADDRESS,
    } <= kinds
