"""Disputes: who may open them and when, mediation, and each decision's money — every outcome
leaves the ledger balanced (``verify_ledger`` after each)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.enums import Role
from marketplace.errors import PermissionDenied, PreconditionFailed
from marketplace.orders import copayment, core, delivery, disputes
from marketplace.orders.enums import Actor, DisputeStatus, OrderAction, Outcome
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.errors import (
    ActorNotAllowed,
    DisputeClosed,
    DisputeExists,
    DisputeWindowClosed,
    IllegalTransition,
    OrderNotFound,
    RemedyInvalid,
)
from marketplace.orders.files import Upload
from marketplace.orders.models import Order
from marketplace.payments.models import Payment
from providers.enums import CreditEventKind
from providers.errors import UnsupportedFileType
from providers.models import CreditEvent, Provider
from tests.support.provider_fixtures import ELF, PNG
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import ledger
from vouchers.enums import AccountKind, HoldStatus
from vouchers.models import Hold, Quota, Voucher
from vouchers.verify import verify_ledger

NOW = VOUCHER_NOW
LATER = NOW + timedelta(days=3)


def _ledger_ok(session):
    report = verify_ledger(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]


def _payable(session, order):
    account = ledger.get_account(
        session,
        AccountKind.PROVIDER_PAYABLE,
        programme_id=order.voucher.programme_id,
        provider_id=order.provider_id,
    )
    return ledger.balance_of(session, account)


def _dispute(session, order_world, order, when=LATER):
    return disputes.open_dispute(
        session, order.id, order_world.sme(order), reason="报告缺少检测数据", now=when
    )


def _decide(session, order_world, order, outcome, **amounts):
    return disputes.decide(
        session,
        order.id,
        order_world.staff(Role.REVIEWER),
        outcome=outcome,
        note="经调解认定",
        now=LATER + timedelta(days=1),
        **amounts,
    )


def _upheld_events(session, order):
    return list(
        session.scalars(
            sa.select(CreditEvent.kind).where(
                CreditEvent.provider_id == order.provider_id,
                CreditEvent.order_ref == f"order:{order.id}",
            )
        )
    )


# --------------------------------------------------------------------------- opening


def test_dispute_within_the_window_freezes_the_order(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    dispute = _dispute(session, order_world, order, when=delivery.china_noon(order.confirm_by))
    assert (order.status, dispute.status, dispute.opened_from) == (
        S.DISPUTED,
        DisputeStatus.OPEN,
        S.DELIVERED,
    )
    assert session.get(Hold, order.hold_id).status is HoldStatus.OPEN


def test_dispute_after_the_window_is_refused(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    with pytest.raises(DisputeWindowClosed):
        _dispute(
            session,
            order_world,
            order,
            when=delivery.china_noon(order.confirm_by + timedelta(days=1)),
        )
    assert order.status is S.DELIVERED


def test_only_the_sme_disputes_and_only_delivered_orders(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    with pytest.raises(ActorNotAllowed):
        disputes.open_dispute(
            session, order.id, order_world.provider_user(order), reason="x", now=LATER
        )
    stranger = order_world.sme(order_world.create_enterprise())
    with pytest.raises(OrderNotFound):
        disputes.open_dispute(session, order.id, stranger, reason="x", now=LATER)
    with pytest.raises(PreconditionFailed):
        disputes.open_dispute(
            session, order.id, order_world.sme(order), reason="x", now=LATER, expected_version=2
        )
    paid = create_order(S.PAID)
    with pytest.raises(IllegalTransition):
        _dispute(session, order_world, paid)


def test_a_confirmed_order_can_be_disputed_once(session, order_world, create_order):
    order = create_order(S.CONFIRMED)
    dispute = _dispute(session, order_world, order)
    assert dispute.opened_from is S.CONFIRMED
    _decide(session, order_world, order, Outcome.DISMISS)
    assert order.status is S.CONFIRMED
    with pytest.raises(DisputeExists):
        _dispute(session, order_world, order)


# --------------------------------------------------------------------------- mediation


def test_mediation_messages_and_documents(session, order_world, create_order):
    order = create_order(S.DISPUTED)
    reviewer = order_world.staff(Role.REVIEWER)
    for user, party in (
        (order_world.sme(order), Actor.ENTERPRISE),
        (order_world.provider_user(order), Actor.PROVIDER),
        (reviewer, Actor.REVIEWER),
    ):
        message = disputes.post_message(session, order.id, user, body=f"{party.value} 的意见")
        assert message.party is party
    document = disputes.add_document(
        session,
        order_world.storage,
        order.id,
        order_world.provider_user(order),
        upload=Upload("原始记录.png", io.BytesIO(PNG)),
    )
    assert (document.content_type, document.party) == ("image/png", Actor.PROVIDER)
    found = disputes.get_document(session, order.id, document.id, reviewer)
    assert found.id == document.id
    with pytest.raises(UnsupportedFileType):
        disputes.add_document(
            session,
            order_world.storage,
            order.id,
            reviewer,
            upload=Upload("x.pdf", io.BytesIO(ELF)),
        )
    with pytest.raises(PermissionDenied):
        disputes.post_message(session, order.id, order_world.staff(Role.FINANCE), body="财务意见")
    with pytest.raises(OrderNotFound):
        disputes.post_message(
            session, order.id, order_world.sme(order_world.create_enterprise()), body="x"
        )
    assert len(disputes.dispute_of(session, order).messages) == 3


def test_no_messages_after_the_decision(session, order_world, create_order):
    order = create_order(S.DISPUTED)
    _decide(session, order_world, order, Outcome.DISMISS)
    with pytest.raises(DisputeClosed):
        disputes.post_message(session, order.id, order_world.sme(order), body="还有问题")


def test_only_a_reviewer_decides(session, order_world, create_order):
    order = create_order(S.DISPUTED)
    for user in (
        order_world.sme(order),
        order_world.provider_user(order),
        order_world.staff(Role.FINANCE),
    ):
        with pytest.raises(ActorNotAllowed):
            disputes.decide(session, order.id, user, outcome=Outcome.DISMISS, note="x")
    with pytest.raises(PreconditionFailed):
        disputes.decide(
            session,
            order.id,
            order_world.staff(Role.REVIEWER),
            outcome=Outcome.DISMISS,
            note="x",
            expected_version=1,
        )
    assert order.status is S.DISPUTED


# --------------------------------------------------------------------------- outcomes


def test_dismiss_captures_the_hold(session, order_world, create_order):
    order = create_order(S.DISPUTED, price_fen=200_000)
    dispute = _decide(session, order_world, order, Outcome.DISMISS)
    assert (order.status, dispute.status, dispute.refund_fen) == (
        S.CONFIRMED,
        DisputeStatus.DISMISSED,
        0,
    )
    assert session.get(Hold, order.hold_id).captured_fen == 100_000
    assert _payable(session, order) == 100_000
    assert _upheld_events(session, order) == []
    _ledger_ok(session)


def test_partial_uphold_before_capture(session, order_world, create_order):
    order = create_order(S.DISPUTED, price_fen=200_000)
    voucher = order.voucher
    # Take ¥400 off: ¥200 back to the SME, ¥200 back to the voucher. New price ¥1,600,
    # voucher part ¥800 = 50% of ¥1,600.
    dispute = _decide(
        session,
        order_world,
        order,
        Outcome.UPHOLD_PARTIAL,
        refund_fen=20_000,
        voucher_restore_fen=20_000,
    )
    assert (order.status, order.price_fen, order.voucher_part_fen, order.co_payment_fen) == (
        S.CONFIRMED,
        160_000,
        80_000,
        80_000,
    )
    assert (order.price_reduction_fen, order.refund_due_fen) == (40_000, 20_000)
    assert (dispute.refund_fen, dispute.voucher_restored_fen) == (20_000, 20_000)
    hold = session.get(Hold, order.hold_id)
    assert (hold.status, hold.captured_fen, hold.released_fen) == (
        HoldStatus.CAPTURED,
        80_000,
        20_000,
    )
    assert _payable(session, order) == 80_000
    session.refresh(voucher)
    assert voucher.balance_fen == voucher.face_value_fen - 80_000
    assert order.invoice.amount_fen == order.price_fen + order.price_reduction_fen
    assert _upheld_events(session, order) == [CreditEventKind.UPHELD_DISPUTE]
    # Finance makes the bank refund; the amount owed drops to zero.
    copayment.record_refund(
        session, order.id, order_world.staff(Role.FINANCE), bank_reference="RF-1"
    )
    session.refresh(order)
    payment = session.scalar(sa.select(Payment).where(Payment.reference == f"order:{order.id}"))
    assert (order.refund_due_fen, payment.refunded_fen) == (0, 20_000)
    _ledger_ok(session)


def test_partial_uphold_after_capture_reverses_part_of_it(session, order_world, create_order):
    order = create_order(S.CONFIRMED, price_fen=200_000)
    assert _payable(session, order) == 100_000
    _dispute(session, order_world, order)
    _decide(
        session,
        order_world,
        order,
        Outcome.UPHOLD_PARTIAL,
        refund_fen=0,
        voucher_restore_fen=40_000,
    )
    hold = session.get(Hold, order.hold_id)
    assert (hold.status, hold.captured_fen, hold.released_fen) == (
        HoldStatus.CAPTURED,
        60_000,
        40_000,
    )
    assert _payable(session, order) == 60_000
    assert (order.price_fen, order.voucher_part_fen, order.co_payment_fen) == (
        160_000,
        60_000,
        100_000,
    )
    voucher = session.get(Voucher, order.voucher_id)
    quota = session.get(Quota, hold.quota_id)
    assert (voucher.used_fen, quota.used_fen) == (60_000, 60_000)
    _ledger_ok(session)


def test_partial_uphold_must_respect_the_ceiling_and_bounds(session, order_world, create_order):
    order = create_order(S.DISPUTED, price_fen=200_000)
    cases = [
        ({"refund_fen": 0, "voucher_restore_fen": 0}, "refund_fen"),
        ({"refund_fen": 100_001, "voucher_restore_fen": 0}, "refund_fen"),
        ({"refund_fen": 0, "voucher_restore_fen": 100_001}, "voucher_restore_fen"),
        ({"refund_fen": 100_000, "voucher_restore_fen": 100_000}, "refund_fen"),
        # Refunding ¥500 alone would leave a ¥1,000 voucher part on a ¥1,500 price (> 50%).
        ({"refund_fen": 50_000, "voucher_restore_fen": 0}, "voucher_restore_fen"),
    ]
    for amounts, field in cases:
        with pytest.raises(RemedyInvalid) as info:
            _decide(session, order_world, order, Outcome.UPHOLD_PARTIAL, **amounts)
        assert info.value.field == field, amounts
    assert order.status is S.DISPUTED and session.get(Hold, order.hold_id).status is HoldStatus.OPEN


def test_full_uphold_before_capture_refunds_everything(session, order_world, create_order):
    order = create_order(S.REFUNDED, price_fen=200_000)
    dispute = disputes.dispute_of(session, order)
    assert (order.status, dispute.status) == (S.REFUNDED, DisputeStatus.UPHELD_FULL)
    assert (dispute.refund_fen, dispute.voucher_restored_fen, order.refund_due_fen) == (
        100_000,
        100_000,
        100_000,
    )
    assert session.get(Hold, order.hold_id).status is HoldStatus.RELEASED
    assert order.voucher.balance_fen == order.voucher.face_value_fen
    copayment.record_refund(
        session, order.id, order_world.staff(Role.FINANCE), bank_reference="RF-2"
    )
    session.refresh(order)
    assert order.refund_due_fen == 0
    assert _upheld_events(session, order) == [CreditEventKind.UPHELD_DISPUTE]
    _ledger_ok(session)


def test_full_uphold_after_capture_reverses_it(session, order_world, create_order):
    order = create_order(S.CONFIRMED, price_fen=200_000)
    _dispute(session, order_world, order)
    _decide(session, order_world, order, Outcome.UPHOLD_FULL)
    hold = session.get(Hold, order.hold_id)
    assert (order.status, hold.status, hold.captured_fen, hold.released_fen) == (
        S.REFUNDED,
        HoldStatus.RELEASED,
        0,
        100_000,
    )
    assert _payable(session, order) == 0
    session.refresh(order.voucher)
    assert order.voucher.balance_fen == order.voucher.face_value_fen
    assert order.refund_due_fen == 100_000
    provider = session.get(Provider, order.provider_id)
    assert provider.credit_score < 75
    _ledger_ok(session)


def test_a_claimed_order_can_be_disputed_and_returns_to_confirmed(
    session, order_world, create_order
):
    """The settlement work moves a confirmed order to claimed; a dispute freezes it there."""
    order = create_order(S.CONFIRMED)
    locked = core.lock_with_payment(session, order.id)[0]
    core.record_transition(
        session, locked, OrderAction.CLAIM, Actor.PROVIDER, order_world.provider_user(order).id
    )
    dispute = _dispute(session, order_world, order)
    assert (order.status, dispute.opened_from) == (S.DISPUTED, S.CLAIMED)
    _decide(session, order_world, order, Outcome.DISMISS)
    assert order.status is S.CONFIRMED
    _ledger_ok(session)


def test_every_outcome_keeps_the_books(session, order_world, create_order):
    """One ledger, many orders in every state at once: still balanced."""
    for status in (S.CONFIRMED, S.DELIVERED, S.CANCELLED, S.REFUNDED, S.AGREED):
        create_order(status)
    order = create_order(S.DISPUTED)
    _decide(
        session,
        order_world,
        order,
        Outcome.UPHOLD_PARTIAL,
        refund_fen=10_000,
        voucher_restore_fen=10_000,
    )
    _ledger_ok(session)
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == 6
