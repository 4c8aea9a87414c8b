"""Expiry and revocation: unused voucher money goes back to the programme budget.

Expiry (``flask vouchers expire``, safe to run any number of times):

1. every live voucher whose use-by date has passed becomes *expired*; its unused balance is
   returned to the programme budget (voucher_balance → vouchers_issued and
   budget_committed → budget_available, one transaction keyed ``voucher:<id>:expire``);
2. **open holds** are not touched by step 1: an order placed before the use-by date may still
   complete (capture) until the programme's claim deadline, or be cancelled (release — the
   amount then returns to the budget, not to the expired voucher);
3. holds still open after the claim deadline are released to the budget (reason
   ``claim_deadline``), since no claim can be paid for them any more.

Revocation (fraud) releases the voucher's open holds, returns its whole unused balance to the
budget, marks it revoked and flags whatever was already redeemed (captured) for recovery.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from vouchers import ledger, rules
from vouchers.common import clean_text
from vouchers.enums import HoldStatus, TransactionKind, VoucherAction, VoucherStatus
from vouchers.errors import HoldNotOpen
from vouchers.holds import lock_voucher, release_hold
from vouchers.models import Hold, Quota, RecoveryFlag, Voucher

LIVE = (VoucherStatus.ACTIVE, VoucherStatus.EXHAUSTED)


def vouchers_due(session: Session, today: date) -> list[int]:
    """Ids of live vouchers whose use-by date is before ``today``."""
    return list(
        session.scalars(
            sa.select(Voucher.id)
            .where(Voucher.status.in_(LIVE), Voucher.use_by < today)
            .order_by(Voucher.id)
        )
    )


def stale_holds(session: Session, today: date) -> list[int]:
    """Ids of open holds whose voucher's claim deadline is before ``today``."""
    return list(
        session.scalars(
            sa.select(Hold.id)
            .join(Voucher, Voucher.id == Hold.voucher_id)
            .where(Hold.status == HoldStatus.OPEN, Voucher.claim_deadline < today)
            .order_by(Hold.id)
        )
    )


def _return_balance(
    session: Session,
    voucher: Voucher,
    *,
    key: str,
    kind: TransactionKind,
    actor_id: int | None,
    now: datetime,
) -> int:
    amount = voucher.balance_fen
    if amount == 0:
        return 0
    prog = ledger.programme_accounts(session, voucher.programme_id)
    accounts = ledger.voucher_accounts(session, voucher.programme_id, voucher.id)
    voucher.balance_fen = 0
    voucher.returned_fen += amount
    session.flush()
    ledger.post(
        session,
        key,
        kind,
        ledger.transfer(accounts.balance, prog.issued, amount)
        + ledger.transfer(prog.committed, prog.available, amount),
        programme_id=voucher.programme_id,
        voucher_id=voucher.id,
        actor_id=actor_id,
        memo=f"voucher {voucher.serial} {kind.value}",
        now=now,
    )
    return amount


def expire_voucher(
    session: Session, voucher_id: int, *, today: date, now: datetime | None = None
) -> int:
    """Expire one voucher if it is live and past its use-by date; return the amount returned
    to the budget (0 when there was nothing to do — repeating is harmless)."""
    now = now or utcnow()
    with session.begin_nested():
        voucher = lock_voucher(session, voucher_id)
        if (
            not rules.VOUCHER.allows(voucher.status, VoucherAction.EXPIRE)
            or voucher.use_by >= today
        ):
            return 0
        returned = _return_balance(
            session,
            voucher,
            key=f"voucher:{voucher.id}:expire",
            kind=TransactionKind.EXPIRE,
            actor_id=None,
            now=now,
        )
        rules.VOUCHER.move(voucher, VoucherAction.EXPIRE)
        voucher.expired_at = now
        session.flush()
        record(
            session,
            "voucher.expired",
            actor_id=None,
            subject_type="voucher",
            subject_id=voucher.id,
            returned_fen=returned,
            open_holds_fen=voucher.held_fen,
        )
    return returned


def release_stale_hold(
    session: Session, hold_id: int, *, today: date, now: datetime | None = None
) -> int:
    """Release one hold left open past its voucher's claim deadline; return the amount (0 if
    it was already resolved or is not stale)."""
    now = now or utcnow()
    hold = session.get(Hold, hold_id)
    if hold is None or hold.status is not HoldStatus.OPEN:
        return 0
    voucher = session.get(Voucher, hold.voucher_id)
    if voucher is None or voucher.claim_deadline >= today:
        return 0
    try:
        released = release_hold(
            session, hold_id, f"expiry:hold:{hold_id}", now, reason="claim_deadline"
        )
    except HoldNotOpen as race:
        # Resolved by its order in the meantime: nothing left to release.
        race.recovered()
        return 0
    return released.released_fen


def revoke_voucher(
    session: Session,
    voucher_id: int,
    *,
    reason: str,
    actor_id: int | None,
    idempotency_key: str,
    now: datetime | None = None,
) -> Voucher:
    """Revoke a voucher (fraud): release its open holds, return its unused balance to the
    budget, and flag the redeemed amount for recovery.

    Raises ReasonRequired, InvalidTransition (already revoked under another key), NotFound.
    """
    now = now or utcnow()
    cleaned = clean_text(reason, "reason")
    with session.begin_nested():
        voucher = lock_voucher(session, voucher_id)
        if voucher.status is VoucherStatus.REVOKED and voucher.revocation_key == idempotency_key:
            return voucher  # a retry of this revocation
        # Refused (revoked under another key) before any hold is released or money returned.
        rules.VOUCHER.next(voucher.status, VoucherAction.REVOKE)
        open_holds = session.execute(
            sa.select(Hold.id)
            .join(Quota, Quota.id == Hold.quota_id)
            .where(Hold.voucher_id == voucher.id, Hold.status == HoldStatus.OPEN)
            .order_by(Hold.quota_id, Hold.id)
        ).scalars()
        released = 0
        for hold_id in list(open_holds):
            hold = release_hold(
                session,
                hold_id,
                f"revoke:{idempotency_key}:hold:{hold_id}",
                now,
                reason="revoked",
                actor_id=actor_id,
            )
            released += hold.released_fen
        voucher = lock_voucher(session, voucher_id)
        returned = _return_balance(
            session,
            voucher,
            key=f"voucher:{voucher.id}:revoke",
            kind=TransactionKind.REVOKE,
            actor_id=actor_id,
            now=now,
        )
        rules.VOUCHER.move(voucher, VoucherAction.REVOKE)
        voucher.revoked_at = now
        voucher.revoke_reason = cleaned
        voucher.revocation_key = idempotency_key
        if voucher.used_fen > 0:
            session.add(
                RecoveryFlag(
                    voucher_id=voucher.id,
                    amount_fen=voucher.used_fen,
                    reason=cleaned,
                    actor_id=actor_id,
                    created_at=now,
                )
            )
        session.flush()
        record(
            session,
            "voucher.revoked",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            reason=cleaned,
            returned_fen=returned,
            released_holds_fen=released,
            flagged_for_recovery_fen=voucher.used_fen,
        )
    return voucher
