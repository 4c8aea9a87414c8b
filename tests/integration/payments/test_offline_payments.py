"""Offline (bank transfer) payments: finance records receipts and refunds; no network."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from marketplace import create_app
from marketplace.audit.models import AuditEvent
from marketplace.db import unit_of_work
from marketplace.errors import DomainError, PreconditionFailed
from marketplace.notifications.models import OutboundEmail
from marketplace.payments import services
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.errors import (
    AmountMismatch,
    DuplicateBankReference,
    InvalidPayment,
    PaymentStateError,
    RefundNotAllowed,
    WrongGateway,
)
from marketplace.payments.models import Payment, PaymentRefund
from tests.conftest import app_config, rows
from tests.support.payment_fixtures import unique_reference


def _start(session, amount=50_000, payer=None, reference=None):
    return services.start_payment(
        session,
        reference or unique_reference(),
        amount,
        description="检测服务自付部分",
        payer_id=payer.id if payer else None,
    )


def test_start_offline_needs_no_gateway_call(session, offline_ctx):
    payment = _start(session)
    assert (payment.gateway, payment.status, payment.external_id) == (
        GatewayKind.OFFLINE,
        PaymentStatus.PENDING,
        None,
    )
    # Nothing queued but the audit trail's sealing job (queued by any recording, at most once a
    # second per process, so its presence here depends on timing).
    assert not [
        c for c in session.info.get("after_commit_callbacks", []) if "seal_job" not in repr(c)
    ]
    details = services.checkout(session, payment.id)
    assert details.client_secret is None
    assert payment.remittance_code == f"VM{payment.id:08d}"
    assert payment.remittance_code in (details.instructions or "")


def test_finance_records_the_transfer(session, offline_ctx, finance, create_user, heard):
    payer = create_user()
    payment = _start(session, payer=payer)
    version = payment.version

    services.record_offline_payment(
        session,
        payment.id,
        bank_reference=" CMB20261122-0001 ",
        amount_fen=50_000,
        actor_id=finance.id,
        expected_version=version,
    )

    assert payment.status is PaymentStatus.SUCCEEDED
    assert (payment.external_id, payment.recorded_by_id) == ("CMB20261122-0001", finance.id)
    assert payment.version == version + 1
    assert heard.kinds(payment.id) == ["succeeded"]
    [mail] = rows(session, OutboundEmail, OutboundEmail.user_id == payer.id)
    assert mail.template == "payment_received"
    event = session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "payment.succeeded", AuditEvent.subject_id == payment.id
        )
    )
    assert event.actor_id == finance.id and event.detail["bank_reference"] == "CMB20261122-0001"


def test_recording_refuses_what_does_not_fit(session, offline_ctx, finance, create_payment):
    payment = _start(session)
    with pytest.raises(AmountMismatch):
        services.record_offline_payment(
            session, payment.id, bank_reference="B1", amount_fen=49_999, actor_id=finance.id
        )
    with pytest.raises(InvalidPayment) as bad:
        services.record_offline_payment(
            session, payment.id, bank_reference="  ", amount_fen=50_000, actor_id=finance.id
        )
    assert bad.value.field == "bank_reference"
    with pytest.raises(PreconditionFailed):
        services.record_offline_payment(
            session,
            payment.id,
            bank_reference="B1",
            amount_fen=50_000,
            actor_id=finance.id,
            expected_version=99,
        )
    services.record_offline_payment(
        session, payment.id, bank_reference="B1", amount_fen=50_000, actor_id=finance.id
    )
    with pytest.raises(PaymentStateError):
        services.record_offline_payment(
            session, payment.id, bank_reference="B2", amount_fen=50_000, actor_id=finance.id
        )
    other = _start(session)
    with pytest.raises(DuplicateBankReference):
        services.record_offline_payment(
            session, other.id, bank_reference="B1", amount_fen=50_000, actor_id=finance.id
        )
    online = create_payment(gateway=GatewayKind.STRIPE)
    with pytest.raises(WrongGateway):
        services.record_offline_payment(
            session,
            online.id,
            bank_reference="B3",
            amount_fen=online.amount_fen,
            actor_id=finance.id,
        )
    session.refresh(other)
    assert other.status is PaymentStatus.PENDING


def test_offline_refunds_partial_then_full_never_more(
    session, offline_ctx, finance, create_user, heard
):
    payer = create_user()
    payment = _start(session, amount=10_000, payer=payer)
    with pytest.raises(RefundNotAllowed):  # nothing paid yet
        services.refund(
            session, payment.id, amount_fen=1, reason="x", actor_id=finance.id, bank_reference="R0"
        )
    services.record_offline_payment(
        session, payment.id, bank_reference="IN-1", amount_fen=10_000, actor_id=finance.id
    )

    with pytest.raises(
        InvalidPayment
    ):  # an offline refund is a transfer: its reference is required
        services.refund(session, payment.id, amount_fen=100, reason="x", actor_id=finance.id)
    part = services.refund(
        session,
        payment.id,
        amount_fen=2_500,
        reason="服务未完成部分",
        actor_id=finance.id,
        bank_reference="OUT-1",
    )
    assert (part.status, part.external_id, part.completed_at is not None) == (
        RefundStatus.SUCCEEDED,
        "OUT-1",
        True,
    )
    with pytest.raises(DuplicateBankReference):
        services.refund(
            session,
            payment.id,
            amount_fen=100,
            reason="x",
            actor_id=finance.id,
            bank_reference="OUT-1",
        )
    with pytest.raises(RefundNotAllowed):
        services.refund(
            session,
            payment.id,
            amount_fen=7_501,
            reason="x",
            actor_id=finance.id,
            bank_reference="OUT-2",
        )
    with pytest.raises(InvalidPayment):
        services.refund(
            session,
            payment.id,
            amount_fen=100,
            reason="  ",
            actor_id=finance.id,
            bank_reference="OUT-2",
        )
    services.refund(
        session,
        payment.id,
        amount_fen=7_500,
        reason="取消订单",
        actor_id=finance.id,
        bank_reference="OUT-2",
    )

    assert payment.refunded_fen == 10_000
    assert services.refundable_fen(session, payment) == 0
    assert heard.kinds(payment.id) == ["succeeded", "refunded", "refunded"]
    templates = [
        m.template for m in rows(session, OutboundEmail, OutboundEmail.user_id == payer.id)
    ]
    assert templates == ["payment_received", "refund_issued", "refund_issued"]
    assert "¥75.00" in rows(session, OutboundEmail, OutboundEmail.user_id == payer.id)[-1].subject


def test_cancel_offline_and_sync_is_a_no_op(session, offline_ctx, finance, heard):
    payment = _start(session)
    assert services.sync_from_gateway(session, payment.id).status is PaymentStatus.PENDING
    services.cancel_payment(session, payment.id, actor_id=finance.id, reason="订单取消")
    assert payment.status is PaymentStatus.CANCELED
    paid = _start(session)
    services.record_offline_payment(
        session, paid.id, bank_reference="P-9", amount_fen=50_000, actor_id=finance.id
    )
    with pytest.raises(PaymentStateError):
        services.cancel_payment(session, paid.id, actor_id=finance.id, reason="too late")
    assert heard.kinds() == ["canceled", "succeeded"]


def test_a_listener_failure_rolls_the_change_back(session, offline_ctx, finance):
    from marketplace.payments.listeners import on_payment_status, remove_listener

    def broken(session, payment, change):
        raise RuntimeError("order module bug")

    payment = _start(session, reference=unique_reference("claim"))
    on_payment_status("claim:", broken)
    try:
        with pytest.raises(RuntimeError), session.begin_nested():
            services.record_offline_payment(
                session, payment.id, bank_reference="L-1", amount_fen=50_000, actor_id=finance.id
            )
    finally:
        remove_listener("claim:", broken)
    session.expire_all()
    assert payment.status is PaymentStatus.PENDING and payment.external_id is None


# --------------------------------------------------------------------------- real races


@pytest.fixture
def fresh_app(database, tmp_path):
    app = create_app(app_config(database.fresh("payments_race"), tmp_path))
    yield app
    app.extensions["db"].engine.dispose()


def _race(app, calls) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(10)
        try:
            with app.app_context(), unit_of_work() as session:
                results[i] = calls[i](session)
        except DomainError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_refunds_cannot_exceed_the_payment(fresh_app):
    with fresh_app.app_context(), unit_of_work() as session:
        payment = _start(session, amount=10_000)
        services.record_offline_payment(
            session, payment.id, bank_reference="RACE-IN", amount_fen=10_000, actor_id=None
        )
        payment_id = payment.id

    results = _race(
        fresh_app,
        [
            lambda s, n=n: (
                services.refund(
                    s,
                    payment_id,
                    amount_fen=6_000,
                    reason="race",
                    actor_id=None,
                    bank_reference=f"RACE-OUT-{n}",
                ).id
            )
            for n in range(3)
        ],
    )

    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, RefundNotAllowed) for r in results if not isinstance(r, int))
    with fresh_app.app_context(), unit_of_work() as session:
        assert session.get(Payment, payment_id).refunded_fen == 6_000
        assert len(rows(session, PaymentRefund)) == 1


def test_concurrent_starts_make_one_payment(fresh_app):
    reference = unique_reference()
    results = _race(fresh_app, [lambda s: _start(s, reference=reference).id for _ in range(4)])
    assert len(set(results)) == 1 and isinstance(results[0], int)
    with fresh_app.app_context(), unit_of_work() as session:
        assert len(rows(session, Payment, Payment.reference == reference)) == 1


def test_one_bank_reference_pays_one_payment_under_concurrency(fresh_app):
    with fresh_app.app_context(), unit_of_work() as session:
        ids = [_start(session, amount=300).id for _ in range(3)]
    results = _race(
        fresh_app,
        [
            lambda s, pid=pid: (
                services.record_offline_payment(
                    s, pid, bank_reference="SAME-REF", amount_fen=300, actor_id=None
                ).id
            )
            for pid in ids
        ],
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, DuplicateBankReference) for r in results if not isinstance(r, int))
