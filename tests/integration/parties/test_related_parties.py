"""Related parties beyond self-declaration (issue 11, point 3): the party index, strong matches
refusing orders, weak matches found for the risk flags, SME groups and the group cap."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.errors import ValidationFailed
from marketplace.orders import services as order_services
from marketplace.orders.enums import OrderStatus
from marketplace.parties.enums import AttributeKind, PartyKind
from marketplace.parties.models import PartyAttribute
from marketplace.parties.services import group_of, matches_of, shared_between
from providers import related
from providers.errors import RelatedPartyConflict
from providers.services import index_provider
from providers.services import update_profile as update_provider
from tests.unit.test_parties_rules import id_number
from vouchers.enterprises import IdentityInput, ProfileInput, index_enterprise, update_profile
from vouchers.errors import CapExceeded

REP = id_number("53010219800101001")
OTHER_REP = id_number("53010219800101002")


def _identity(session, enterprise, **identity):
    return update_profile(
        session,
        enterprise.id,
        ProfileInput(
            contact_name=enterprise.contact_name,
            contact_phone=identity.pop("phone", enterprise.contact_phone),
            contact_email=identity.pop("email", enterprise.contact_email),
            industry=enterprise.industry,
            identity=IdentityInput(**identity),
        ),
        expected_version=enterprise.version,
        actor_id=None,
    )


def _shared(session, enterprise, provider):
    return {
        m.kind
        for m in shared_between(
            session, (PartyKind.ENTERPRISE, enterprise.id), (PartyKind.PROVIDER, provider.id)
        )
    }


@pytest.mark.parametrize("attribute", ["legal_representative", "bank_account"])
def test_a_shared_legal_representative_or_bank_account_refuses_the_order(
    orders_ctx, session, create_service, create_enterprise, attribute
):
    service = create_service()
    provider = service.provider
    enterprise = create_enterprise()
    related.ensure_orderable(session, service, enterprise)
    if attribute == "legal_representative":
        update_provider(
            session, provider, {"legal_rep_name": "张伟", "legal_rep_id_number": REP}, actor_id=None
        )
        _identity(session, enterprise, legal_rep_name="张伟", legal_rep_id_number=REP.lower())
    else:
        provider.bank_account_number = "6228480012345670001"
        index_provider(session, provider)
        _identity(session, enterprise, bank_account_number="6228 4800 1234 5670 001")
    with pytest.raises(RelatedPartyConflict) as caught:
        related.ensure_orderable(session, service, enterprise)
    assert caught.value.code == "related_party"
    assert caught.value.extra["shared"] == [attribute]
    assert AttributeKind(attribute).en in caught.value.message
    assert related.related_at(session, provider.id, enterprise.id)
    # The number is never stored, only its keyed hash and the masked form.
    if attribute == "legal_representative":
        assert enterprise.legal_rep_id_hash == provider.legal_rep_id_hash
        assert REP not in (enterprise.legal_rep_id_hash or "")
        assert enterprise.legal_rep_id_masked == REP[:4] + "*" * 10 + REP[-4:]


def test_different_details_do_not_refuse(orders_ctx, session, create_service, create_enterprise):
    service = create_service()
    update_provider(
        session,
        service.provider,
        {"legal_rep_name": "张伟", "legal_rep_id_number": REP},
        actor_id=None,
    )
    enterprise = _identity(
        session,
        create_enterprise(),
        legal_rep_name="张伟",
        legal_rep_id_number=OTHER_REP,
        bank_account_number="6228480012345670002",
    )
    # Same name, another person: names alone identify nobody.
    related.ensure_orderable(session, service, enterprise)
    assert not related.related_at(session, service.provider.id, enterprise.id)


def test_order_creation_and_acceptance_refuse_a_strong_match(
    orders_ctx, session, create_order, create_service, create_enterprise
):
    service = create_service()
    enterprise = create_enterprise()
    order = create_order(OrderStatus.QUOTED, service=service, enterprise=enterprise)
    service.provider.bank_account_number = "6228480012345670009"
    index_provider(session, service.provider)
    _identity(session, enterprise, bank_account_number="6228480012345670009")
    # Acceptance after the match appeared is refused...
    sme = enterprise.users[0] if enterprise.users else None
    assert order.status is OrderStatus.QUOTED and sme is not None
    with pytest.raises(RelatedPartyConflict):
        order_services.accept(session, order.id, sme, voucher_id=None, agree=True)
    # ... and so is a new order.
    with pytest.raises(RelatedPartyConflict):
        create_order(OrderStatus.REQUESTED, service=service, enterprise=enterprise)


def test_weak_matches_are_found_but_do_not_refuse(
    orders_ctx, session, create_service, create_enterprise
):
    service = create_service()
    provider = service.provider
    update_provider(
        session,
        provider,
        {
            "contact_phone": "+86 138-0013-8000",
            "contact_email": "lab@kmlab.example.cn",
            "address": "云南省昆明市五华区学府路1号",
        },
        actor_id=None,
    )
    enterprise = _identity(
        session,
        create_enterprise(),
        phone="13800138000",
        email="boss@KMLAB.example.cn",
        registered_address="昆明市五华区 学府路 1号",
    )
    assert _shared(session, enterprise, provider) == {
        AttributeKind.PHONE,
        AttributeKind.EMAIL_DOMAIN,
        AttributeKind.ADDRESS,
    }
    related.ensure_orderable(session, service, enterprise)
    found = matches_of(session, PartyKind.ENTERPRISE, enterprise.id, other_kind=PartyKind.PROVIDER)
    assert {(m.party_id, m.kind) for m in found} == {
        (provider.id, AttributeKind.PHONE),
        (provider.id, AttributeKind.EMAIL_DOMAIN),
        (provider.id, AttributeKind.ADDRESS),
    }
    # The evidence a reviewer sees is masked where it is personal data.
    assert {m.evidence for m in found} >= {"138****8000", "@kmlab.example.cn"}


def test_public_mail_services_and_changed_details_leave_the_index(
    orders_ctx, session, create_service, create_enterprise
):
    service = create_service()
    update_provider(session, service.provider, {"contact_email": "lab@qq.com"}, actor_id=None)
    enterprise = _identity(session, create_enterprise(), email="boss@qq.com", phone="13900000001")
    assert _shared(session, enterprise, service.provider) == set()
    enterprise = _identity(session, enterprise, phone="13900000002")
    phones = session.scalars(
        sa.select(PartyAttribute.value).where(
            PartyAttribute.party_kind == PartyKind.ENTERPRISE,
            PartyAttribute.party_id == enterprise.id,
            PartyAttribute.kind == AttributeKind.PHONE,
        )
    ).all()
    assert phones == ["13900000002"]


def test_an_invalid_identity_number_is_refused_at_the_field(orders_ctx, session, create_enterprise):
    enterprise = create_enterprise()
    with pytest.raises(ValidationFailed) as caught:
        _identity(session, enterprise, legal_rep_name="张伟", legal_rep_id_number=REP[:-1] + "0")
    assert "legal_rep_id_number" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        _identity(session, enterprise, legal_rep_name="张伟")
    assert "legal_rep_id_number" in caught.value.errors
    assert enterprise.legal_rep_name is None


def test_sme_groups_connect_through_strong_attributes_only(orders_ctx, session, create_enterprise):
    a, b, c, d = (create_enterprise() for _ in range(4))
    _identity(session, a, legal_rep_name="李娜", legal_rep_id_number=REP)
    _identity(
        session, b, legal_rep_name="李娜", legal_rep_id_number=REP, bank_account_number="62220001"
    )
    _identity(session, c, bank_account_number="6222 0001")
    _identity(session, d, phone="13800138000")  # the factory's phone: weak, no group
    assert group_of(session, a.id) == sorted([a.id, b.id, c.id])
    assert group_of(session, c.id) == sorted([a.id, b.id, c.id])
    assert group_of(session, d.id) == [d.id]


def test_group_cap_makes_a_group_share_one_annual_cap(
    orders_ctx, session, create_enterprise, funded_programme, issue_voucher, place_hold
):
    programme = funded_programme(group_cap=True)
    a, b = create_enterprise(), create_enterprise()
    for e in (a, b):
        _identity(session, e, bank_account_number="6222000011112222")
    va = issue_voucher(a, programme, amount_fen=2_000_000)
    vb = issue_voucher(b, programme, amount_fen=2_000_000)
    place_hold(va, requested_fen=2_000_000, price_fen=4_000_000)
    # The policy cap is 3,000,000 for the group: b may only use what a left.
    hold = place_hold(vb, requested_fen=2_000_000, price_fen=4_000_000)
    assert hold.amount_fen == 1_000_000
    with pytest.raises(CapExceeded) as caught:
        place_hold(vb, requested_fen=1, price_fen=10)
    assert caught.value.extra["group_enterprise_ids"] == sorted([a.id, b.id])


def test_without_group_cap_each_enterprise_keeps_its_own_cap(
    orders_ctx, session, create_enterprise, funded_programme, issue_voucher, place_hold
):
    programme = funded_programme()
    a, b = create_enterprise(), create_enterprise()
    for e in (a, b):
        _identity(session, e, bank_account_number="6222000011113333")
    va = issue_voucher(a, programme, amount_fen=2_000_000)
    vb = issue_voucher(b, programme, amount_fen=2_000_000)
    place_hold(va, requested_fen=2_000_000, price_fen=4_000_000)
    assert place_hold(vb, requested_fen=2_000_000, price_fen=4_000_000).amount_fen == 2_000_000


def test_reindexing_covers_rows_written_before_the_index(orders_ctx, session, create_enterprise):
    enterprise = create_enterprise(bank_account_number="6222000099998888")
    assert matches_of(session, PartyKind.ENTERPRISE, enterprise.id) == []
    index_enterprise(session, enterprise)
    twin = create_enterprise(bank_account_number="6222-0000-9999-8888")
    index_enterprise(session, twin)
    found = matches_of(
        session, PartyKind.ENTERPRISE, enterprise.id, kinds=[AttributeKind.BANK_ACCOUNT]
    )
    assert [m.party_id for m in found] == [twin.id]
