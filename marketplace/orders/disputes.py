"""Disputes (在线争议解决, POLICY.md rule 10): the SME complains, a reviewer mediates, decides.

* The SME may dispute a delivered order, and a confirmed or claimed one, until the order's
  confirmation deadline (``confirm_by``), once per order. The order is then *disputed*: the
  settlement work freezes its claim line while it is.
* Both parties and the mediator (any reviewer) write messages and add documents (same file
  rules as the delivery report) while the dispute is open.
* The reviewer decides, with a reason:

  - **dismiss** → confirmed; the voucher hold is captured if it was not yet (after the
    voucher's claim deadline it lapses to the programme budget instead);
  - **uphold in part** → confirmed at a lower price: ``refund_fen`` of the co-payment goes
    back to the SME, ``voucher_restore_fen`` of the voucher part back to the voucher (the
    hold is captured for the reduced voucher part, or an earlier capture partly reversed);
    the reduced order must keep the voucher within the programme's ceiling
    (:mod:`.remedies`);
  - **uphold in full** → refunded: the hold released (or its capture reversed) and the whole
    co-payment refunded.

  Upheld disputes record a credit event against the provider (:mod:`providers.credit`).
  Every outcome posts balanced ledger entries; ``flask ledger verify`` passes after each.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import User
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.errors import PermissionDenied
from marketplace.orders import files, notices
from marketplace.orders.access import actor_of, get_order, lock_order
from marketplace.orders.core import (
    capture_voucher_part,
    check_version,
    clean_text,
    lapse_detail,
    lock_with_payment,
    owe_refund,
    payment_reference,
    record_transition,
    release_voucher_part,
    tell_lapse,
)
from marketplace.orders.enums import Actor, DisputeStatus, OrderAction, Outcome
from marketplace.orders.errors import (
    DisputeClosed,
    DisputeExists,
    DisputeNotFound,
    DisputeWindowClosed,
)
from marketplace.orders.models import Dispute, DisputeDocument, DisputeMessage, Order
from marketplace.orders.remedies import partial_remedy
from marketplace.orders.rules import DISPUTE, transition
from providers.credit import record_credit_event
from providers.enums import CreditEventKind
from vouchers.enums import HoldStatus
from vouchers.holds import reverse_capture
from vouchers.models import Hold

A = OrderAction
#: Who takes part in a mediation.
PARTICIPANTS = frozenset({Actor.ENTERPRISE, Actor.PROVIDER, Actor.REVIEWER})
MAX_MESSAGE = 5000


def dispute_of(session: Session, order: Order, *, lock: bool = False) -> Dispute:
    stmt = sa.select(Dispute).where(Dispute.order_id == order.id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    dispute = session.scalar(stmt)
    if dispute is None:
        raise DisputeNotFound(f"订单 {order.id} 没有争议 / order {order.id} has no dispute")
    return dispute


def open_dispute(
    session: Session,
    order_id: int,
    user: User,
    *,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The SME disputes the delivery, with a reason, until the order's ``confirm_by`` date.

    Raises OrderNotFound, ActorNotAllowed, IllegalTransition, PreconditionFailed,
    ValidationFailed, DisputeWindowClosed, DisputeExists (one dispute per order).
    """
    now = now or utcnow()
    order = lock_order(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, A.DISPUTE, actor)
    text = clean_text(reason, "reason", required=True, limit=MAX_MESSAGE)
    if order.confirm_by is None or local_date(now) > order.confirm_by:
        raise DisputeWindowClosed(
            f"争议期限已于 {order.confirm_by} 届满 / disputes could be opened until "
            f"{order.confirm_by}"
        )
    if session.scalar(sa.select(Dispute.id).where(Dispute.order_id == order.id)) is not None:
        raise DisputeExists("该订单已提出过争议 / this order was already disputed")
    dispute = Dispute(
        order_id=order.id,
        status=DisputeStatus.OPEN,
        opened_from=order.status,
        reason=text,
        opened_by_id=user.id,
        opened_at=now,
    )
    try:
        with session.begin_nested():
            session.add(dispute)
            session.flush()
    except IntegrityError:
        raise DisputeExists("该订单已提出过争议 / this order was already disputed") from None
    record_transition(session, order, A.DISPUTE, actor, user.id, note=text, now=now)
    notices.tell(session, order, "disputed", except_user_id=user.id)
    return dispute


def _participant(user: User, order: Order) -> Actor:
    actor = actor_of(user, order)
    if actor not in PARTICIPANTS:
        raise PermissionDenied(
            "只有双方当事人和调解员可以参与调解 / only the parties and the mediator take part"
        )
    return actor


def _open_dispute_for(session: Session, order_id: int, user: User) -> tuple[Order, Dispute, Actor]:
    order = get_order(session, order_id, user)
    actor = _participant(user, order)
    dispute = dispute_of(session, order)
    if dispute.status is not DisputeStatus.OPEN:
        raise DisputeClosed("争议已有结果 / the dispute is already decided")
    return order, dispute, actor


def post_message(
    session: Session, order_id: int, user: User, *, body: str, now: datetime | None = None
) -> DisputeMessage:
    """A message from a party or the mediator. Raises OrderNotFound, PermissionDenied,
    DisputeNotFound, DisputeClosed, ValidationFailed."""
    order, dispute, actor = _open_dispute_for(session, order_id, user)
    text = clean_text(body, "body", required=True, limit=MAX_MESSAGE)
    message = DisputeMessage(
        dispute_id=dispute.id, party=actor, author_id=user.id, body=text, created_at=now or utcnow()
    )
    session.add(message)
    session.flush()
    record(
        session,
        "order.dispute_message",
        actor_id=user.id,
        subject_type="order",
        subject_id=order.id,
        message_id=message.id,
        party=actor.value,
    )
    notices.tell(session, order, "dispute_message", except_user_id=user.id)
    return message


def add_document(
    session: Session,
    storage: files.OrderFileStorage,
    order_id: int,
    user: User,
    *,
    upload: files.Upload,
    now: datetime | None = None,
) -> DisputeDocument:
    """Evidence from a party or the mediator. Raises as :func:`post_message`, and
    FileTooLarge, EmptyFile, UnsupportedFileType, FileExtensionMismatch."""
    order, dispute, actor = _open_dispute_for(session, order_id, user)
    stored = files.store(session, storage, upload)
    document = DisputeDocument(
        dispute_id=dispute.id,
        party=actor,
        uploaded_by_id=user.id,
        original_filename=stored.original_filename,
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        uploaded_at=now or utcnow(),
    )
    session.add(document)
    session.flush()
    record(
        session,
        "order.dispute_document",
        actor_id=user.id,
        subject_type="order",
        subject_id=order.id,
        document_id=document.id,
        party=actor.value,
    )
    return document


def get_document(session: Session, order_id: int, document_id: int, user: User) -> DisputeDocument:
    """A dispute document of an order the user may see; DisputeNotFound otherwise."""
    order = get_order(session, order_id, user)
    document = session.get(DisputeDocument, document_id) if 0 < document_id < 2**63 else None
    if document is None or document.dispute.order_id != order.id:
        raise DisputeNotFound("没有该材料 / no such document")
    return document


def decide(
    session: Session,
    order_id: int,
    user: User,
    *,
    outcome: Outcome,
    note: str,
    refund_fen: int = 0,
    voucher_restore_fen: int = 0,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The mediator's decision (see the module docstring for what each outcome does).

    A dismissal or partial uphold after the voucher's claim deadline confirms the order with
    its voucher part lapsed (:func:`.core.capture_voucher_part`).

    Raises OrderNotFound, ActorNotAllowed (not a reviewer), IllegalTransition (not disputed),
    PreconditionFailed, ValidationFailed (no reason), DisputeNotFound, RemedyInvalid,
    InsufficientFunds (the provider was paid out meanwhile), and the refund errors of the
    payments module.
    """
    now = now or utcnow()
    order, payment = lock_with_payment(session, order_id)
    actor = actor_of(user, order)
    check_version(order, expected_version)
    transition(order.status, outcome.order_action, actor)
    text = clean_text(note, "note", required=True, limit=MAX_MESSAGE)
    dispute = dispute_of(session, order, lock=True)
    DISPUTE.next(dispute.status, outcome)  # refuse before any money moves
    hold = session.get(Hold, order.hold_id) if order.hold_id is not None else None
    key = f"{payment_reference(order.id)}:dispute"
    refund = restored = lapsed = 0
    if outcome is Outcome.DISMISS:
        lapsed = capture_voucher_part(session, order, now, user.id)
    elif outcome is Outcome.UPHOLD_PARTIAL:
        assert order.price_fen is not None and order.co_payment_fen is not None
        remedy = partial_remedy(
            price_fen=order.price_fen,
            voucher_part_fen=order.voucher_part_fen,
            co_payment_fen=order.co_payment_fen,
            refund_fen=refund_fen,
            restore_fen=voucher_restore_fen,
            ceiling_bps=hold.voucher.programme.ceiling_bps if hold is not None else None,
        )
        if hold is not None and hold.status is HoldStatus.CAPTURED:
            if remedy.voucher_restored_fen:
                reverse_capture(
                    session, hold.id, remedy.voucher_restored_fen, key, now, actor_id=user.id
                )
        elif remedy.voucher_part_fen > 0:
            # Captures the reduced part, or it lapses after the claim deadline.
            lapsed = capture_voucher_part(session, order, now, user.id, remedy.voucher_part_fen)
        else:
            release_voucher_part(session, order, now, user.id, "dispute_upheld")
        refund = owe_refund(
            session,
            order,
            payment,
            remedy.refund_fen,
            reason=f"订单 {order.id} 争议部分支持 / order {order.id}: dispute partly upheld",
            actor_id=user.id,
        )
        restored = remedy.voucher_restored_fen
        order.price_fen = remedy.price_fen
        order.voucher_part_fen = remedy.voucher_part_fen
        order.co_payment_fen = remedy.co_payment_fen
        order.price_reduction_fen += remedy.reduction_fen
    else:
        if hold is not None and hold.status is HoldStatus.OPEN:
            release_voucher_part(session, order, now, user.id, "dispute_upheld")
            restored = hold.amount_fen
        elif hold is not None and hold.status is HoldStatus.CAPTURED:
            restored = hold.captured_fen
            reverse_capture(session, hold.id, restored, key, now, actor_id=user.id)
        refund = owe_refund(
            session,
            order,
            payment,
            order.co_payment_fen or 0,
            reason=f"订单 {order.id} 争议全部支持 / order {order.id}: dispute upheld in full",
            actor_id=user.id,
        )
    if outcome is not Outcome.UPHOLD_FULL and order.confirmed_at is None:
        order.confirmed_at = now
    DISPUTE.move(dispute, outcome)
    dispute.mediator_id = user.id
    dispute.decided_at = now
    dispute.decision_note = text
    dispute.refund_fen = refund
    dispute.voucher_restored_fen = restored
    if outcome is not Outcome.DISMISS:
        record_credit_event(
            session,
            order.provider_id,
            CreditEventKind.UPHELD_DISPUTE,
            payment_reference(order.id),
            occurred_on=local_date(now),
            note=text[:500],
            actor_id=user.id,
        )
    record_transition(
        session,
        order,
        outcome.order_action,
        actor,
        user.id,
        note=text,
        now=now,
        refund_fen=refund,
        voucher_restored_fen=restored,
        **lapse_detail(session, order, lapsed),
    )
    notices.tell(session, order, "dispute_decided", except_user_id=user.id)
    tell_lapse(session, order, lapsed)
    return dispute
