"""Payment services: start, open at the gateway, record offline receipts, refund, cancel, sync.

They take a session, flush and never commit. The calling module owns the payable thing and
links to the payment through its ``reference`` (e.g. ``"order:42"``); it learns outcomes by
registering a listener (:mod:`marketplace.payments.listeners`).

Where the outbound Stripe call happens (the decision)
-----------------------------------------------------
``start_payment`` only writes our row. Opening the PaymentIntent is a **separate step that is
safe to retry**, :func:`open_at_gateway`: it runs after the commit as a job
(:mod:`marketplace.jobs`: inline without Redis, on RQ with it), again synchronously from
:func:`checkout` when the payer reaches the pay page first, and from ``flask payments sync``
after a crash. Each run locks the row, does nothing if the PaymentIntent id is already stored,
and otherwise calls Stripe with the key ``payment-<id>-create`` derived from the row, so any
number of runs, crashed or concurrent, yield exactly one PaymentIntent. Stripe forgets keys
after 24 hours; past 23 hours the step first *searches* Stripe for a PaymentIntent carrying our
payment id in its metadata and adopts it (see :func:`open_at_gateway`).

Chargebacks (gateway disputes) are reported by the gateway only (:func:`apply_gateway_dispute`,
from webhooks and :func:`sync_from_gateway`). An open or lost one withholds its amount from
:func:`refundable_fen`, which is also what the platform counts as *received* (the claim
pre-check's co-payment rule); a won one, or an inquiry closed without a chargeback, restores it.

Refunds follow the same pattern: the refund row is written first (reserving the amount), the
Stripe call runs after the commit with the key ``refund-<id>``. Offline refunds are bank
transfers made by finance and are recorded as succeeded at once.

Errors raised (all DomainError subclasses, see :mod:`marketplace.payments.errors`):
InvalidPayment, PaymentNotFound, PaymentExists, PaymentStateError, WrongGateway,
AmountMismatch, DuplicateBankReference, RefundNotAllowed, PreconditionFailed, GatewayError
(definitive refusal) and GatewayUnavailable (retry later).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from marketplace import jobs
from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.config import current_settings
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError, PreconditionFailed
from marketplace.notifications import notify
from marketplace.payments import rules
from marketplace.payments.enums import (
    DisputeNews,
    GatewayKind,
    PaymentDisputeStatus,
    PaymentNews,
    PaymentStatus,
    RefundNews,
    RefundStatus,
)
from marketplace.payments.errors import (
    AmountMismatch,
    DuplicateBankReference,
    GatewayError,
    GatewayUnavailable,
    InvalidPayment,
    PaymentExists,
    PaymentNotFound,
    PaymentStateError,
    RefundNotAllowed,
    RefundNotFound,
    WrongGateway,
)
from marketplace.payments.gateway import (
    GatewayDispute,
    GatewayIntent,
    GatewayRefund,
    PaymentGateway,
    configured_kind,
    current_gateway,
)
from marketplace.payments.listeners import PaymentChange, PaymentChangeKind, announce
from marketplace.payments.models import (
    CURRENCY,
    DISPUTE_WITHHOLDS,
    Payment,
    PaymentDispute,
    PaymentRefund,
)

log = logging.getLogger(__name__)

#: ``<kind>:<id>``: lower-case kind, then an id of letters, digits, ``_`` or ``-``.
REFERENCE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}:[A-Za-z0-9_-]{1,59}")
BANK_REFERENCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}")

OPEN_JOB = "marketplace.payments.services.open_at_gateway"
REFUND_JOB = "marketplace.payments.services.execute_refund"
SYNC_JOB = "marketplace.payments.services.sync_from_gateway"

#: Reference kinds (the part before ":") whose refunds the owning module decides, with the
#: message that says where to refund instead. An order's co-payment, for one, may only be
#: refunded for what the order owes back: a free refund would let the voucher end up above
#: 50% of what the SME actually paid (POLICY rule 2).
_REFUND_OWNERS: dict[str, str] = {}


def own_refunds(kind: str, message: str) -> None:
    """Declare that refunds of ``kind:…`` payments go through the owning module only."""
    _REFUND_OWNERS[kind] = message


def refund_owner_message(payment: Payment) -> str | None:
    """Where refunds of ``payment`` must be made instead, if its kind is owned."""
    return _REFUND_OWNERS.get(payment.reference.partition(":")[0])


_STATUS_CHANGE = {
    PaymentStatus.SUCCEEDED: PaymentChangeKind.SUCCEEDED,
    PaymentStatus.FAILED: PaymentChangeKind.FAILED,
    PaymentStatus.CANCELED: PaymentChangeKind.CANCELED,
}


# --------------------------------------------------------------------------- lookups


def get_payment(session: Session, payment_id: int, *, lock: bool = False) -> Payment:
    """The payment, optionally locked (``FOR UPDATE``) and re-read; PaymentNotFound if none."""
    stmt = sa.select(Payment).where(Payment.id == payment_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    payment = session.scalar(stmt)
    if payment is None:
        raise PaymentNotFound(f"付款 {payment_id} 不存在 / no payment {payment_id}")
    return payment


def live_payment(session: Session, reference: str, *, lock: bool = False) -> Payment | None:
    """The payment for ``reference`` that is not canceled (at most one exists)."""
    stmt = sa.select(Payment).where(
        Payment.reference == reference, Payment.status != PaymentStatus.CANCELED
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def refunds_in_flight_fen(session: Session, payment: Payment) -> int:
    """The amount of the payment's pending refunds (each reserves its amount)."""
    in_flight = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(PaymentRefund.amount_fen), 0)).where(
            PaymentRefund.payment_id == payment.id, PaymentRefund.status == RefundStatus.PENDING
        )
    )
    return int(in_flight or 0)


def refundable_fen(session: Session, payment: Payment) -> int:
    """What the platform holds of a paid payment: paid minus refunded minus refunds in flight
    minus open or lost chargebacks, never below zero. It is both what may still be refunded
    and what counts as *received* (the claim pre-check's co-payment rule)."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        return 0
    held = (
        payment.amount_fen
        - payment.refunded_fen
        - refunds_in_flight_fen(session, payment)
        - payment.disputed_fen
    )
    return max(0, held)


def _check_version(payment: Payment, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != payment.version:
        raise PreconditionFailed(
            "付款已被他人修改，请刷新后重试 / the payment changed since you read it; reload and retry",
            extra={"current_version": payment.version},
        )


# --------------------------------------------------------------------------- start / open


def start_payment(
    session: Session,
    reference: str,
    amount_fen: int,
    *,
    description: str,
    payer_id: int | None = None,
    gateway: GatewayKind | None = None,
    actor_id: int | None = None,
) -> Payment:
    """Create the payment for ``reference`` (or return the live one for the same amount).

    The row is flushed at once; for Stripe, opening the PaymentIntent is queued for after the
    commit (see the module docstring). Raises InvalidPayment for a malformed reference,
    amount or description, and PaymentExists when the reference already has a live payment
    for a different amount (cancel that one first).
    """
    if not isinstance(reference, str) or not REFERENCE_PATTERN.fullmatch(reference):
        raise InvalidPayment(
            "付款对象格式应为 类型:编号 / the reference must look like 'order:42'",
            field="reference",
        )
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidPayment(
            "金额必须为正整数（分）/ the amount must be positive fen", field="amount_fen"
        )
    description = (description or "").strip()
    if not 1 <= len(description) <= 200:
        raise InvalidPayment(
            "请填写 1–200 字的说明 / give a description of 1–200 characters", field="description"
        )
    kind = gateway or configured_kind(current_settings())

    # The partial UNIQUE index on live payments' references answers "one already?": the
    # insert claims the reference or inserts nothing (also when a concurrent request took it
    # first); only then is the live payment read. No read before, no savepoint around.
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    payment = session.scalars(
        module.insert(Payment)
        .values(
            reference=reference,
            description=description,
            amount_fen=amount_fen,
            currency=CURRENCY,
            gateway=kind,
            status=PaymentStatus.PENDING,
            refunded_fen=0,
            payer_id=payer_id,
        )
        .on_conflict_do_nothing()
        .returning(Payment)
        # A new payment has no refunds or chargebacks: read them only if asked for.
        .options(lazyload(Payment.refunds), lazyload(Payment.disputes))
    ).one_or_none()
    if payment is None:
        existing = live_payment(session, reference, lock=True)
        if existing is None:  # pragma: no cover - the only unique key a new row can hit
            raise InvalidPayment("付款冲突，请重试 / the payment conflicts; retry")
        return _same_payment_or_conflict(existing, amount_fen)
    record(
        session,
        "payment.started",
        actor_id=actor_id if actor_id is not None else payer_id,
        subject_type="payment",
        subject_id=payment.id,
        reference=reference,
        amount_fen=amount_fen,
        gateway=kind.value,
    )
    if kind is GatewayKind.STRIPE:
        jobs.enqueue(session, OPEN_JOB, payment.id)
    return payment


def _same_payment_or_conflict(existing: Payment, amount_fen: int) -> Payment:
    if existing.amount_fen == amount_fen:
        return existing
    raise PaymentExists(
        f"该事项已有一笔 {existing.amount_fen} 分的付款（编号 {existing.id}），请先取消 / "
        f"{existing.reference} already has payment {existing.id} for {existing.amount_fen} fen; "
        "cancel it first",
        extra={"payment_id": existing.id},
    )


def open_at_gateway(
    session: Session,
    payment_id: int,
    *,
    gateway: PaymentGateway | None = None,
    now: datetime | None = None,
) -> Payment:
    """Job and retry-safe step: make sure the payment exists at its gateway, exactly once.

    Does nothing for offline payments, for payments that already carry a gateway id, and for
    payments no longer pending. Within 23 hours of the row's creation it calls the gateway with
    the key ``payment-<id>-create`` (the gateway answers a repeat with the first result). Later,
    when the gateway may have forgotten that key, it first searches the gateway for an intent
    carrying our payment id and reference and adopts it; only if none exists does it create
    one, with a key per UTC day. Raises GatewayError / GatewayUnavailable from the gateway,
    with nothing stored.
    """
    payment = get_payment(session, payment_id, lock=True)
    if (
        payment.gateway is GatewayKind.OFFLINE
        or payment.external_id is not None
        or payment.status is not PaymentStatus.PENDING
    ):
        return payment
    gw = gateway or current_gateway(payment.gateway)
    now = now or utcnow()
    intent: GatewayIntent | None = None
    if rules.within_idempotency_window(payment.created_at, now):
        key = rules.create_key(payment.id)
    else:
        intent = gw.find_intent(payment_id=payment.id, reference=payment.reference)
        key = rules.late_create_key(payment.id, now)
    adopted = intent is not None
    if intent is None:
        intent = gw.create_intent(
            payment_id=payment.id,
            reference=payment.reference,
            amount_fen=payment.amount_fen,
            currency=payment.currency,
            idempotency_key=key,
        )
    if intent.external_id is None or not _intent_matches(payment, intent):
        raise GatewayError(
            "支付网关返回的付款与本记录不符 / the gateway returned a payment that does not match",
            extra={"payment_id": payment.id},
        )
    payment.external_id = intent.external_id
    session.flush()
    record(
        session,
        "payment.opened",
        actor_id=None,
        subject_type="payment",
        subject_id=payment.id,
        external_id=intent.external_id,
        idempotency_key=None if adopted else key,
        adopted=adopted,
    )
    apply_intent(session, payment, intent, now=now)
    return payment


def checkout(session: Session, payment_id: int) -> GatewayIntent:
    """What the pay page needs: Stripe's client secret, or the offline transfer instructions.

    Opens the payment at the gateway first if the after-commit job has not done it yet (same
    idempotency key, so this never makes a second PaymentIntent). Raises PaymentStateError
    when the payment is no longer payable.
    """
    payment = get_payment(session, payment_id)
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        raise PaymentStateError(
            "该付款无需再支付 / this payment is not awaiting payment",
            extra={"status": payment.status.value},
        )
    gw = current_gateway(payment.gateway)
    if payment.gateway is GatewayKind.OFFLINE:
        return gw.create_intent(
            payment_id=payment.id,
            reference=payment.reference,
            amount_fen=payment.amount_fen,
            currency=payment.currency,
            idempotency_key=rules.create_key(payment.id),
        )
    payment = open_at_gateway(session, payment.id, gateway=gw)
    assert payment.external_id is not None
    return gw.retrieve_intent(payment.external_id)


def _intent_matches(payment: Payment, intent: GatewayIntent) -> bool:
    return (
        intent.amount_fen == payment.amount_fen
        and intent.currency.upper() == payment.currency
        and (intent.payment_id is None or intent.payment_id == payment.id)
        and (intent.reference is None or intent.reference == payment.reference)
    )


# --------------------------------------------------------------------------- status changes


def apply_intent(
    session: Session,
    payment: Payment,
    intent: GatewayIntent,
    *,
    now: datetime | None = None,
) -> bool:
    """Apply what the gateway reports about ``payment`` (webhook or sync), under the status
    precedence of :data:`rules.PAYMENT` (stale news is ignored). Returns whether anything
    changed. An intent whose amount or currency differs from ours is never applied (audited as
    ``payment.gateway_mismatch``)."""
    if not _intent_matches(payment, intent):
        log.error("gateway intent %s does not match payment %s", intent.external_id, payment.id)
        record(
            session,
            "payment.gateway_mismatch",
            actor_id=None,
            subject_type="payment",
            subject_id=payment.id,
            external_id=intent.external_id,
            gateway_amount_fen=intent.amount_fen,
            gateway_currency=intent.currency,
        )
        return False
    news = PaymentNews.reporting(intent.status)
    if not rules.PAYMENT.allows(payment.status, news):
        return False  # stale or repeated news: the payment already holds a later status
    _move_payment(
        session,
        payment,
        news,
        now=now or utcnow(),
        actor_id=None,
        failure_message=intent.failure_message,
    )
    return True


def _move_payment(
    session: Session,
    payment: Payment,
    news: PaymentNews,
    *,
    now: datetime,
    actor_id: int | None,
    failure_message: str | None = None,
    on_unique_conflict: DomainError | None = None,
    **detail: Any,
) -> None:
    """The one place a payment's status changes: move it by ``news`` (:data:`rules.PAYMENT`),
    stamp what the new status needs, flush, then audit, tell the listeners and e-mail the payer.

    ``news`` must have a move from the current status: gateway news is asked about first
    (stale news is ignored), people's steps are checked first with their own errors.
    ``on_unique_conflict`` is raised instead of the IntegrityError when the flush breaks a
    unique key the caller has just written (a bank reference recorded concurrently).
    """
    before, after = rules.PAYMENT.move(payment, news)
    if after is PaymentStatus.SUCCEEDED:
        payment.succeeded_at = now
        payment.failure_message = None
    elif after is PaymentStatus.FAILED:
        payment.failure_message = (failure_message or "支付被拒绝 / payment declined")[:500]
    if on_unique_conflict is None:
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise on_unique_conflict from None
    record(
        session,
        f"payment.{after.value}",
        actor_id=actor_id,
        subject_type="payment",
        subject_id=payment.id,
        reference=payment.reference,
        previous=before.value,
        **detail,
    )
    kind = _STATUS_CHANGE.get(after)
    if kind is not None:
        announce(session, payment, PaymentChange(kind=kind, amount_fen=payment.amount_fen))
    if after is PaymentStatus.SUCCEEDED:
        _receipt(session, payment, "payment_received")
    elif after is PaymentStatus.FAILED:
        _receipt(session, payment, "payment_failed", reason=payment.failure_message or "")


def _receipt(session: Session, payment: Payment, template: str, **context: Any) -> None:
    """E-mail the payer (sent after the commit); payments started by the system have none."""
    if payment.payer_id is None:
        return
    payer = session.get(User, payment.payer_id)
    if payer is None or not payer.is_active:
        return
    values: dict[str, Any] = {
        "name": payer.display_name,
        "amount_fen": payment.amount_fen,
        "description": payment.description,
        "payment_id": payment.id,
    }
    notify(session, payer, template, **{**values, **context})


def record_offline_payment(
    session: Session,
    payment_id: int,
    *,
    bank_reference: str,
    amount_fen: int,
    actor_id: int,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Payment:
    """Finance records the bank transfer that paid an offline payment.

    The transferred amount must equal the payment (partial transfers are settled with the
    payer outside the platform), and a bank reference pays one payment only. Raises
    WrongGateway, PaymentStateError (not pending), InvalidPayment, AmountMismatch,
    DuplicateBankReference and PreconditionFailed (``expected_version`` differs).
    """
    payment = get_payment(session, payment_id, lock=True)
    _check_version(payment, expected_version)
    if payment.gateway is not GatewayKind.OFFLINE:
        raise WrongGateway(
            "此付款通过在线支付，不能登记银行转账 / this payment is made online, not by bank transfer"
        )
    if payment.status is not PaymentStatus.PENDING:
        raise PaymentStateError(
            "此付款已登记或已取消 / this payment is already recorded or canceled",
            extra={"status": payment.status.value},
        )
    bank_reference = _clean_bank_reference(bank_reference)
    if amount_fen != payment.amount_fen:
        raise AmountMismatch(
            f"到账金额 {amount_fen} 分与应付 {payment.amount_fen} 分不符 / the amount received "
            f"({amount_fen} fen) differs from the amount due ({payment.amount_fen} fen)",
            field="amount_fen",
        )
    duplicate = session.scalar(
        sa.select(Payment.id).where(
            Payment.gateway == GatewayKind.OFFLINE, Payment.external_id == bank_reference
        )
    )
    if duplicate is not None:
        raise _duplicate_reference(bank_reference)
    payment.external_id = bank_reference
    payment.recorded_by_id = actor_id
    _move_payment(
        session,
        payment,
        PaymentNews.SUCCEEDED,
        now=now or utcnow(),
        actor_id=actor_id,
        # A concurrent recording of the same reference won (unique gateway + external id).
        on_unique_conflict=_duplicate_reference(bank_reference),
        bank_reference=bank_reference,
    )
    return payment


def _clean_bank_reference(value: str | None) -> str:
    cleaned = (value or "").strip()
    if not BANK_REFERENCE_PATTERN.fullmatch(cleaned):
        raise InvalidPayment(
            "请填写银行流水号（字母、数字，最多 100 位）/ give the bank reference "
            "(letters and digits, at most 100 characters)",
            field="bank_reference",
        )
    return cleaned


def _duplicate_reference(bank_reference: str) -> DuplicateBankReference:
    return DuplicateBankReference(
        f"银行流水号 {bank_reference} 已登记过 / bank reference {bank_reference} is already recorded",
        field="bank_reference",
    )


def cancel_payment(
    session: Session,
    payment_id: int,
    *,
    actor_id: int | None,
    reason: str,
    gateway: PaymentGateway | None = None,
    now: datetime | None = None,
) -> Payment:
    """Cancel a payment that holds no money (pending or failed).

    For Stripe the PaymentIntent is canceled at Stripe *first*: if Stripe refuses (it was paid
    meanwhile) GatewayError propagates and nothing changes here; a sync then records the
    success. Raises PaymentStateError for payments that are processing, paid or canceled.
    """
    payment = get_payment(session, payment_id, lock=True)
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        raise PaymentStateError(
            "只能取消未支付的付款 / only an unpaid payment can be canceled",
            extra={"status": payment.status.value},
        )
    if payment.gateway is GatewayKind.STRIPE and payment.external_id is not None:
        gw = gateway or current_gateway(payment.gateway)
        gw.cancel_intent(payment.external_id, idempotency_key=rules.cancel_key(payment.id))
    _move_payment(
        session,
        payment,
        PaymentNews.CANCELED,
        now=now or utcnow(),
        actor_id=actor_id,
        reason=(reason or "").strip()[:500],
    )
    return payment


# --------------------------------------------------------------------------- refunds


def refund(
    session: Session,
    payment_id: int,
    *,
    amount_fen: int,
    reason: str,
    actor_id: int | None,
    bank_reference: str | None = None,
    now: datetime | None = None,
    expected_version: int | None = None,
    owner: str | None = None,
) -> PaymentRefund:
    """Refund ``amount_fen`` of a succeeded payment (full or partial). A payment whose
    reference kind is owned (:func:`own_refunds`) is refunded only by its owner (``owner``).

    Never more than what remains: paid − refunded − refunds in flight, checked under the row
    lock and guarded again by the CHECK ``refunded_fen <= amount_fen``. Offline: finance has
    made the refund transfer and gives its ``bank_reference``; the refund succeeds at once.
    Stripe: the refund row is returned pending and the Stripe call runs after the commit
    (:func:`execute_refund`). Raises RefundNotAllowed, InvalidPayment, DuplicateBankReference,
    PaymentNotFound and PreconditionFailed.
    """
    payment = get_payment(session, payment_id, lock=True)
    owned = refund_owner_message(payment)
    if owned is not None and owner != payment.reference.partition(":")[0]:
        raise RefundNotAllowed(owned, extra={"reference": payment.reference})
    _check_version(payment, expected_version)
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 500:
        raise InvalidPayment("请填写退款原因 / give the reason for the refund", field="reason")
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise InvalidPayment(
            "金额必须为整数（分）/ the amount must be whole fen", field="amount_fen"
        )
    problem = rules.refund_problem(
        status=payment.status,
        refundable_fen=refundable_fen(session, payment),
        amount_fen=amount_fen,
    )
    if problem is not None:
        raise RefundNotAllowed(problem, field="amount_fen")
    if payment.gateway is GatewayKind.OFFLINE:
        bank_reference = _clean_bank_reference(bank_reference)
        duplicate = session.scalar(
            sa.select(PaymentRefund.id).where(
                PaymentRefund.gateway == GatewayKind.OFFLINE,
                PaymentRefund.external_id == bank_reference,
            )
        )
        if duplicate is not None:
            raise _duplicate_reference(bank_reference)
    row = PaymentRefund(
        payment_id=payment.id,
        amount_fen=amount_fen,
        gateway=payment.gateway,
        status=RefundStatus.PENDING,
        reason=reason,
        actor_id=actor_id,
    )
    session.add(row)
    session.flush()
    record(
        session,
        "payment.refund_requested",
        actor_id=actor_id,
        subject_type="payment",
        subject_id=payment.id,
        refund_id=row.id,
        amount_fen=amount_fen,
        reason=reason,
    )
    if payment.gateway is GatewayKind.OFFLINE:
        result = current_gateway(GatewayKind.OFFLINE).create_refund(
            payment_external_id=payment.external_id or "",
            refund_id=row.id,
            amount_fen=amount_fen,
            idempotency_key=rules.refund_key(row.id),
            bank_reference=bank_reference,
        )
        _apply_refund_result(session, payment, row, result, now=now or utcnow())
    else:
        jobs.enqueue(session, REFUND_JOB, row.id)
    return row


def execute_refund(
    session: Session,
    refund_id: int,
    *,
    gateway: PaymentGateway | None = None,
    now: datetime | None = None,
) -> PaymentRefund:
    """Job and retry-safe step: carry out a pending refund at the gateway, key ``refund-<id>``.

    A definitive refusal marks the refund failed (its amount is freed); GatewayUnavailable
    propagates so the job is retried with the same key.
    """
    found = session.get(PaymentRefund, refund_id)
    if found is None:
        raise RefundNotFound(f"退款 {refund_id} 不存在 / no refund {refund_id}")
    payment = get_payment(session, found.payment_id, lock=True)
    row = session.scalar(
        sa.select(PaymentRefund)
        .where(PaymentRefund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    if row.status is not RefundStatus.PENDING or row.external_id is not None:
        return row
    gw = gateway or current_gateway(payment.gateway)
    now = now or utcnow()
    try:
        result = gw.create_refund(
            payment_external_id=payment.external_id or "",
            refund_id=row.id,
            amount_fen=row.amount_fen,
            idempotency_key=rules.refund_key(row.id),
        )
    except GatewayUnavailable:
        raise
    except GatewayError as exc:
        exc.recovered()  # the gateway's definitive no is recorded on the refund
        _move_refund(session, payment, row, RefundNews.FAILED, now=now, failure=exc.message)
        return row
    _apply_refund_result(session, payment, row, result, now=now)
    return row


def _apply_refund_result(
    session: Session, payment: Payment, row: PaymentRefund, result: GatewayRefund, *, now: datetime
) -> None:
    if row.external_id is None:
        row.external_id = result.external_id
        session.flush()
    news = RefundNews.reporting(result.status)
    _move_refund(session, payment, row, news, now=now, failure=result.failure_message)


def _move_refund(
    session: Session,
    payment: Payment,
    row: PaymentRefund,
    news: RefundNews,
    *,
    now: datetime,
    failure: str | None = None,
) -> bool:
    """The one place a refund's status changes: move it by ``news`` (:data:`rules.REFUND`),
    keep ``payment.refunded_fen`` equal to the sum of succeeded refunds, audit, and tell the
    listeners and the payer. Stale news changes nothing. Returns whether the refund moved."""
    if not rules.REFUND.allows(row.status, news):
        return False
    before, after = rules.REFUND.move(row, news)
    row.completed_at = row.completed_at or now
    if after is RefundStatus.SUCCEEDED:
        payment.refunded_fen += row.amount_fen
        session.flush()
        record(
            session,
            "payment.refunded",
            actor_id=row.actor_id,
            subject_type="payment",
            subject_id=payment.id,
            refund_id=row.id,
            amount_fen=row.amount_fen,
            refunded_fen=payment.refunded_fen,
        )
        announce(
            session,
            payment,
            PaymentChange(PaymentChangeKind.REFUNDED, amount_fen=row.amount_fen, refund_id=row.id),
        )
        _receipt(
            session,
            payment,
            "refund_issued",
            amount_fen=row.amount_fen,
            paid_fen=payment.amount_fen,
            refunded_fen=payment.refunded_fen,
            reason=row.reason,
        )
        return True
    row.failure_message = (failure or "退款失败 / refund failed")[:500]
    reversed_ = before is RefundStatus.SUCCEEDED
    if reversed_:
        payment.refunded_fen -= row.amount_fen
    session.flush()
    record(
        session,
        "payment.refund_failed",
        actor_id=None,
        subject_type="payment",
        subject_id=payment.id,
        refund_id=row.id,
        amount_fen=row.amount_fen,
        reason=row.failure_message,
    )
    if reversed_:
        announce(
            session,
            payment,
            PaymentChange(
                PaymentChangeKind.REFUND_FAILED, amount_fen=row.amount_fen, refund_id=row.id
            ),
        )
    return True


def apply_gateway_refund(
    session: Session, payment: Payment, found: GatewayRefund, *, now: datetime | None = None
) -> bool:
    """Apply a refund the gateway reports (webhook or sync). Matches our row by the refund id
    we put in its metadata, else by the gateway's id; a refund made elsewhere (e.g. in the
    Stripe dashboard) gets a row of its own. Returns whether anything changed."""
    now = now or utcnow()
    row: PaymentRefund | None = None
    if found.refund_id is not None:
        candidate = session.get(PaymentRefund, found.refund_id, populate_existing=True)
        if candidate is not None and candidate.payment_id == payment.id:
            row = candidate
    if row is None:
        row = session.scalar(
            sa.select(PaymentRefund)
            .where(
                PaymentRefund.gateway == payment.gateway,
                PaymentRefund.external_id == found.external_id,
            )
            .execution_options(populate_existing=True)
        )
    created = False
    if row is None:
        if found.status is RefundStatus.FAILED:
            return False
        created = True
        row = PaymentRefund(
            payment_id=payment.id,
            amount_fen=found.amount_fen,
            gateway=payment.gateway,
            status=RefundStatus.PENDING,
            external_id=found.external_id,
            reason="在支付网关直接办理的退款 / refund made directly at the gateway",
            actor_id=None,
        )
        session.add(row)
        session.flush()
        record(
            session,
            "payment.refund_discovered",
            actor_id=None,
            subject_type="payment",
            subject_id=payment.id,
            refund_id=row.id,
            external_id=found.external_id,
            amount_fen=found.amount_fen,
        )
    elif row.external_id is None:
        row.external_id = found.external_id
        session.flush()
    news = RefundNews.reporting(found.status)
    moved = _move_refund(session, payment, row, news, now=now, failure=found.failure_message)
    return moved or created


# --------------------------------------------------------------------------- chargebacks

_DISPUTE_CLOSED_ACTION = {
    PaymentDisputeStatus.WON: "payment.dispute_won",
    PaymentDisputeStatus.LOST: "payment.dispute_lost",
    PaymentDisputeStatus.CLOSED: "payment.dispute_closed",
}


def _dispute_mismatch(payment: Payment, found: GatewayDispute, row: PaymentDispute | None) -> str:
    if row is not None and row.payment_id != payment.id:
        return f"dispute belongs to payment {row.payment_id}"
    if found.currency and found.currency != payment.currency:
        return f"currency {found.currency}"
    if not 0 < found.amount_fen <= payment.amount_fen:
        return f"amount {found.amount_fen} fen"
    return ""


def apply_gateway_dispute(
    session: Session, payment: Payment, found: GatewayDispute, *, now: datetime | None = None
) -> bool:
    """Record a chargeback the gateway reports (webhook or sync) about ``payment``, which the
    caller has locked. Returns whether anything changed.

    One row per gateway dispute id, created in the status the gateway reports; after that the
    status only moves forward (:data:`rules.DISPUTE`, and :func:`rules.is_later_open_word`
    among the open states): repeated, late or reordered news changes nothing.
    ``payment.disputed_fen`` is recomputed as the sum of the open and lost disputes, so
    :func:`refundable_fen` (what counts as received) drops while a chargeback is open or lost
    and recovers when it is won or closed. Every change is audited; finance is e-mailed when a
    chargeback appears and when it closes. A dispute that cannot belong to the payment (other
    currency, amount above the payment's, or another payment's dispute id) is never applied
    and is audited as ``payment.gateway_mismatch``. A payment not (yet) paid is left alone:
    the caller asks the gateway for the whole picture instead (a sync).
    """
    if payment.status is not PaymentStatus.SUCCEEDED:
        return False
    now = now or utcnow()
    row = session.scalar(
        sa.select(PaymentDispute)
        .where(
            PaymentDispute.gateway == payment.gateway,
            PaymentDispute.external_id == found.external_id,
        )
        .execution_options(populate_existing=True)
    )
    problem = _dispute_mismatch(payment, found, row)
    if problem:
        log.error("gateway dispute %s does not match payment %s", found.external_id, payment.id)
        record(
            session,
            "payment.gateway_mismatch",
            actor_id=None,
            subject_type="payment",
            subject_id=payment.id,
            dispute_external_id=found.external_id,
            gateway_amount_fen=found.amount_fen,
            gateway_currency=found.currency,
            problem=problem,
        )
        return False
    news = DisputeNews.reporting(found.status)
    closes = news is not DisputeNews.OPEN
    previous: str | None = None
    if row is None:
        row = PaymentDispute(
            payment_id=payment.id,
            gateway=payment.gateway,
            external_id=found.external_id,
            charge_external_id=found.charge_external_id,
            amount_fen=found.amount_fen,
            status=found.status,
            gateway_status=found.gateway_status,
            reason=found.reason,
            opened_at=found.opened_at or now,
            closed_at=now if closes else None,
        )
        session.add(row)
        action = _DISPUTE_CLOSED_ACTION.get(found.status, "payment.dispute_opened")
    else:
        if not rules.DISPUTE.allows(row.status, news):
            return False  # decided: a final state never changes again
        if not closes and not rules.is_later_open_word(row.gateway_status, found.gateway_status):
            return False  # an open state the dispute has already passed
        previous = row.gateway_status
        rules.DISPUTE.move(row, news)
        row.gateway_status = found.gateway_status
        row.amount_fen = found.amount_fen
        row.reason = found.reason or row.reason
        row.charge_external_id = row.charge_external_id or found.charge_external_id
        row.closed_at = now if closes else None
        action = _DISPUTE_CLOSED_ACTION.get(found.status, "payment.dispute_updated")
    session.flush()
    withheld = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(PaymentDispute.amount_fen), 0)).where(
            PaymentDispute.payment_id == payment.id,
            PaymentDispute.status.in_(DISPUTE_WITHHOLDS),
        )
    )
    # A charge is disputed once, so this never exceeds the payment; the CHECK guards it too.
    payment.disputed_fen = min(int(withheld or 0), payment.amount_fen)
    session.flush()
    record(
        session,
        action,
        actor_id=None,
        subject_type="payment",
        subject_id=payment.id,
        reference=payment.reference,
        dispute_id=row.id,
        external_id=row.external_id,
        amount_fen=row.amount_fen,
        gateway_status=row.gateway_status,
        previous=previous,
        reason=row.reason,
        disputed_fen=payment.disputed_fen,
    )
    if previous is None or closes:
        _tell_finance_of_dispute(session, payment, row)
    return True


def _tell_finance_of_dispute(session: Session, payment: Payment, row: PaymentDispute) -> None:
    received = refundable_fen(session, payment)
    officers = session.scalars(
        sa.select(User).where(User.role == Role.FINANCE, User.is_active.is_(True)).order_by(User.id)
    )
    for officer in officers:
        notify(
            session,
            officer,
            "payment_disputed",
            name=officer.display_name,
            payment_id=payment.id,
            reference=payment.reference,
            description=payment.description,
            paid_fen=payment.amount_fen,
            amount_fen=row.amount_fen,
            status=row.status.value,
            gateway_status=row.gateway_status,
            reason=row.reason,
            disputed_fen=payment.disputed_fen,
            received_fen=received,
        )


# --------------------------------------------------------------------------- convergence


def sync_from_gateway(
    session: Session,
    payment_id: int,
    *,
    gateway: PaymentGateway | None = None,
    now: datetime | None = None,
) -> Payment:
    """Re-read the payment from its gateway and converge: open it if it never was, apply its
    status, pick up refunds (ours whose answer was lost, and any made elsewhere) and
    chargebacks, and carry out refunds still pending. Safe to run any number of times (also a job). Offline payments
    are returned unchanged: the database is their record."""
    payment = get_payment(session, payment_id, lock=True)
    if payment.gateway is GatewayKind.OFFLINE:
        return payment
    gw = gateway or current_gateway(payment.gateway)
    now = now or utcnow()
    if payment.external_id is None:
        return open_at_gateway(session, payment.id, gateway=gw, now=now)
    apply_intent(session, payment, gw.retrieve_intent(payment.external_id), now=now)
    if payment.status is PaymentStatus.SUCCEEDED:
        for found in gw.list_refunds(payment.external_id):
            apply_gateway_refund(session, payment, found, now=now)
        for dispute in gw.list_disputes(payment.external_id):
            apply_gateway_dispute(session, payment, dispute, now=now)
        pending = session.scalars(
            sa.select(PaymentRefund.id).where(
                PaymentRefund.payment_id == payment.id,
                PaymentRefund.status == RefundStatus.PENDING,
                PaymentRefund.external_id.is_(None),
            )
        ).all()
        for refund_id in pending:
            execute_refund(session, refund_id, gateway=gw, now=now)
    return payment


def payments_needing_sync(
    session: Session, *, older_than: timedelta = timedelta(minutes=15), now: datetime | None = None
) -> list[int]:
    """Gateway payments that may have lost an update: not yet final, with a refund still
    pending, or with a chargeback still open, and untouched for ``older_than``. (A chargeback
    stays open for weeks; re-reading it daily lets a lost "closed" event still arrive.)"""
    cutoff = (now or utcnow()) - older_than
    unsettled = sa.select(Payment.id).where(
        Payment.gateway != GatewayKind.OFFLINE,
        Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.PROCESSING]),
        Payment.updated_at < cutoff,
    )
    refunding = (
        sa.select(PaymentRefund.payment_id)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(
            Payment.gateway != GatewayKind.OFFLINE,
            PaymentRefund.status == RefundStatus.PENDING,
            PaymentRefund.created_at < cutoff,
        )
    )
    disputed = (
        sa.select(PaymentDispute.payment_id)
        .join(Payment, Payment.id == PaymentDispute.payment_id)
        .where(
            Payment.gateway != GatewayKind.OFFLINE,
            PaymentDispute.status == PaymentDisputeStatus.OPEN,
            PaymentDispute.updated_at < cutoff,
        )
    )
    ids = set(session.scalars(unsettled)) | set(session.scalars(refunding))
    ids |= set(session.scalars(disputed))
    return sorted(ids)
