"""Every step of an order through the real services, and every refusal: nothing changes on
a refused step (same status, same version, no new history)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.enums import Role
from marketplace.errors import NotFound, PreconditionFailed, ValidationFailed
from marketplace.notifications.models import OutboundEmail
from marketplace.orders import copayment, delivery, services
from marketplace.orders.enums import Actor, OrderStatus
from marketplace.orders.errors import (
    ActorNotAllowed,
    IllegalTransition,
    InvoiceMismatch,
    InvoiceReused,
    OrderNotFound,
    PriceRequired,
    RatingNotAllowed,
    ReportRequired,
)
from marketplace.orders.files import Upload
from marketplace.orders.models import Invoice, Order, OrderEvent
from marketplace.payments.enums import PaymentStatus
from marketplace.payments.models import Payment
from providers.enums import CreditEventKind, PricingMode, ProviderStatus, RelationKind
from providers.errors import (
    DuplicateRating,
    NotInProgramme,
    ProviderSuspended,
    RelatedPartyConflict,
    ServiceInactive,
    UnsupportedFileType,
)
from providers.models import CreditEvent, RelatedParty
from tests.support.order_fixtures import invoice_for, report
from tests.support.provider_fixtures import ELF
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers.enums import HoldStatus, VerificationStatus
from vouchers.errors import EnterpriseBlacklisted, EnterpriseUnverified
from vouchers.models import Hold
from vouchers.verify import verify_ledger

S = OrderStatus
NOW = VOUCHER_NOW


def _assert_ledger_ok(session):
    report_ = verify_ledger(session)
    assert report_.ok, [(c.name, c.breaches) for c in report_.checks if c.breaches]


def _unchanged(session, order, status, version):
    session.expire_all()
    fresh = session.get(Order, order.id)
    assert (fresh.status, fresh.version) == (status, version)
    return fresh


# --------------------------------------------------------------------------- request


def test_request_creates_an_order_and_tells_the_provider(session, order_world, create_service):
    service = create_service(price_fen=80_000)
    seller = order_world.provider_user(service.provider)
    sme = order_world.sme(order_world.create_enterprise())
    order = services.request_service(session, sme, service.id, note=" 两个样品 ", quantity=2)
    assert (order.status, order.version, order.quantity, order.request_note) == (
        S.REQUESTED,
        1,
        2,
        "两个样品",
    )
    assert (order.enterprise_id, order.provider_id) == (sme.enterprise_id, service.provider_id)
    mails = session.scalars(sa.select(OutboundEmail).where(OutboundEmail.user_id == seller.id))
    assert [m.template for m in mails] == ["order_update"]
    assert session.scalar(
        sa.select(AuditEvent.id).where(
            AuditEvent.action == "order.requested", AuditEvent.subject_id == order.id
        )
    )


@pytest.mark.parametrize(
    ("enterprise", "error"),
    [
        ({"blacklisted": True, "blacklist_reason": "法院失信名单"}, EnterpriseBlacklisted),
        ({"verification_status": VerificationStatus.PENDING}, EnterpriseUnverified),
    ],
    ids=["blacklisted", "unverified"],
)
def test_request_refused_for_ineligible_enterprises(
    session, order_world, create_service, enterprise, error
):
    service = create_service()
    sme = order_world.sme(order_world.create_enterprise(**enterprise))
    with pytest.raises(error):
        services.request_service(session, sme, service.id, note=None)
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_request_refused_for_unorderable_services(
    session, order_world, create_service, create_provider
):
    sme = order_world.sme(order_world.create_enterprise())
    suspended = create_service(create_provider(status=ProviderStatus.SUSPENDED))
    with pytest.raises(ProviderSuspended):
        services.request_service(session, sme, suspended.id, note=None)
    inactive = create_service(is_active=False)
    with pytest.raises(ServiceInactive):
        services.request_service(session, sme, inactive.id, note=None)
    related = create_service()
    session.add(
        RelatedParty(
            provider_id=related.provider_id,
            credit_code=sme.enterprise.credit_code,
            name=sme.enterprise.name,
            relation=RelationKind.SUBSIDIARY,
        )
    )
    session.flush()
    with pytest.raises(RelatedPartyConflict):
        services.request_service(session, sme, related.id, note=None)
    with pytest.raises(NotFound):
        services.request_service(session, sme, 2**40, note=None)
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_only_enterprise_users_request(session, order_world, create_service):
    service = create_service()
    with pytest.raises(ActorNotAllowed):
        services.request_service(
            session, order_world.provider_user(service.provider), service.id, note=None
        )
    with pytest.raises(ValidationFailed):
        services.request_service(
            session,
            order_world.sme(order_world.create_enterprise()),
            service.id,
            note=None,
            quantity=0,
        )


# --------------------------------------------------------------------------- quote / decline


def test_fixed_price_accepted_at_list_price_times_quantity(session, order_world, create_service):
    service = create_service(price_fen=80_000)
    order = order_world.create(S.REQUESTED, service=service, quantity=3)
    services.quote(session, order.id, order_world.provider_user(order), now=NOW)
    assert (order.status, order.price_fen, order.version) == (S.QUOTED, 240_000, 2)
    event = order.events[-1]
    assert (event.actor, event.action.value, event.from_status, event.to_status) == (
        Actor.PROVIDER,
        "quote",
        S.REQUESTED,
        S.QUOTED,
    )
    # A revised quote is allowed until the SME accepts.
    services.quote(session, order.id, order_world.provider_user(order), price_fen=230_000)
    assert (order.price_fen, order.version) == (230_000, 3)


def test_quote_on_request_needs_a_price(session, order_world, create_service):
    service = create_service(pricing=PricingMode.QUOTE)
    order = order_world.create(S.REQUESTED, service=service)
    with pytest.raises(PriceRequired):
        services.quote(session, order.id, order_world.provider_user(order))
    _unchanged(session, order, S.REQUESTED, 1)


def test_quote_refusals(session, order_world, create_order):
    order = create_order(S.REQUESTED)
    other_provider = order_world.provider_user(order_world.create_provider())
    with pytest.raises(OrderNotFound) as info:
        services.quote(session, order.id, other_provider, price_fen=1000)
    assert info.value.status == 404
    with pytest.raises(ActorNotAllowed) as denied:
        services.quote(session, order.id, order_world.sme(order), price_fen=1000)
    assert denied.value.status == 403
    with pytest.raises(ActorNotAllowed):
        services.quote(session, order.id, order_world.staff(Role.REVIEWER), price_fen=1000)
    auditor = order_world.staff(Role.AUDITOR)
    with pytest.raises(Exception) as read_only:
        services.quote(session, order.id, auditor, price_fen=1000)
    assert read_only.value.status == 403
    with pytest.raises(PreconditionFailed) as stale:
        services.quote(
            session, order.id, order_world.provider_user(order), price_fen=1000, expected_version=7
        )
    assert stale.value.status == 412 and stale.value.extra == {"current_version": 1}
    with pytest.raises(OrderNotFound):
        services.quote(session, 2**62, order_world.provider_user(order), price_fen=1000)
    _unchanged(session, order, S.REQUESTED, 1)


def test_decline_needs_a_reason_and_ends_the_order(session, order_world, create_order):
    order = create_order(S.QUOTED)
    seller = order_world.provider_user(order)
    with pytest.raises(ValidationFailed):
        services.decline(session, order.id, seller, reason="   ")
    services.decline(session, order.id, seller, reason="设备检修")
    assert order.status is S.DECLINED and order.events[-1].note == "设备检修"
    with pytest.raises(IllegalTransition) as info:
        services.quote(session, order.id, seller, price_fen=1000)
    assert info.value.code == "illegal_transition" and info.value.status == 409


# --------------------------------------------------------------------------- accept / pay


def test_accept_places_the_hold_and_starts_the_co_payment(session, order_world, create_order):
    order = create_order(S.AGREED, price_fen=200_001)
    hold = session.get(Hold, order.hold_id)
    # 50% of the price, rounded down to the fen; the SME pays the rest.
    assert (hold.amount_fen, hold.status, hold.order_ref) == (
        100_000,
        HoldStatus.OPEN,
        f"order:{order.id}",
    )
    assert (order.voucher_part_fen, order.co_payment_fen) == (100_000, 100_001)
    payment = session.scalar(sa.select(Payment).where(Payment.reference == f"order:{order.id}"))
    assert (payment.amount_fen, payment.status) == (100_001, PaymentStatus.PENDING)
    assert order.agreement_accepted_at == NOW
    _assert_ledger_ok(session)


def test_accept_with_a_smaller_request_and_without_a_voucher(session, create_order):
    smaller = create_order(S.AGREED, price_fen=200_000, requested_fen=30_000)
    assert (smaller.voucher_part_fen, smaller.co_payment_fen) == (30_000, 170_000)
    full = create_order(S.AGREED, price_fen=200_000, with_voucher=False)
    assert (full.hold_id, full.voucher_part_fen, full.co_payment_fen) == (None, 0, 200_000)


def test_accept_refusals(session, order_world, create_order, funded_programme, create_programme):
    order = create_order(S.QUOTED)
    sme = order_world.sme(order)
    with pytest.raises(ValidationFailed):
        services.accept(session, order.id, sme, voucher_id=None, agree=False)
    stranger = order_world.create_enterprise()
    foreign = order_world.voucher_of(stranger, order_world.programme())
    with pytest.raises(NotFound):
        services.accept(session, order.id, sme, voucher_id=foreign.id, agree=True)
    with pytest.raises(ActorNotAllowed):
        services.accept(
            session, order.id, order_world.provider_user(order), voucher_id=None, agree=True
        )
    # A voucher from a programme the provider was not admitted to.
    from vouchers.enums import ProgrammeKind

    other = funded_programme(kind=ProgrammeKind.SERVICE)
    voucher = order_world.issue_voucher(order.enterprise, other, amount_fen=500_000)
    with pytest.raises(NotInProgramme):
        services.accept(session, order.id, sme, voucher_id=voucher.id, agree=True, now=NOW)
    _unchanged(session, order, S.QUOTED, 2)
    assert session.scalar(sa.select(sa.func.count()).select_from(Hold)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_finance_recording_the_transfer_pays_the_order(session, order_world, create_order):
    order = create_order(S.PAID)
    event = order.events[-1]
    assert (order.status, event.actor, event.actor_id) == (
        S.PAID,
        Actor.FINANCE,
        order_world.staff(Role.FINANCE).id,
    )
    assert order.paid_at == NOW
    assert order.due_on == NOW.date() + timedelta(days=order.service.lead_time_days)


def test_payment_listener_ignores_references_without_an_order(session, orders_ctx):
    from marketplace.payments import services as payments

    payment = payments.start_payment(session, "order:987654321", 1000, description="不存在的订单")
    finance = session.scalar(sa.select(sa.func.count()).select_from(Order))
    payments.record_offline_payment(
        session, payment.id, bank_reference="BANKX1", amount_fen=1000, actor_id=None
    )
    assert payment.status is PaymentStatus.SUCCEEDED and finance == 0


# --------------------------------------------------------------------------- delivery


def test_deliver_records_invoice_report_and_deadline(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    invoice = session.scalar(sa.select(Invoice).where(Invoice.order_id == order.id))
    assert invoice.amount_fen == order.price_fen
    assert invoice.buyer_taxpayer_id == order.enterprise.credit_code
    assert invoice.seller_taxpayer_id == order.provider.credit_code
    assert order.confirm_by == (NOW + timedelta(days=1)).date() + timedelta(days=7)
    assert order.report_content_type == "application/pdf"
    assert order_world.storage.path_for(order.report_path).read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"amount_fen": 199_999}, "amount_fen"),
        ({"buyer_taxpayer_id": "91530102MA6K00014A"}, "buyer_taxpayer_id"),
        ({"seller_taxpayer_id": "91530102MA6K00014A"}, "seller_taxpayer_id"),
        ({"issued_on": NOW.date() + timedelta(days=30)}, "issued_on"),
        ({"issued_on": NOW.date() - timedelta(days=30)}, "issued_on"),
    ],
    ids=["amount", "buyer", "seller", "future", "before-agreement"],
)
def test_invoice_must_match_the_order(session, order_world, create_order, override, field):
    order = create_order(S.PAID)
    with pytest.raises(InvoiceMismatch) as info:
        delivery.deliver(
            session,
            order_world.storage,
            order.id,
            order_world.provider_user(order),
            invoice=invoice_for(order, **override),
            report=report(),
            now=NOW,
        )
    assert info.value.field == field and info.value.status == 409
    _unchanged(session, order, S.PAID, 4)
    assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0


def test_an_invoice_is_used_once_on_the_whole_platform(session, order_world, create_order):
    first = create_order(S.DELIVERED)
    used = session.scalar(sa.select(Invoice).where(Invoice.order_id == first.id))
    second = create_order(S.PAID)
    with pytest.raises(InvoiceReused) as info:
        delivery.deliver(
            session,
            order_world.storage,
            second.id,
            order_world.provider_user(second),
            invoice=invoice_for(second, code=used.code, number=used.number),
            report=report(),
            now=NOW,
        )
    assert info.value.code == "invoice_reused"
    _unchanged(session, second, S.PAID, 4)


def test_invoice_number_format_and_report_are_checked(session, order_world, create_order):
    order = create_order(S.PAID)
    seller = order_world.provider_user(order)
    with pytest.raises(ValidationFailed) as bad:
        delivery.deliver(
            session,
            order_world.storage,
            order.id,
            seller,
            invoice=invoice_for(order, number="12AB", code="123"),
            report=report(),
            now=NOW,
        )
    assert set(bad.value.errors) == {"number", "code"}
    with pytest.raises(ReportRequired):
        delivery.deliver(
            session,
            order_world.storage,
            order.id,
            seller,
            invoice=invoice_for(order),
            report=None,
            now=NOW,
        )
    with pytest.raises(UnsupportedFileType):
        delivery.deliver(
            session,
            order_world.storage,
            order.id,
            seller,
            invoice=invoice_for(order),
            report=Upload("report.pdf", io.BytesIO(ELF)),
            now=NOW,
        )
    _unchanged(session, order, S.PAID, 4)
    directory = order_world.storage.directory
    assert not directory.exists() or not any(directory.iterdir())


def test_late_delivery_records_a_credit_event(session, order_world, create_order):
    order = create_order(S.PAID)
    late = NOW + timedelta(days=order.service.lead_time_days + 3)
    order_world.deliver(order, now=late)
    events = list(
        session.scalars(sa.select(CreditEvent).where(CreditEvent.provider_id == order.provider_id))
    )
    assert [(e.kind, e.order_ref) for e in events] == [
        (CreditEventKind.LATE_DELIVERY, f"order:{order.id}")
    ]
    assert order.events[-1].detail["late"] is True


# --------------------------------------------------------------------------- confirmation


def test_confirm_captures_the_voucher_part_for_the_provider(session, order_world, create_order):
    from vouchers import ledger
    from vouchers.enums import AccountKind

    order = create_order(S.CONFIRMED, price_fen=300_000)
    hold = session.get(Hold, order.hold_id)
    assert (hold.status, hold.captured_fen, hold.provider_id) == (
        HoldStatus.CAPTURED,
        150_000,
        order.provider_id,
    )
    payable = ledger.get_account(
        session,
        AccountKind.PROVIDER_PAYABLE,
        programme_id=order.voucher.programme_id,
        provider_id=order.provider_id,
    )
    assert ledger.balance_of(session, payable) == 150_000
    assert order.confirmed_at is not None
    _assert_ledger_ok(session)


def test_provider_may_not_confirm_its_own_delivery(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    with pytest.raises(ActorNotAllowed):
        delivery.confirm(session, order.id, order_world.provider_user(order))
    with pytest.raises(PreconditionFailed):
        delivery.confirm(session, order.id, order_world.sme(order), expected_version=1)
    _unchanged(session, order, S.DELIVERED, 5)
    assert session.get(Hold, order.hold_id).status is HoldStatus.OPEN


def test_auto_confirm_only_after_the_deadline(session, create_order):
    from marketplace.orders.errors import NotYetConfirmable

    order = create_order(S.DELIVERED)
    deadline = order.confirm_by
    with pytest.raises(NotYetConfirmable):
        delivery.auto_confirm(session, order.id, now=delivery.china_noon(deadline))
    assert delivery.due_for_auto_confirm(session, deadline) == []
    assert delivery.due_for_auto_confirm(session, deadline + timedelta(days=1)) == [order.id]
    delivery.auto_confirm(session, order.id, now=delivery.china_noon(deadline + timedelta(days=1)))
    assert order.status is S.CONFIRMED and order.events[-1].actor is Actor.SYSTEM
    assert session.get(Hold, order.hold_id).status is HoldStatus.CAPTURED
    with pytest.raises(IllegalTransition):
        delivery.auto_confirm(
            session, order.id, now=delivery.china_noon(deadline + timedelta(days=2))
        )
    _assert_ledger_ok(session)


# --------------------------------------------------------------------------- cancellation


def test_cancel_before_payment_releases_hold_and_cancels_payment(
    session, order_world, create_order
):
    order = create_order(S.AGREED)
    services.cancel(session, order.id, order_world.provider_user(order), reason="仪器故障", now=NOW)
    assert (order.status, order.cancel_reason, order.refund_due_fen) == (S.CANCELLED, "仪器故障", 0)
    assert session.get(Hold, order.hold_id).status is HoldStatus.RELEASED
    payment = session.scalar(sa.select(Payment).where(Payment.reference == f"order:{order.id}"))
    assert payment.status is PaymentStatus.CANCELED
    assert order.voucher.balance_fen == order.voucher.face_value_fen
    _assert_ledger_ok(session)


def test_cancel_after_payment_refunds_the_co_payment(session, order_world, create_order):
    order = create_order(S.CANCELLED)
    assert order.refund_due_fen == order.co_payment_fen == 100_000
    finance = order_world.staff(Role.FINANCE)
    with pytest.raises(ActorNotAllowed):
        copayment.record_refund(session, order.id, order_world.sme(order), bank_reference="R1")
    refund = copayment.record_refund(
        session, order.id, finance, bank_reference="REFUND0001", now=NOW
    )
    assert refund.amount_fen == 100_000
    session.refresh(order)
    payment = session.get(Payment, refund.payment_id)
    assert (order.refund_due_fen, payment.refunded_fen) == (0, 100_000)
    from marketplace.orders.errors import NoRefundDue

    with pytest.raises(NoRefundDue):
        copayment.record_refund(session, order.id, finance, bank_reference="REFUND0002")
    assert [e.action.value for e in order.events][-1] == "cancel"
    _assert_ledger_ok(session)


def test_no_cancellation_after_delivery(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    with pytest.raises(IllegalTransition):
        services.cancel(session, order.id, order_world.sme(order), reason="不想要了")
    _unchanged(session, order, S.DELIVERED, 5)


def test_stripe_co_payment_refund_is_requested_and_settles_the_due(
    session, make_app, order_world, create_order
):
    """With Stripe the refund is requested at once; the listener clears the amount owed when
    the gateway reports it (simulated here: no network in this test)."""
    from marketplace.payments import services as payments
    from marketplace.payments.enums import GatewayKind, RefundStatus
    from marketplace.payments.gateway import GatewayIntent, GatewayRefund
    from marketplace.payments.models import PaymentRefund

    stripe = make_app(
        PAYMENT_GATEWAY="stripe",
        STRIPE_SECRET_KEY="sk_test_orders",
        STRIPE_WEBHOOK_SECRET="whsec_orders",
        STRIPE_API_BASE="http://127.0.0.1:9",
    )
    order = create_order(S.AGREED, app=stripe)
    with stripe.app_context():
        payment = copayment.payment_of(session, order)
        assert payment.gateway is GatewayKind.STRIPE
        payments.apply_intent(
            session,
            payment,
            GatewayIntent(
                external_id="pi_orders_1",
                status=PaymentStatus.SUCCEEDED,
                amount_fen=payment.amount_fen,
                currency="CNY",
                payment_id=payment.id,
                reference=payment.reference,
            ),
        )
        payment.external_id = "pi_orders_1"
        assert order.status is S.PAID
        services.cancel(session, order.id, order_world.sme(order), reason="计划取消", now=NOW)
        pending = session.scalar(
            sa.select(PaymentRefund).where(PaymentRefund.payment_id == payment.id)
        )
        assert (pending.status, pending.amount_fen, order.refund_due_fen) == (
            RefundStatus.PENDING,
            payment.amount_fen,
            payment.amount_fen,
        )
        payments.apply_gateway_refund(
            session,
            payment,
            GatewayRefund(
                external_id="re_orders_1",
                status=RefundStatus.SUCCEEDED,
                amount_fen=pending.amount_fen,
                refund_id=pending.id,
                payment_external_id="pi_orders_1",
            ),
        )
        session.refresh(order)
        assert order.refund_due_fen == 0 and payment.refunded_fen == payment.amount_fen


# --------------------------------------------------------------------------- rating


def test_rating_after_confirmation_once(session, order_world, create_order):
    order = create_order(S.DELIVERED)
    sme = order_world.sme(order)
    with pytest.raises(RatingNotAllowed):
        services.rate(session, order.id, sme, stars=5, comment=None)
    delivery.confirm(session, order.id, sme, now=NOW + timedelta(days=2))
    with pytest.raises(ActorNotAllowed):
        services.rate(session, order.id, order_world.provider_user(order), stars=5, comment=None)
    rating = services.rate(session, order.id, sme, stars=4, comment="报告规范")
    assert (rating.stars, rating.order_ref, rating.service_id) == (
        4,
        f"order:{order.id}",
        order.service_id,
    )
    assert services.rating_of(session, order).id == rating.id
    with pytest.raises(DuplicateRating):
        services.rate(session, order.id, sme, stars=1, comment=None)


def test_history_is_complete(session, create_order):
    order = create_order(S.CONFIRMED)
    steps = [
        (e.action.value, e.from_status.value, e.to_status.value)
        for e in session.scalars(
            sa.select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        )
    ]
    assert steps == [
        ("quote", "requested", "quoted"),
        ("accept", "quoted", "agreed"),
        ("pay", "agreed", "paid"),
        ("deliver", "paid", "delivered"),
        ("confirm", "delivered", "confirmed"),
    ]
    assert order.version == 6
    actions = set(
        session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.subject_type == "order", AuditEvent.subject_id == order.id
            )
        )
    )
    assert {
        "order.requested",
        "order.quote",
        "order.accept",
        "order.pay",
        "order.deliver",
        "order.confirm",
    } <= actions
