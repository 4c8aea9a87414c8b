"""A co-funded programme through order, claim, payout and `ledger verify`: the province pays
50 % and the SME's home prefecture 50 %, one payout batch and bank file per paying treasury,
a cross-region order ("use anywhere, pay at home") paid by the SME's home funder's batch, a
claim line paid only once every treasury paid its part, and the statistics per paying
treasury, to the fen."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.clock import local_date
from marketplace.disclosure import dashboard
from marketplace.disclosure import services as disclosure
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.orders.enums import OrderStatus
from marketplace.settlement import payout_files, payouts
from marketplace.settlement.enums import ClaimLineStatus, ClaimStatus
from marketplace.settlement.ledger_checks import verify_books
from marketplace.settlement.models import ClaimLine
from tests.support.settlement_fixtures import CLAIM_NOW, PAID_ON
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import funders, ledger
from vouchers.enums import AccountKind, FunderLevel
from vouchers.funders import FunderInput, ShareInput
from vouchers.models import Hold

pytestmark = pytest.mark.usefixtures("orders_ctx")


def _payment_rows(batch) -> list[dict[str, str]]:
    text = payout_files.payment_file(batch)
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _line_status(session, order) -> ClaimLineStatus:
    line = session.scalars(sa.select(ClaimLine).where(ClaimLine.order_id == order.id)).one()
    session.refresh(line)
    return line.status


def test_co_funded_orders_settle_per_funder_to_the_fen(
    session, client, auth, create_user, co_funded_world
):
    cf = co_funded_world
    w = cf.settlement
    province, kunming, qujing = cf.province, cf.kunming, cf.qujing
    at_home = cf.order("530103", 200_003)  # a Kunming SME
    away = cf.order("530302", 150_001)  # a Qujing SME with the Kunming provider: paid at home
    # 100,001 fen: the odd fen to the first share; 75,000 fen: even halves.
    assert cf.parts(at_home) == {province.id: 50_001, kunming.id: 50_000}
    assert cf.parts(away) == {province.id: 37_500, qujing.id: 37_500}

    claim = w.approved_claim(at_home, away)
    due = payouts.payout_due(session)
    assert sorted((d.line.order_id, d.part.funder_id, d.part.amount_fen) for d in due) == sorted(
        [
            (at_home.id, province.id, 50_001),
            (at_home.id, kunming.id, 50_000),
            (away.id, province.id, 37_500),
            (away.id, qujing.id, 37_500),
        ]
    )
    # A batch is one treasury's: without naming it, lines several treasuries pay are refused.
    with pytest.raises(DomainError) as caught:
        w.batch([line.id for line in claim.lines])
    assert caught.value.code == "payer_required" and caught.value.status == 422

    built = payouts.create_batches(session, actor_id=w.finance.id, now=CLAIM_NOW)
    batches = {b.funder_id: b for b in built.batches}
    assert sorted(batches) == sorted([province.id, kunming.id, qujing.id])
    assert not built.skipped and not built.skipped_funders
    # Each batch pays only its treasury's parts, taken from the recorded split, to the fen.
    assert {fid: b.total_fen for fid, b in batches.items()} == {
        province.id: 87_501,
        kunming.id: 50_000,
        qujing.id: 37_500,
    }
    assert sum(b.total_fen for b in built.batches) == at_home.voucher_part_fen + (
        away.voucher_part_fen
    )
    for funder_id, batch in batches.items():
        items = [item for line in batch.lines for item in line.items]
        assert {item.funder_id for item in items} == {funder_id}
    assert sorted(
        (i.order_id, i.amount_fen) for line in batches[kunming.id].lines for i in line.items
    ) == [(at_home.id, 50_000)]  # the Qujing SME's order is not Kunming's to pay
    assert sorted(
        (i.order_id, i.amount_fen) for line in batches[qujing.id].lines for i in line.items
    ) == [(away.id, 37_500)]
    # The bank file names its paying treasury's account and holds only its lines.
    for funder in (province, kunming, qujing):
        batch = batches[funder.id]
        table = _payment_rows(batch)
        assert [int(r["amount_fen"]) for r in table] == [batch.total_fen]
        assert {(r["payer_name"], r["payer_account_number"]) for r in table} == {
            (f"{funder.name}国库存款户", funder.bank_account_number)
        }
        assert table[0]["account_number"] == cf.provider.bank_account_number
        assert payout_files.payment_filename(batch).endswith(f"-{funder.region_code}.csv")
    # Nothing is left for a second batch of any treasury.
    assert payouts.payout_due(session) == []
    with pytest.raises(DomainError) as caught:
        w.batch(funder_id=province.id)
    assert caught.value.code == "nothing_to_pay"

    # The province's batch is confirmed first: both lines still wait for their prefectures.
    for batch in batches.values():
        payouts.mark_sent(session, batch.id, actor_id=w.second_finance.id, now=CLAIM_NOW)
    w.confirm(batches[province.id], w.confirmation_csv(batches[province.id]))
    assert (_line_status(session, at_home), _line_status(session, away)) == (
        ClaimLineStatus.IN_PAYOUT,
        ClaimLineStatus.IN_PAYOUT,
    )
    for order in (at_home, away):
        session.refresh(order)
        assert order.status is OrderStatus.CLAIM_APPROVED
    report = verify_books(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]

    def balance(kind, funder):
        account = ledger.get_account(
            session, kind, programme_id=cf.programme.id, funder_id=funder.id
        )
        return ledger.balance_of(session, account)

    # The dashboard's per-funder figures: Kunming's part is in a payout, the province's paid.
    rows = {
        r["funder_id"]: (r["spent_fen"], r["in_payout_fen"], r["paid_fen"])
        for r in dashboard.figures(session, cf.programme.year)["funders"]
    }
    assert rows == {
        province.id: (87_501, 0, 87_501),
        kunming.id: (50_000, 50_000, 0),
        qujing.id: (37_500, 37_500, 0),
    }
    # The payout posting debited the province's part only.
    assert balance(AccountKind.FUNDER_PAID, province) == 87_501
    assert balance(AccountKind.FUNDER_SPENT, province) == 0
    assert balance(AccountKind.FUNDER_PAID, kunming) == 0
    assert balance(AccountKind.FUNDER_SPENT, kunming) == 50_000

    w.confirm(batches[kunming.id], w.confirmation_csv(batches[kunming.id], transaction_prefix="K"))
    assert _line_status(session, at_home) is ClaimLineStatus.PAID  # both its parts are paid
    assert _line_status(session, away) is ClaimLineStatus.IN_PAYOUT  # Qujing's is not yet
    w.confirm(batches[qujing.id], w.confirmation_csv(batches[qujing.id], transaction_prefix="Q"))
    for order in (at_home, away):
        session.refresh(order)
        assert order.status is OrderStatus.PAID_OUT
    session.refresh(claim)
    assert claim.status is ClaimStatus.PAID
    assert payouts.settle_due(session, today=PAID_ON) == 2

    report = verify_books(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]
    checked = {c.name: c.checked for c in report.checks}
    assert checked["funder_parts"] == 2 and checked["funder_budgets"] == 3
    assert checked["funder_paid"] == 3 and checked["payout_parts"] == 2
    paid = {f.id: balance(AccountKind.FUNDER_PAID, f) for f in (province, kunming, qujing)}
    assert paid == {province.id: 87_501, kunming.id: 50_000, qujing.id: 37_500}
    standing = {
        s.funder.id: (s.spent_fen, s.paid_fen) for s in funders.standings(session, cf.programme.id)
    }
    assert standing == {fid: (fen, fen) for fid, fen in paid.items()}
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
    page = client.get(f"/admin/settlement/payouts/{batches[qujing.id].id}").get_data(as_text=True)
    assert "曲靖市财政局" in page and "¥375.00" in page
    page = client.get("/admin/settlement/payouts").get_data(as_text=True)
    assert 'data-testid="payer-totals"' in page and "¥875.01" in page
    page = client.get(f"/admin/dashboard?year={cf.programme.year}").get_data(as_text=True)
    assert 'data-testid="table-funders"' in page and "曲靖市财政局 · " in page


def test_one_treasury_s_failed_part_goes_back_alone(session, co_funded_world):
    cf = co_funded_world
    w = cf.settlement
    order = cf.order("530103", 200_003)
    (line,) = w.approved_claim(order).lines
    province = w.sent_batch(funder_id=cf.province.id)
    kunming = w.sent_batch(funder_id=cf.kunming.id)
    w.confirm(province, w.confirmation_csv(province))
    w.confirm(kunming, w.confirmation_csv(kunming, {kunming.lines[0].id: "failed"}))
    # The province's part stays paid; only Kunming's part waits again, in Kunming's queue.
    session.refresh(line)
    assert line.status is ClaimLineStatus.IN_PAYOUT and line.payout_line_id == province.lines[0].id
    assert [
        (d.line.id, d.part.funder_id, d.part.amount_fen) for d in payouts.payout_due(session)
    ] == [(line.id, cf.kunming.id, 50_000)]
    session.refresh(order)
    assert order.status is OrderStatus.CLAIM_APPROVED
    assert verify_books(session).ok
    again = w.sent_batch(funder_id=cf.kunming.id)
    assert again.total_fen == 50_000
    w.confirm(again, w.confirmation_csv(again, transaction_prefix="R"))
    session.refresh(line)
    session.refresh(order)
    assert line.status is ClaimLineStatus.PAID and order.status is OrderStatus.PAID_OUT
    report = verify_books(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]


def test_a_treasury_without_an_account_is_left_out(session, co_funded_world):
    cf = co_funded_world
    w = cf.settlement
    cf.kunming.bank_account_number = cf.kunming.bank_account_name = cf.kunming.bank_name = None
    session.flush()
    w.approved_claim(cf.order("530103", 200_003))
    with pytest.raises(DomainError) as caught:
        w.batch(funder_id=cf.kunming.id)
    assert caught.value.code == "treasury_account_missing"
    built = payouts.create_batches(session, actor_id=w.finance.id, now=CLAIM_NOW)
    assert [b.funder_id for b in built.batches] == [cf.province.id]
    assert built.skipped_funders == [(cf.kunming.id, cf.kunming.name)]


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
