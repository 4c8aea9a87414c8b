"""Risk assessment of real orders, weighted samples and findings, on both databases."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.audit.models import AuditEvent
from marketplace.config import current_settings
from marketplace.errors import NotFound, ValidationFailed
from marketplace.orders.enums import OrderStatus
from marketplace.orders.files import OrderFileStorage, Upload
from marketplace.orders.models import Invoice
from marketplace.risk import rules, services
from marketplace.risk.enums import FindingOutcome, FollowUp, Rule
from marketplace.risk.errors import EmptyPopulation, FindingAlreadyRecorded
from marketplace.risk.models import OrderRisk, RiskFlag
from providers.enums import CreditEventKind
from providers.errors import UnsupportedFileType
from providers.models import CreditEvent
from providers.services import update_profile as update_provider
from tests.support.provider_fixtures import ELF, PDF
from vouchers.enterprises import IdentityInput, ProfileInput, update_profile
from vouchers.models import BlacklistEvent, Enterprise, Hold, Quota, RecoveryFlag


def _flags(session, order_id):
    return set(session.scalars(sa.select(RiskFlag.rule).where(RiskFlag.order_id == order_id)).all())


def _score(session, order_id):
    return session.scalar(sa.select(OrderRisk.score).where(OrderRisk.order_id == order_id))


def _storage():
    return OrderFileStorage.from_settings(current_settings())


def test_assessment_flags_round_prices_and_scores_orders(orders_ctx, session, create_order):
    round_order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    odd_order = create_order(OrderStatus.CONFIRMED, price_fen=123_456)
    requested = create_order(OrderStatus.REQUESTED)
    report = services.assess(session)
    assert report.orders == 2  # a request without agreement is not assessed
    assert Rule.ROUND_PRICE in _flags(session, round_order.id)
    assert Rule.ROUND_PRICE not in _flags(session, odd_order.id)
    assert _score(session, requested.id) is None
    weights = sum(rules.DEFAULTS[r].weight for r in _flags(session, round_order.id))
    assert _score(session, round_order.id) == min(100, weights)
    # A flag that stops firing goes; a setting change takes effect at the next assessment.
    services.change_setting(
        session, Rule.ROUND_PRICE, threshold=100_000, weight=5, enabled=False, actor_id=None
    )
    services.assess(session)
    assert Rule.ROUND_PRICE not in _flags(session, round_order.id)
    assert session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == "risk.setting_changed")
    )


def test_a_repeating_pair_is_flagged_with_links_to_its_orders(
    orders_ctx, session, create_order, create_service, create_enterprise
):
    service, enterprise = create_service(), create_enterprise()
    orders = [
        create_order(OrderStatus.AGREED, service=service, enterprise=enterprise, price_fen=123_456)
        for _ in range(3)
    ]
    other = create_order(OrderStatus.AGREED, price_fen=123_456)
    services.assess(session)
    flag = session.scalar(
        sa.select(RiskFlag).where(
            RiskFlag.order_id == orders[-1].id, RiskFlag.rule == Rule.PAIR_REPEAT
        )
    )
    assert flag is not None and flag.links["orders"] == [o.id for o in orders]
    assert "3" in flag.explanation_zh
    assert Rule.PAIR_REPEAT not in _flags(session, other.id)


def test_weak_related_party_matches_raise_a_flag(
    orders_ctx, session, create_order, create_service, create_enterprise
):
    service, enterprise = create_service(), create_enterprise()
    update_provider(session, service.provider, {"contact_phone": "13912345678"}, actor_id=None)
    update_profile(
        session,
        enterprise.id,
        ProfileInput(
            contact_name="联系人",
            contact_phone="+86 139 1234 5678",
            contact_email=enterprise.contact_email,
            industry=None,
            identity=IdentityInput(),
        ),
        expected_version=enterprise.version,
        actor_id=None,
    )
    flagged = create_order(
        OrderStatus.AGREED, service=service, enterprise=enterprise, price_fen=123_456
    )
    clean = create_order(OrderStatus.AGREED, price_fen=123_456)
    services.assess(session)
    assert Rule.RELATED_PARTY in _flags(session, flagged.id)
    assert Rule.RELATED_PARTY not in _flags(session, clean.id)
    flag = session.scalar(
        sa.select(RiskFlag).where(
            RiskFlag.order_id == flagged.id, RiskFlag.rule == Rule.RELATED_PARTY
        )
    )
    assert "139****5678" in flag.explanation_en


def test_samples_are_weighted_recorded_and_reproducible(orders_ctx, session, create_order):
    orders = [create_order(OrderStatus.AGREED, price_fen=123_456 + i) for i in range(6)]
    sample = services.draw_sample(
        session, services.SampleRequest(size=3, seed=12345, note="二季度抽查"), actor_id=None
    )
    assert (sample.size, sample.seed, sample.population) == (3, 12345, 6)
    drawn = [item.order_id for item in sample.items]
    assert len(drawn) == 3 and set(drawn) <= {o.id for o in orders}
    assert services.redraw(session, sample.id) == drawn
    again = services.draw_sample(session, services.SampleRequest(size=3, seed=12345), actor_id=None)
    assert [i.order_id for i in again.items] == drawn
    with pytest.raises(ValidationFailed):
        services.draw_sample(session, services.SampleRequest(size=0), actor_id=None)
    with pytest.raises(EmptyPopulation):
        services.draw_sample(session, services.SampleRequest(size=3, min_score=100), actor_id=None)


def test_an_irregular_finding_lowers_credit_and_can_list_the_enterprise(
    orders_ctx, session, create_order
):
    order = create_order(OrderStatus.CONFIRMED, price_fen=123_456)
    sample = services.draw_sample(session, services.SampleRequest(size=1, seed=1), actor_id=None)
    item = sample.items[0]
    before = order.provider.credit_score
    with pytest.raises(ValidationFailed) as caught:
        services.record_finding(
            session,
            item.id,
            services.FindingInput(FindingOutcome.CLEARED, "正常", FollowUp.BLACKLIST),
            storage=_storage(),
            actor_id=None,
        )
    assert "follow_up" in caught.value.errors
    finding = services.record_finding(
        session,
        item.id,
        services.FindingInput(
            FindingOutcome.IRREGULAR,
            "检测报告为伪造，未实际提供服务。",
            FollowUp.BLACKLIST,
            documents=(Upload("现场核查.pdf", io.BytesIO(PDF)),),
        ),
        storage=_storage(),
        actor_id=None,
    )
    assert finding.documents[0].content_type == "application/pdf"
    assert session.get(Enterprise, order.enterprise_id).blacklisted
    event = session.scalar(
        sa.select(CreditEvent).where(CreditEvent.provider_id == order.provider_id)
    )
    assert event.kind is CreditEventKind.IRREGULAR_FINDING
    session.refresh(order.provider)
    assert order.provider.credit_score == max(0, before - 15)
    with pytest.raises(FindingAlreadyRecorded):
        services.record_finding(
            session,
            item.id,
            services.FindingInput(FindingOutcome.CLEARED, "复核无误"),
            storage=_storage(),
            actor_id=None,
        )


def test_an_irregular_finding_can_start_a_recovery(orders_ctx, session, create_order):
    order = create_order(OrderStatus.CONFIRMED, price_fen=123_456)
    sample = services.draw_sample(session, services.SampleRequest(size=1, seed=2), actor_id=None)
    finding = services.record_finding(
        session,
        sample.items[0].id,
        services.FindingInput(FindingOutcome.IRREGULAR, "价格虚高。", FollowUp.RECOVERY),
        storage=_storage(),
        actor_id=None,
    )
    flag = session.scalar(
        sa.select(RecoveryFlag).where(RecoveryFlag.voucher_id == order.voucher_id)
    )
    assert flag is not None and flag.amount_fen == order.voucher_part_fen == finding.recovery_fen
    assert not session.get(Enterprise, order.enterprise_id).blacklisted


def test_a_claim_is_as_risky_as_its_riskiest_order(orders_ctx, session, settlement_world):
    service = settlement_world.order().service
    risky = settlement_world.order(service=service, price_fen=200_000)
    plain = settlement_world.order(service=service, price_fen=123_456)
    claim = settlement_world.claim(risky, plain)
    services.assess(session)
    found = services.claim_risk(session, claim.id)
    scores = {o["order_id"]: o["score"] for o in found["orders"]}
    assert found["score"] == scores[risky.id] == max(scores.values()) > scores[plain.id]
    assert services.claim_scores(session, []) == {}
    with pytest.raises(NotFound):
        services.claim_risk(session, 10**9)


def test_hostile_evidence_files_are_refused(orders_ctx, session, create_order):
    create_order(OrderStatus.CONFIRMED, price_fen=123_456)
    sample = services.draw_sample(session, services.SampleRequest(size=1, seed=3), actor_id=None)
    item = sample.items[0]
    with pytest.raises(UnsupportedFileType):
        services.record_finding(
            session,
            item.id,
            services.FindingInput(
                FindingOutcome.IRREGULAR,
                "报告为伪造。",
                documents=(Upload("evidence.pdf", io.BytesIO(ELF)),),
            ),
            storage=_storage(),
            actor_id=None,
        )


def test_the_assess_and_reindex_commands(app, session, create_order, create_enterprise):
    order = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    create_enterprise(bank_account_number="6222000055556666")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["risk", "assess"])
    assert result.exit_code == 0, result.output
    assert "assessed 1 order(s)" in result.output
    assert Rule.ROUND_PRICE in _flags(session, order.id)
    result = runner.invoke(args=["providers", "reindex-parties"])
    assert result.exit_code == 0, result.output
    assert "indexed" in result.output


def test_each_rule_fires_on_a_real_order_and_not_on_its_twin(
    orders_ctx, session, create_order, create_service, settlement_world
):
    """The rules are pure (tests/unit/risk); this checks the facts the database gives them,
    on both databases: a pair of otherwise alike orders per rule, one that fires, one not."""
    service = create_service(price_fen=80_000)
    above = create_order(OrderStatus.CONFIRMED, service=service, price_fen=90_001)
    at = create_order(OrderStatus.CONFIRMED, service=service, price_fen=80_000)
    # The same day from agreement to confirmation (the fixture delivers a day later).
    at.delivered_at = at.confirmed_at = at.agreement_accepted_at
    # An invoice dated the day before the agreement.
    invoice = session.scalar(sa.select(Invoice).where(Invoice.order_id == above.id))
    invoice.issued_on = clock.local_date(above.agreement_accepted_at) - timedelta(days=1)
    # The SME of `above` used its annual cap up to the last 1 %.
    quota = session.scalar(
        sa.select(Quota).join(Hold, Hold.quota_id == Quota.id).where(Hold.id == above.hold_id)
    )
    quota.used_fen = quota.cap_fen - quota.cap_fen // 100 - quota.held_fen
    claim = settlement_world.claim(above)
    session.flush()
    services.assess(session)

    fired, quiet = _flags(session, above.id), _flags(session, at.id)
    assert {Rule.ABOVE_CATALOGUE, Rule.INVOICE_EARLY, Rule.UNDER_CAP} <= fired
    assert not {Rule.ABOVE_CATALOGUE, Rule.INVOICE_EARLY, Rule.UNDER_CAP} & quiet
    assert Rule.SAME_DAY in quiet and Rule.SAME_DAY not in fired

    facts = {f.order_id: f for f in services.gather_facts(session)}
    a, b = facts[above.id], facts[at.id]
    assert set(facts) == {above.id, at.id}
    assert (a.catalogue_unit_fen, a.category_samples) == (80_000, 2)
    assert a.category_median_unit_fen == 85_000  # the median of ¥900.01 and ¥800.00
    line = claim.lines[0]
    assert (a.claim_line_id, a.claimed_on) == (line.id, clock.local_date(line.created_at))
    assert a.claim_deadline == above.voucher.programme.claim_deadline
    assert (b.claim_line_id, b.claimed_on) == (None, None)
    programme_fen = sum(f.voucher_part_fen for f in facts.values())
    assert a.programme_total_fen == b.programme_total_fen == programme_fen
    # One provider (the service's) took all of the programme's voucher money this month.
    assert a.provider_programme_fen == programme_fen == above.voucher_part_fen + at.voucher_part_fen
    assert (a.provider_month_orders, a.region_month_orders) == (2, 2)
    assert Rule.PROVIDER_SHARE in fired and Rule.PROVIDER_SHARE in quiet
    assert a.provider_previous_mean_x100 == a.region_previous_mean_x100 == 0  # no history
    # Whatever else fires is what the pure rules say of these facts.
    settings = services.settings(session)
    for order_id, found in facts.items():
        expected = {hit.rule for hit in rules.evaluate(found, settings)}
        assert _flags(session, order_id) == expected, order_id


def test_a_second_irregular_finding_against_a_listed_enterprise_is_recorded(
    orders_ctx, session, create_order, create_enterprise
):
    enterprise = create_enterprise()
    first = create_order(OrderStatus.CONFIRMED, enterprise=enterprise, price_fen=123_456)
    second = create_order(OrderStatus.CONFIRMED, enterprise=enterprise, price_fen=234_567)
    sample = services.draw_sample(session, services.SampleRequest(size=2, seed=4), actor_id=None)
    items = {item.order_id: item for item in sample.items}
    for order in (first, second):
        services.record_finding(
            session,
            items[order.id].id,
            services.FindingInput(FindingOutcome.IRREGULAR, "虚构服务。", FollowUp.BLACKLIST),
            storage=_storage(),
            actor_id=None,
        )
    assert session.get(Enterprise, enterprise.id).blacklisted
    listings = session.scalars(
        sa.select(BlacklistEvent).where(BlacklistEvent.enterprise_id == enterprise.id)
    ).all()
    assert len(listings) == 1  # listed once, by the first finding
    events = session.scalars(
        sa.select(CreditEvent).where(CreditEvent.kind == CreditEventKind.IRREGULAR_FINDING)
    ).all()
    assert sorted(e.order_ref for e in events) == sorted(f"order-{o.id}" for o in (first, second))
