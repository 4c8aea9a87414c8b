"""Settlement claims (兑付申请): submission, the automatic pre-check, the two-step review.

Flow (one line per order; the order's own status moves with it, through
:func:`marketplace.orders.rules.transition`, each move appending an ``OrderEvent``)::

    provider submits ── order confirmed → claimed, line pending_review, pre-check stored
    reviewer      approve ── line reviewed (order stays claimed), finance is notified
                  request changes / reject (reason) ── order claimed → confirmed
    provider resubmits a line sent back ── order confirmed → claimed, pre-check again
    finance       approve (never the line's reviewer) ── order claimed → claim_approved
                  return for changes / reject (reason) ── order claimed → confirmed

Which checks refuse a submission outright (nothing changes) and which only mark the line:

* refused: the order is not this provider's (404), not ``confirmed`` or still in its
  cooling-off period or without a captured voucher part or invoice (``not_claimable``), in
  dispute (``order_disputed``), past the programme's claim deadline (``claim_deadline_passed``),
  its invoice already claimed anywhere on the platform (``invoice_already_claimed``);
* marked: the evidence rules (invoice amount, parties, date, co-payment, ceiling, annual cap).
  The line is created with a failing checklist, which reviewers see; approving it is refused
  with the failing rule's code (``invoice_amount_mismatch`` …), so it can only be sent back
  or rejected.

Every decision re-runs the pre-check on fresh data, so an order disputed after submission is
frozen (``order_disputed``) for reviewer and finance alike. Decisions on a whole claim apply
to every line awaiting that step, all or nothing.

Locks, in this order everywhere in settlement: claim → orders (ascending id) → claim lines.
Services flush, never commit; each public call runs in a savepoint, so an error leaves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from marketplace.audit.services import record
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.errors import NotFound, PreconditionFailed, ReasonRequired
from marketplace.orders import core
from marketplace.orders.access import lock_order
from marketplace.orders.enums import Actor, InvoiceSource, OrderAction, OrderStatus
from marketplace.orders.errors import OrderNotFound
from marketplace.orders.models import Invoice, Order, RedLetterInvoice
from marketplace.payments.enums import PaymentStatus
from marketplace.payments.services import live_payment, refundable_fen
from marketplace.settlement import notices, rules
from marketplace.settlement.enums import ClaimAction, ClaimDocument, ClaimLineStatus
from marketplace.settlement.errors import (
    ClaimLineFrozen,
    ClaimNotFound,
    ClaimStateConflict,
    InvoiceAlreadyClaimed,
    NotClaimable,
    OrderDisputed,
    SeparationOfDuties,
    VoucherRevoked,
)
from marketplace.settlement.models import (
    Claim,
    ClaimedInvoice,
    ClaimEvent,
    ClaimLine,
    ClaimLineFreeze,
)
from marketplace.settlement.rules import Check, ClaimFacts
from providers.related import related_at
from vouchers.enums import FreezeStatus, HoldStatus, VoucherStatus
from vouchers.errors import ClaimDeadlinePassed, HoldFrozen
from vouchers.holds import frozen_hold_ids
from vouchers.models import Quota
from vouchers.quota import scope_of

MAX_ORDERS_PER_CLAIM = 100
MAX_REASON = 2000
MAX_ID = 2**63 - 1
#: Default cooling-off between an order's confirmation and its claimability, in days.
DEFAULT_COOLING_OFF_DAYS = 0

A = ClaimAction


# --------------------------------------------------------------------------- orders


def move_order(
    session: Session,
    order: Order,
    action: OrderAction,
    actor: Actor,
    *,
    actor_id: int | None,
    now: datetime,
    note: str | None = None,
    **detail: Any,
) -> None:
    """Take ``action`` on a locked ``order``: the orders module's one transition function
    (:func:`marketplace.orders.rules.transition`, version + 1, an ``OrderEvent``, an audit
    event). Raises ActorNotAllowed / IllegalTransition."""
    core.record_transition(session, order, action, actor, actor_id, note=note, now=now, **detail)


def _captured_fen(order: Order) -> int:
    hold = order.hold
    if hold is None or hold.status is not HoldStatus.CAPTURED:
        return 0
    return int(hold.captured_fen)


# --------------------------------------------------------------------------- the pre-check


def _invoice_claimed_elsewhere(session: Session, invoice: Invoice, line_id: int | None) -> bool:
    code, number = rules.invoice_key(invoice.code, invoice.number)
    owner = session.scalar(
        sa.select(ClaimedInvoice.claim_line_id).where(
            ClaimedInvoice.code_key == code, ClaimedInvoice.number_key == number
        )
    )
    return owner is not None and owner != line_id


def documents_of(order: Order) -> frozenset[ClaimDocument]:
    """The claim documents ``order`` carries: the invoice's file(s), the terms agreed when the
    SME accepted (the contract), the delivered report, and the SME's acceptance."""
    present = set()
    if order.invoice is not None and order.invoice.files:
        present.add(ClaimDocument.INVOICE_FILE)
    if order.agreement_accepted_at is not None and order.agreed_title:
        present.add(ClaimDocument.AGREED_TERMS)
    if order.report_path:
        present.add(ClaimDocument.REPORT)
    if order.confirmed_at is not None:
        present.add(ClaimDocument.ACCEPTANCE)
    return frozenset(present)


def gather_facts(
    session: Session, order: Order, *, claim_date: date, line_id: int | None = None
) -> ClaimFacts:
    """Read what the pre-check needs for ``order`` (which has an invoice and a voucher)."""
    invoice = order.invoice
    voucher = order.voucher
    if invoice is None or voucher is None or order.price_fen is None:
        raise NotClaimable(
            f"订单 {order.id} 没有发票或未使用电子券 / order {order.id} has no invoice or voucher",
            extra={"order_id": order.id},
        )
    programme = voucher.programme
    payment = live_payment(session, order.payment_reference)
    received = (
        refundable_fen(session, payment)
        if payment is not None and payment.status is PaymentStatus.SUCCEEDED
        else 0
    )
    hold = order.hold
    quota = session.get(Quota, hold.quota_id) if hold is not None else None
    cap_fen, used_fen, held_fen = 0, 0, 0
    if quota is not None:
        scope = scope_of(programme)
        # The programme's current policy cap for this scope, but never above the quota row's.
        cap_fen = min(quota.cap_fen, scope.cap_fen) if scope.key == quota.scope else quota.cap_fen
        used_fen, held_fen = quota.used_fen, quota.held_fen
    return ClaimFacts(
        order_disputed=order.status is OrderStatus.DISPUTED,
        order_price_fen=order.price_fen,
        voucher_part_fen=_captured_fen(order),
        invoice_amount_fen=invoice.amount_fen,
        invoice_buyer_id=invoice.buyer_taxpayer_id,
        invoice_seller_id=invoice.seller_taxpayer_id,
        enterprise_credit_code=order.enterprise.credit_code,
        provider_credit_code=order.provider.credit_code,
        invoice_issued_on=invoice.issued_on,
        voucher_valid_from=voucher.valid_from,
        voucher_claim_deadline=voucher.claim_deadline,
        co_payment_due_fen=order.co_payment_fen
        if order.co_payment_fen is not None
        else order.price_fen - order.voucher_part_fen,
        co_payment_received_fen=received,
        ceiling_bps=programme.ceiling_bps,
        cap_fen=cap_fen,
        cap_used_fen=used_fen,
        cap_held_fen=held_fen,
        claim_date=claim_date,
        programme_claim_deadline=programme.claim_deadline,
        invoice_claimed_elsewhere=_invoice_claimed_elsewhere(session, invoice, line_id),
        price_reduction_fen=order.price_reduction_fen,
        voucher_revoked=voucher.status is VoucherStatus.REVOKED,
        related_parties=related_at(session, order.provider_id, order.enterprise_id),
        invoice_from_file=invoice.source is InvoiceSource.FILE,
        invoice_items=tuple(invoice.items or ()),
        service_category=order.agreed_category,
        documents=documents_of(order),
        invoice_verification=invoice.verification.value,
        reversed_by=session.scalar(
            sa.select(RedLetterInvoice.number)
            .where(RedLetterInvoice.reverses_number == invoice.number)
            .order_by(RedLetterInvoice.id)
            .limit(1)
        ),
    )


def store_precheck(session: Session, line: ClaimLine, now: datetime) -> list[Check]:
    """Re-run and record ``line``'s pre-check (its checklist and whether it passed)."""
    checks = rules.precheck(
        gather_facts(session, line.order, claim_date=line.submitted_on, line_id=line.id)
    )
    line.checklist = [c.as_dict() for c in checks]
    line.precheck_passed = all(c.passed for c in checks)
    line.checked_at = now
    return checks


#: Lines still awaiting a decision: their checklist is re-run when shown (read-only).
AWAITING_DECISION = (ClaimLineStatus.PENDING_REVIEW, ClaimLineStatus.REVIEWED)


def current_checklist(session: Session, line: ClaimLine) -> list[dict[str, object]]:
    """The checklist to show for ``line``: for a line awaiting a decision, the pre-check as it
    stands now (a revocation, a dispute or a related-party declaration since submission shows
    at once, as approval would find it); otherwise the one recorded. Writes nothing."""
    if line.status not in AWAITING_DECISION:
        return list(line.checklist)
    checks = rules.precheck(
        gather_facts(session, line.order, claim_date=line.submitted_on, line_id=line.id)
    )
    return [c.as_dict() for c in checks]


def preview(session: Session, order: Order, *, today: date) -> list[Check]:
    """The checklist an order would get if it were claimed ``today`` (read-only)."""
    return rules.precheck(gather_facts(session, order, claim_date=today))


# --------------------------------------------------------------------------- claimable orders


@dataclass(frozen=True)
class ClaimableOrder:
    order: Order
    claimable_on: date
    ready: bool
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def checklist(self) -> list[dict[str, object]]:
        return [c.as_dict() for c in self.checks]


def _confirmed_on(order: Order) -> datetime:
    return order.confirmed_at or order.updated_at


def claimable_orders(
    session: Session, provider_id: int, *, today: date, cooling_off_days: int
) -> list[ClaimableOrder]:
    """The provider's confirmed orders with a voucher part and an invoice that are in no claim
    yet, each with its first claimable day and a preview of the pre-check."""
    orders = session.scalars(
        sa.select(Order)
        .join(Invoice, Invoice.order_id == Order.id)
        .outerjoin(ClaimLine, ClaimLine.order_id == Order.id)
        .where(
            Order.provider_id == provider_id,
            Order.status == OrderStatus.CONFIRMED,
            Order.voucher_part_fen > 0,
            ClaimLine.id.is_(None),
        )
        .order_by(Order.id)
    )
    result = []
    for order in orders:
        if _captured_fen(order) <= 0:
            continue
        day = rules.claimable_on(_confirmed_on(order), cooling_off_days)
        result.append(
            ClaimableOrder(order, day, day <= today, preview(session, order, today=today))
        )
    return result


# --------------------------------------------------------------------------- lookups


def get_claim(session: Session, claim_id: int, *, provider_id: int | None = None) -> Claim:
    """The claim; ClaimNotFound (404) if there is none or it is another provider's."""
    claim = session.get(Claim, claim_id) if 0 < claim_id <= MAX_ID else None
    if claim is None or (provider_id is not None and claim.provider_id != provider_id):
        raise ClaimNotFound(f"兑付申请 {claim_id} 不存在 / no claim {claim_id}")
    return claim


def _lock_claim(session: Session, claim_id: int, provider_id: int | None = None) -> Claim:
    get_claim(session, claim_id, provider_id=provider_id)
    return session.scalars(
        sa.select(Claim)
        .where(Claim.id == claim_id)
        .with_for_update(of=Claim)
        .execution_options(populate_existing=True)
    ).one()


def _lock_lines(session: Session, line_ids: Iterable[int]) -> list[ClaimLine]:
    ids = sorted(set(line_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            sa.select(ClaimLine)
            .where(ClaimLine.id.in_(ids))
            .order_by(ClaimLine.id)
            .with_for_update(of=ClaimLine)
            .execution_options(populate_existing=True)
        )
    )


def _check_version(claim: Claim, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != claim.version:
        raise PreconditionFailed(
            f"兑付申请已被他人修改（当前版本 {claim.version}） / the claim changed since you "
            f"read it (now version {claim.version})",
            extra={"current_version": claim.version},
        )


def move_line(
    session: Session,
    line: ClaimLine,
    action: ClaimAction,
    *,
    actor_id: int | None,
    now: datetime,
    note: str | None = None,
) -> None:
    """Take ``action`` on ``line`` through :data:`~marketplace.settlement.rules.CLAIM_LINE` and
    append the step to the claim's history: the one way a claim line changes status, for
    claims and payouts alike. A new line (no status yet) is given its first one by
    ``submit``. Raises ClaimStateConflict (nothing changed) when the step is not possible."""
    before, after = rules.CLAIM_LINE.move(line, action)
    session.add(
        ClaimEvent(
            claim_id=line.claim_id,
            # By the relationship, not the id: a new line's event is added before its insert.
            line=line,
            action=action,
            from_status=before,
            to_status=after,
            actor_id=actor_id,
            note=note,
            occurred_at=now,
        )
    )


def frozen_line_ids(session: Session, line_ids: Sequence[int]) -> set[int]:
    """Those of ``line_ids`` frozen by a provider's suspension and not yet decided, or whose
    voucher money was released to the budget: neither is approved nor paid out."""
    if not line_ids:
        return set()
    return set(
        session.scalars(
            sa.select(ClaimLineFreeze.claim_line_id).where(
                ClaimLineFreeze.claim_line_id.in_(list(line_ids)),
                ClaimLineFreeze.status.in_([FreezeStatus.FROZEN, FreezeStatus.RELEASED]),
            )
        )
    )


def refuse_frozen_lines(session: Session, line_ids: Sequence[int]) -> None:
    """Raise ClaimLineFrozen naming the first frozen line among ``line_ids``."""
    frozen = sorted(frozen_line_ids(session, line_ids))
    if frozen:
        raise ClaimLineFrozen(
            f"兑付明细 {frozen[0]} 因服务机构被暂停而冻结，待审核 / claim line {frozen[0]} is "
            "frozen: its provider was suspended and a reviewer has not decided yet",
            extra={"claim_line_id": frozen[0]},
        )


def refresh_claim_status(claim: Claim) -> None:
    claim.status = rules.claim_status(line.status for line in claim.lines)


# --------------------------------------------------------------------------- submission


def _ensure_claimable(
    order: Order, *, today: date, cooling_off_days: int, claimed_on: date | None = None
) -> None:
    """Refuse an order that cannot be claimed. ``claimed_on`` is the date the deadline is
    judged by: today for a new line, the first submission for a line sent back (the claim was
    made in time; correcting it later must stay possible, as the pre-check judges it so too)."""
    if order.status is OrderStatus.DISPUTED:
        raise OrderDisputed(
            f"订单 {order.id} 争议处理中，不能申请兑付 / order {order.id} is in dispute",
            extra={"order_id": order.id},
        )
    if order.status is not OrderStatus.CONFIRMED:
        raise NotClaimable(
            f"订单 {order.id} 状态为“{order.status.zh}”，只有已确认验收的订单可申请兑付 / "
            f"order {order.id} is {order.status.en.lower()}; only confirmed orders can be claimed",
            extra={"order_id": order.id, "order_status": order.status.value},
        )
    if order.invoice is None or order.voucher is None or _captured_fen(order) <= 0:
        raise NotClaimable(
            f"订单 {order.id} 没有电子发票或券支付部分 / order {order.id} has no invoice or "
            "voucher part to claim",
            extra={"order_id": order.id},
        )
    if order.voucher.status is VoucherStatus.REVOKED:
        raise VoucherRevoked(
            f"订单 {order.id} 使用的电子券已被撤销，券支付部分待追回，不能申请兑付 / the voucher of "
            f"order {order.id} was revoked; its voucher part is recovered and cannot be claimed",
            extra={"order_id": order.id, "voucher_id": order.voucher.id},
        )
    session = object_session(order)
    if (
        session is not None
        and order.hold_id is not None
        and frozen_hold_ids(session, [order.hold_id])
    ):
        raise HoldFrozen(
            f"订单 {order.id} 的企业已列入失信名单，券支付部分冻结待审核，不能申请兑付 / the "
            f"enterprise of order {order.id} is blacklisted: its voucher part is frozen "
            "until a reviewer decides",
            extra={"order_id": order.id, "hold_id": order.hold_id},
        )
    first_day = rules.claimable_on(_confirmed_on(order), cooling_off_days)
    if today < first_day:
        raise NotClaimable(
            f"订单 {order.id} 处于确认后的冷静期，{first_day} 起可申请 / order {order.id} is in "
            f"its cooling-off period; it can be claimed from {first_day}",
            extra={"order_id": order.id, "claimable_on": first_day.isoformat()},
        )
    deadline = order.voucher.programme.claim_deadline
    if (claimed_on or today) > deadline:
        raise ClaimDeadlinePassed(
            f"订单 {order.id} 的兑付申请截止日期 {deadline} 已过 / the claim deadline of order "
            f"{order.id} ({deadline}) has passed",
            extra={"order_id": order.id, "claim_deadline": deadline.isoformat()},
        )


def _register_invoice(session: Session, line: ClaimLine, invoice: Invoice, now: datetime) -> None:
    """Record the invoice as claimed, once ever; InvoiceAlreadyClaimed if it was before."""
    code, number = rules.invoice_key(invoice.code, invoice.number)
    owner = session.scalar(
        sa.select(ClaimedInvoice.claim_line_id).where(
            ClaimedInvoice.code_key == code, ClaimedInvoice.number_key == number
        )
    )
    if owner == line.id:
        return
    error = InvoiceAlreadyClaimed(
        f"发票 {invoice.code} {invoice.number} 已在平台上申请过兑付 / invoice {invoice.code} "
        f"{invoice.number} was already claimed on the platform",
        extra={"order_id": line.order_id, "invoice_number": invoice.number},
    )
    if owner is not None:
        raise error
    try:
        with session.begin_nested():
            session.add(
                ClaimedInvoice(
                    code_key=code,
                    number_key=number,
                    claim_line_id=line.id,
                    provider_id=line.provider_id,
                    claimed_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        raise error from None


def _snapshot(line: ClaimLine, order: Order) -> None:
    invoice = order.invoice
    assert invoice is not None and order.price_fen is not None
    line.invoice_id = invoice.id
    line.amount_fen = _captured_fen(order)
    line.order_price_fen = order.price_fen
    line.invoice_code = invoice.code
    line.invoice_number = invoice.number
    line.invoice_amount_fen = invoice.amount_fen
    line.invoice_issued_on = invoice.issued_on


def _lock_orders(session: Session, order_ids: Iterable[int]) -> dict[int, Order]:
    return {order_id: lock_order(session, order_id) for order_id in sorted(set(order_ids))}


def create_claim(
    session: Session,
    provider_id: int,
    order_ids: Sequence[int],
    *,
    actor_id: int | None,
    note: str = "",
    now: datetime | None = None,
    cooling_off_days: int = DEFAULT_COOLING_OFF_DAYS,
) -> Claim:
    """Bundle the provider's confirmed orders into a claim and run the pre-check.

    Raises OrderNotFound (an order that does not exist or is another provider's),
    NotClaimable, OrderDisputed, ClaimDeadlinePassed, InvoiceAlreadyClaimed (see the module
    docstring); nothing is written then. Orders move confirmed → claimed.
    """
    now = now or utcnow()
    today = local_date(now)
    ids = list(dict.fromkeys(order_ids))
    if not ids or len(ids) > MAX_ORDERS_PER_CLAIM:
        raise NotClaimable(
            f"一次兑付申请包含 1–{MAX_ORDERS_PER_CLAIM} 个订单 / a claim takes 1–"
            f"{MAX_ORDERS_PER_CLAIM} orders"
        )
    with session.begin_nested():
        orders = _lock_orders(session, ids)
        for order in orders.values():
            if order.provider_id != provider_id:
                raise OrderNotFound(f"订单 {order.id} 不存在 / no order {order.id}")
            _ensure_claimable(order, today=today, cooling_off_days=cooling_off_days)
        claim = Claim(
            provider_id=provider_id,
            note=clean_text(note)[:MAX_REASON],
            submitted_by_id=actor_id,
            submitted_at=now,
        )
        session.add(claim)
        session.flush()
        for order in orders.values():
            assert order.voucher is not None
            line = ClaimLine(
                claim_id=claim.id,
                order_id=order.id,
                provider_id=provider_id,
                programme_id=order.voucher.programme_id,
                submitted_on=today,
            )
            _snapshot(line, order)
            try:
                with session.begin_nested():
                    session.add(line)
                    move_line(session, line, A.SUBMIT, actor_id=actor_id, now=now)
                    session.flush()
            except IntegrityError:
                raise NotClaimable(
                    f"订单 {order.id} 已在兑付申请中 / order {order.id} is already claimed",
                    extra={"order_id": order.id},
                ) from None
            assert order.invoice is not None
            _register_invoice(session, line, order.invoice, now)
            move_order(
                session,
                order,
                OrderAction.CLAIM,
                Actor.PROVIDER,
                actor_id=actor_id,
                now=now,
                claim_id=claim.id,
            )
            store_precheck(session, line, now)
        session.flush()
        session.refresh(claim, ["lines"])
        refresh_claim_status(claim)
        record(
            session,
            "claim.submitted",
            actor_id=actor_id,
            subject_type="claim",
            subject_id=claim.id,
            orders=sorted(orders),
            amount_fen=claim.amount_fen,
            failing_lines=[ln.id for ln in claim.lines if not ln.precheck_passed],
        )
        session.flush()
    return claim


def resubmit(
    session: Session,
    claim_id: int,
    provider_id: int,
    *,
    actor_id: int | None,
    line_ids: Sequence[int] | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Claim:
    """Send lines that came back for changes to review again (all of them by default).

    The invoice snapshot and the claimed amount are re-read from the order (a corrected
    invoice is registered too, and must itself never have been claimed) and the pre-check
    runs again. Raises ClaimNotFound, ClaimStateConflict, NotClaimable, OrderDisputed,
    ClaimDeadlinePassed, InvoiceAlreadyClaimed, PreconditionFailed.
    """
    now = now or utcnow()
    today = local_date(now)
    with session.begin_nested():
        claim = _lock_claim(session, claim_id, provider_id)
        _check_version(claim, expected_version)
        lines = _target_lines(claim, line_ids, {ClaimLineStatus.CHANGES_REQUESTED})
        orders = _lock_orders(session, [ln.order_id for ln in lines])
        for line in _lock_lines(session, [ln.id for ln in lines]):
            order = orders[line.order_id]
            move_line(session, line, A.RESUBMIT, actor_id=actor_id, now=now)
            _ensure_claimable(order, today=today, cooling_off_days=0, claimed_on=line.submitted_on)
            _snapshot(line, order)
            assert order.invoice is not None
            _register_invoice(session, line, order.invoice, now)
            # A new review cycle: the earlier reviewer and finance officer are history now
            # (kept in claim_events), so separation of duties applies to the new pair.
            line.reviewed_by_id = line.reviewed_at = line.review_note = None
            line.finance_by_id = line.finance_at = line.finance_note = None
            move_order(
                session,
                order,
                OrderAction.CLAIM,
                Actor.PROVIDER,
                actor_id=actor_id,
                now=now,
                claim_id=claim.id,
                resubmitted=True,
            )
            store_precheck(session, line, now)
        _finish(session, claim, "claim.resubmitted", actor_id, [ln.id for ln in lines])
    return claim


# --------------------------------------------------------------------------- decisions


def _target_lines(
    claim: Claim, line_ids: Sequence[int] | None, statuses: set[ClaimLineStatus]
) -> list[ClaimLine]:
    """The lines a decision applies to: the given ones (each must be in the claim), or every
    line awaiting this step."""
    by_id = {line.id: line for line in claim.lines}
    if line_ids is None:
        chosen = [line for line in claim.lines if line.status in statuses]
    else:
        missing = [i for i in dict.fromkeys(line_ids) if i not in by_id]
        if missing:
            raise NotFound(
                f"兑付申请 {claim.id} 中没有明细 {missing} / claim {claim.id} has no lines "
                f"{missing}",
                extra={"line_ids": missing},
            )
        chosen = [by_id[i] for i in dict.fromkeys(line_ids)]
    if not chosen:
        raise ClaimStateConflict(
            "没有待处理的兑付明细 / no line of this claim awaits this step",
            extra={"claim_status": claim.status.value},
        )
    return chosen


def clean_text(value: str | None) -> str:
    """Trimmed, without NUL characters (PostgreSQL cannot store them; forms may send them)."""
    return (value or "").replace("\x00", "").strip()


def _reason(action: ClaimAction, reason: str | None) -> str | None:
    text = clean_text(reason)
    if action in rules.NEEDS_REASON and not text:
        raise ReasonRequired("退回或驳回必须说明理由 / a reason is required to send back or reject")
    return text[:MAX_REASON] or None


def _frozen_or_moved(order: Order) -> None:
    """Approvals need the order still claimed; a disputed order's line is frozen."""
    if order.status is OrderStatus.DISPUTED:
        raise OrderDisputed(
            f"订单 {order.id} 争议处理中，兑付明细已冻结 / order {order.id} is in dispute; its "
            "claim line is frozen",
            extra={"order_id": order.id},
        )
    if order.status is not OrderStatus.CLAIMED:
        raise NotClaimable(
            f"订单 {order.id} 状态为“{order.status.zh}”，需服务机构补正后重新提交 / order "
            f"{order.id} is {order.status.en.lower()}; send the line back for resubmission",
            extra={"order_id": order.id, "order_status": order.status.value},
        )


def _decide_line(
    session: Session,
    line: ClaimLine,
    order: Order,
    action: ClaimAction,
    *,
    actor: Actor,
    actor_id: int,
    reason: str | None,
    now: datetime,
) -> None:
    # The line's step is judged first (ClaimStateConflict before any other refusal); the move
    # itself comes last, once everything the decision entails was allowed.
    rules.CLAIM_LINE.next(line.status, action)
    if action in rules.FINANCE_ACTIONS and line.reviewed_by_id == actor_id:
        raise SeparationOfDuties(
            "财务审批人不能是该明细的初审人 / the finance officer cannot be the reviewer of "
            "the same line",
            extra={"line_id": line.id},
        )
    if order.status is OrderStatus.DISPUTED:
        _frozen_or_moved(order)
    approving = action in (A.APPROVE, A.FINANCE_APPROVE)
    if approving:
        refuse_frozen_lines(session, [line.id])
        _frozen_or_moved(order)
        error = rules.first_failure(store_precheck(session, line, now))
        if error is not None:
            error.extra.setdefault("line_id", line.id)
            raise error
    elif order.status is OrderStatus.CLAIMED:
        move_order(
            session,
            order,
            OrderAction.REJECT_CLAIM,
            actor,
            actor_id=actor_id,
            now=now,
            note=reason,
            claim_id=line.claim_id,
            decision=action.value,
        )
    if action is A.FINANCE_APPROVE:
        move_order(
            session,
            order,
            OrderAction.APPROVE_CLAIM,
            Actor.FINANCE,
            actor_id=actor_id,
            now=now,
            claim_id=line.claim_id,
        )
    if action in rules.REVIEW_ACTIONS:
        line.reviewed_by_id, line.reviewed_at, line.review_note = actor_id, now, reason
    else:
        line.finance_by_id, line.finance_at, line.finance_note = actor_id, now, reason
    if action in rules.NEEDS_REASON:
        line.decision_reason = reason
    move_line(session, line, action, actor_id=actor_id, now=now, note=reason)


def _decide(
    session: Session,
    claim_id: int,
    action: ClaimAction,
    *,
    actor: Actor,
    actor_id: int,
    awaiting: ClaimLineStatus,
    reason: str | None,
    line_ids: Sequence[int] | None,
    expected_version: int | None,
    now: datetime | None,
) -> Claim:
    now = now or utcnow()
    text = _reason(action, reason)
    with session.begin_nested():
        claim = _lock_claim(session, claim_id)
        _check_version(claim, expected_version)
        chosen = _target_lines(claim, line_ids, {awaiting})
        orders = _lock_orders(session, [ln.order_id for ln in chosen])
        lines = _lock_lines(session, [ln.id for ln in chosen])
        for line in lines:
            _decide_line(
                session,
                line,
                orders[line.order_id],
                action,
                actor=actor,
                actor_id=actor_id,
                reason=text,
                now=now,
            )
        _finish(session, claim, f"claim.{action.value}", actor_id, [ln.id for ln in lines])
        notices.claim_decided(session, claim, lines, action)
        if action is A.APPROVE:
            notices.awaiting_finance(session, claim, lines)
    return claim


def _finish(
    session: Session, claim: Claim, audit_action: str, actor_id: int | None, line_ids: list[int]
) -> None:
    session.flush()
    session.refresh(claim, ["lines"])
    refresh_claim_status(claim)
    claim.version += 1
    record(
        session,
        audit_action,
        actor_id=actor_id,
        subject_type="claim",
        subject_id=claim.id,
        lines=line_ids,
        claim_status=claim.status.value,
    )
    session.flush()


def review(
    session: Session,
    claim_id: int,
    action: ClaimAction,
    *,
    actor_id: int,
    reason: str | None = None,
    line_ids: Sequence[int] | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Claim:
    """The reviewer's decision (approve, request changes, reject) on the given lines, or on
    every line awaiting review. Approval re-runs the pre-check and is refused with the
    failing rule's code. Raises ClaimNotFound, NotFound (a line not in the claim),
    ClaimStateConflict, ReasonRequired, OrderDisputed, NotClaimable, the pre-check errors,
    PreconditionFailed."""
    if action not in rules.REVIEW_ACTIONS:
        raise ValueError(f"not a review decision: {action}")
    return _decide(
        session,
        claim_id,
        action,
        actor=Actor.REVIEWER,
        actor_id=actor_id,
        awaiting=ClaimLineStatus.PENDING_REVIEW,
        reason=reason,
        line_ids=line_ids,
        expected_version=expected_version,
        now=now,
    )


def finance_decide(
    session: Session,
    claim_id: int,
    action: ClaimAction,
    *,
    actor_id: int,
    reason: str | None = None,
    line_ids: Sequence[int] | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Claim:
    """The finance officer's decision on reviewed lines: approve for payment (orders move to
    claim_approved), return for changes or reject. Never by the line's reviewer. Raises
    SeparationOfDuties plus everything :func:`review` raises."""
    if action not in rules.FINANCE_ACTIONS:
        raise ValueError(f"not a finance decision: {action}")
    return _decide(
        session,
        claim_id,
        action,
        actor=Actor.FINANCE,
        actor_id=actor_id,
        awaiting=ClaimLineStatus.REVIEWED,
        reason=reason,
        line_ids=line_ids,
        expected_version=expected_version,
        now=now,
    )


def history(session: Session, claim_id: int) -> list[ClaimEvent]:
    return list(
        session.scalars(
            sa.select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.id)
        )
    )
