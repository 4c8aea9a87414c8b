"""Outcomes of completed orders: who records them, for how long, and their summaries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.enums import Role
from marketplace.errors import PermissionDenied, PreconditionFailed, ValidationFailed
from marketplace.orders.enums import OrderStatus
from marketplace.outcomes import services
from marketplace.outcomes.enums import PatentType, SummaryBy
from marketplace.outcomes.errors import OrderNotCompleted, OutcomeLocked
from tests.support.voucher_fixtures import VOUCHER_NOW

GOOD = services.OutcomeInput(
    patents=(
        ("CN202710001234.5", PatentType.INVENTION),
        ("cn2027 20005678.9", PatentType.UTILITY_MODEL),
    ),
    certifications=1,
    certification_note="CMA 检测报告",
    high_tech_recognised=True,
    new_products=2,
    revenue_effect_fen=50_000_000,
)


def test_the_sme_records_and_edits_outcomes_for_a_year(
    orders_ctx, session, order_world, create_order
):
    order = create_order(OrderStatus.CONFIRMED)
    sme = order_world.sme(order)
    outcome = services.record_outcome(
        session, order, sme, GOOD, now=VOUCHER_NOW + timedelta(days=3)
    )
    assert outcome.patent_count == 2 and outcome.patents[1] == {
        "number": "CN202720005678.9",
        "type": "utility_model",
    }
    with pytest.raises(PreconditionFailed):
        services.record_outcome(session, order, sme, GOOD, expected_version=outcome.version + 1)
    edited = services.record_outcome(
        session,
        order,
        sme,
        services.OutcomeInput(new_processes=1),
        expected_version=outcome.version,
        now=VOUCHER_NOW + timedelta(days=300),
    )
    assert (edited.patent_count, edited.new_processes, edited.version) == (0, 1, 2)
    with pytest.raises(OutcomeLocked):
        services.record_outcome(session, order, sme, GOOD, now=VOUCHER_NOW + timedelta(days=400))


def test_only_the_ordering_sme_once_completed_with_valid_values(
    orders_ctx, session, order_world, create_order
):
    agreed = create_order(OrderStatus.AGREED)
    with pytest.raises(OrderNotCompleted):
        services.record_outcome(session, agreed, order_world.sme(agreed), GOOD)
    order = create_order(OrderStatus.CONFIRMED)
    with pytest.raises(PermissionDenied):
        services.record_outcome(session, order, order_world.provider_user(order), GOOD)
    with pytest.raises(PermissionDenied):
        services.record_outcome(session, order, order_world.staff(Role.REVIEWER), GOOD)
    with pytest.raises(ValidationFailed) as caught:
        services.record_outcome(
            session,
            order,
            order_world.sme(order),
            services.OutcomeInput(patents=(("专利号", PatentType.DESIGN),), revenue_effect_fen=-1),
        )
    assert set(caught.value.errors) == {"patents", "revenue_effect_fen"}


def test_summaries_per_programme_category_and_region_per_10k(
    orders_ctx, session, order_world, create_order, create_enterprise
):
    # Two completed orders with ¥1,000 of voucher money each (price ¥2,000, ceiling 50 %),
    # one in 五华区 (530102) and one in 盘龙区 (530103): both in 昆明市 (530100).
    first = create_order(OrderStatus.CONFIRMED, price_fen=200_000)
    second = create_order(
        OrderStatus.CONFIRMED, price_fen=200_000, enterprise=create_enterprise(division="530103")
    )
    create_order(OrderStatus.AGREED, price_fen=200_000)  # not completed: not counted
    assert first.voucher_part_fen == second.voucher_part_fen == 100_000
    services.record_outcome(session, first, order_world.sme(first), GOOD)
    by_region = services.summary(session, SummaryBy.REGION)
    assert [(r.key, r.label_zh, r.orders, r.reported) for r in by_region] == [
        ("530100", "云南省昆明市", 2, 1)
    ]
    row = by_region[0]
    assert (row.voucher_fen, row.patents, row.high_tech, row.revenue_effect_fen) == (
        200_000,
        2,
        1,
        50_000_000,
    )
    # 2 patents for ¥2,000 of voucher money = 10 per ¥10,000 (×100 = 1000).
    assert row.per_10k_x100["patents"] == 1000
    assert row.per_10k_x100["high_tech"] == 500
    (by_programme,) = services.summary(session, SummaryBy.PROGRAMME)
    assert by_programme.orders == 2 and by_programme.label_zh == first.voucher.programme.name
    (by_category,) = services.summary(session, SummaryBy.CATEGORY)
    assert by_category.key == first.service.category.value


def test_per_10k_rounds_half_up_and_never_divides_by_zero():
    assert services.per_10k_x100(1, 3_000_000) == 33
    assert services.per_10k_x100(1, 600_000) == 167
    assert services.per_10k_x100(5, 0) == 0
