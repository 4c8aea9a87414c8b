"""A co-funded programme through order, claim, payout and `ledger verify`: the province pays
50 % and the SME's home prefecture 50 %, a cross-region order ("use anywhere, pay at home")
paid by the SME's home funder, and the statistics per paying treasury, to the fen."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import local_date
from marketplace.disclosure import services as disclosure
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.settlement.ledger_checks import verify_books
from tests.support.settlement_fixtures import CLAIM_NOW
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import funders, ledger
from vouchers.enums import AccountKind, FunderLevel
from vouchers.funder_models import HoldFunderPart
from vouchers.funders import FunderInput, ShareInput
from vouchers.models import Hold

pytestmark = pytest.mark.usefixtures("orders_ctx")


def test_co_funded_orders_settle_per_funder_to_the_fen(
    session,
    client,
    auth,
    create_user,
    settlement_world,
    order_world,
    create_enterprise,
    create_provider,
):
    programme = order_world.programme(local_date(VOUCHER_NOW).year)
    province = funders.create_funder(session, FunderInput("云南省财政厅", "530000"), actor_id=None)
    kunming = funders.create_funder(session, FunderInput("昆明市财政局", "530100"), actor_id=None)
    qujing = funders.create_funder(session, FunderInput("曲靖市财政局", "530300"), actor_id=None)
    funders.set_shares(
        session,
        programme.id,
        [
            ShareInput(5_000, funder_id=province.id),
            ShareInput(5_000, home_level=FunderLevel.PREFECTURE),
        ],
        expected_version=programme.version,
        actor_id=None,
    )
    for funder, budget in ((province, 10_000_000), (kunming, 5_000_000), (qujing, 5_000_000)):
        funders.set_budget(session, programme.id, funder.id, budget, actor_id=None)
    provider = create_provider(division="530102")  # a Kunming provider serves both SMEs
    service = order_world.create_service(provider)
    at_home = settlement_world.order(
        enterprise=create_enterprise(division="530103"), service=service, price_fen=200_003
    )
    away = settlement_world.order(
        enterprise=create_enterprise(division="530302"), service=service, price_fen=150_001
    )
    parts = {
        order.id: {
            p.funder_id: (p.held_fen, p.captured_fen)
            for p in session.scalars(
                sa.select(HoldFunderPart).where(HoldFunderPart.hold_id == order.hold_id)
            )
        }
        for order in (at_home, away)
    }
    # 100,001 fen: the odd fen to the first share; 75,000 fen: even halves.
    assert parts[at_home.id] == {province.id: (50_001, 50_001), kunming.id: (50_000, 50_000)}
    assert parts[away.id] == {province.id: (37_500, 37_500), qujing.id: (37_500, 37_500)}

    claim = settlement_world.approved_claim(at_home, away)
    batch = settlement_world.sent_batch([line.id for line in claim.lines])
    settlement_world.confirm(batch, settlement_world.confirmation_csv(batch))
    for order in (at_home, away):
        session.refresh(order)
        assert order.status is OrderStatus.PAID_OUT
    report = verify_books(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]
    checked = {c.name: c.checked for c in report.checks}
    assert checked["funder_parts"] == 2 and checked["funder_budgets"] == 3

    def spent(funder):
        account = ledger.get_account(
            session, AccountKind.FUNDER_SPENT, programme_id=programme.id, funder_id=funder.id
        )
        return ledger.balance_of(session, account)

    assert (spent(province), spent(kunming), spent(qujing)) == (87_501, 50_000, 37_500)
    # Each treasury's part, published per paying treasury (the Qujing SME's order is paid at home).
    year = local_date(CLAIM_NOW + timedelta(days=1)).year
    by_funder = {
        r.funder_id: (r.orders, r.redeemed_fen)
        for r in disclosure.funder_redemptions(session, year)
    }
    assert by_funder == {province.id: (2, 87_501), kunming.id: (1, 50_000), qujing.id: (1, 37_500)}
    holds_total = sum(
        session.scalars(
            sa.select(Hold.captured_fen).where(Hold.id.in_([at_home.hold_id, away.hold_id]))
        )
    )
    assert sum(fen for _, fen in by_funder.values()) == holds_total
    # The public disclosure page and the administrators' statistics say the same.
    public = client.get(f"/disclosure/?year={year}").get_data(as_text=True)
    assert "曲靖市财政局" in public and "¥375.00" in public and "¥875.01" in public
    auth.login(create_user(Role.AUDITOR))
    stats = client.get(f"/admin/statistics?year={year}").get_data(as_text=True)
    assert "昆明市财政局" in stats and "¥500.00" in stats


def test_the_order_shows_its_funders_parts(
    session, client, api_token, auth, order_world, create_enterprise, create_order
):
    programme = order_world.programme(local_date(VOUCHER_NOW).year)
    province = funders.create_funder(session, FunderInput("云南省财政厅", "530000"), actor_id=None)
    dali = funders.create_funder(session, FunderInput("大理州财政局", "532900"), actor_id=None)
    funders.set_shares(
        session,
        programme.id,
        [
            ShareInput(6_000, funder_id=province.id),
            ShareInput(4_000, home_level=FunderLevel.PREFECTURE),
        ],
        expected_version=programme.version,
        actor_id=None,
    )
    for funder in (province, dali):
        funders.set_budget(session, programme.id, funder.id, 1_000_000, actor_id=None)
    enterprise = create_enterprise(division="532901")
    order = create_order(OrderStatus.AGREED, enterprise=enterprise, price_fen=100_001)
    sme = order_world.sme(enterprise)
    body = client.get(f"/api/v1/orders/{order.id}", headers=api_token(sme)).json
    # 50,000 fen: 60 % / 40 %, to the fen.
    assert [(p["funder_name"], p["held_fen"]) for p in body["funder_parts"]] == [
        ("云南省财政厅", 30_000),
        ("大理州财政局", 20_000),
    ]
    auth.login(sme)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "大理州财政局 ¥200.00" in page and "云南省财政厅 ¥300.00" in page
