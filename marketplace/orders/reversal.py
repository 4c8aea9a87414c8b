"""Give back voucher money that was already captured, when a dispute is upheld after
confirmation.

Why this lives here: :mod:`vouchers.holds` captures and releases holds, but a capture is final
there, while the SME may dispute a confirmed (captured) order until its confirmation deadline.
An upheld dispute must then restore (part of) the voucher. :func:`reverse_capture` is the exact
inverse of the captured part of :func:`vouchers.holds.capture_hold`, with the same locks in the
same order (voucher, quota, hold) and one balanced ledger posting:

* ``provider_payable → voucher_balance`` and ``budget_spent → budget_committed`` while the
  voucher is live (the amount is spendable again), or
* ``provider_payable → vouchers_issued`` and ``budget_spent → budget_available`` once the
  voucher has expired or was revoked (the amount goes back to the programme budget, as a
  release after expiry does);

and the cached counters move with it: the hold's ``captured_fen`` down and ``released_fen`` up
(a hold whose whole capture is reversed becomes *released*), the voucher's ``used_fen`` and the
enterprise's annual ``used_fen`` down. The posting does not *resolve* the hold again (a hold is
still resolved exactly once), so ``flask ledger verify`` holds after every reversal; the tests
run it. Idempotent on its key like every ledger posting.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import NotFound
from vouchers import ledger
from vouchers.enums import AccountKind, HoldStatus, TransactionKind, VoucherStatus
from vouchers.errors import AmountInvalid, HoldNotOpen
from vouchers.holds import lock_voucher
from vouchers.ledger_models import LedgerTransaction
from vouchers.models import Hold
from vouchers.quota import lock_quota_by_id

RELEASE_REASON = "dispute_upheld"


def reverse_capture(
    session: Session,
    hold_id: int,
    amount_fen: int,
    idempotency_key: str,
    now: datetime | None = None,
    *,
    actor_id: int | None = None,
    memo: str = "",
) -> Hold:
    """Return ``amount_fen`` (1 … captured) of a captured hold to its voucher or budget.

    Raises NotFound, HoldNotOpen (the hold is not captured), AmountInvalid (more than was
    captured), InsufficientFunds (the provider was already paid out that money).
    """
    now = now or utcnow()
    key = f"hold.reverse:{idempotency_key}"
    with session.begin_nested():
        current = session.get(Hold, hold_id)
        if current is None:
            raise NotFound("没有该冻结记录 / no such hold")
        voucher = lock_voucher(session, current.voucher_id)
        quota = lock_quota_by_id(session, current.quota_id)
        hold = session.scalars(
            sa.select(Hold)
            .where(Hold.id == hold_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        done = session.scalar(
            sa.select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)
        )
        if done is not None:
            return hold
        if hold.status is not HoldStatus.CAPTURED or hold.provider_id is None:
            raise HoldNotOpen(
                f"该冻结未核销，无需冲回 / the hold is {hold.status.value}, not captured",
                extra={"hold_status": hold.status.value},
            )
        if isinstance(amount_fen, bool) or not 0 < amount_fen <= hold.captured_fen:
            raise AmountInvalid(
                f"冲回金额须为1至{hold.captured_fen}分 / the amount to give back must be 1–"
                f"{hold.captured_fen} fen",
                field="amount_fen",
            )
        programme_id = voucher.programme_id
        prog = ledger.programme_accounts(session, programme_id)
        payable = ledger.get_account(
            session,
            AccountKind.PROVIDER_PAYABLE,
            programme_id=programme_id,
            provider_id=hold.provider_id,
        )
        if voucher.status.is_live:
            balance = ledger.voucher_accounts(session, programme_id, voucher.id).balance
            entries = ledger.transfer(payable, balance, amount_fen) + ledger.transfer(
                prog.spent, prog.committed, amount_fen
            )
            voucher.balance_fen += amount_fen
            if voucher.status is VoucherStatus.EXHAUSTED:
                voucher.status = VoucherStatus.ACTIVE
        else:
            entries = ledger.transfer(payable, prog.issued, amount_fen) + ledger.transfer(
                prog.spent, prog.available, amount_fen
            )
            voucher.returned_fen += amount_fen
        voucher.used_fen -= amount_fen
        quota.used_fen -= amount_fen
        hold.captured_fen -= amount_fen
        hold.released_fen += amount_fen
        if hold.captured_fen == 0:
            hold.status = HoldStatus.RELEASED
            hold.release_reason = RELEASE_REASON
        ledger.post(
            session,
            key,
            TransactionKind.RELEASE,
            entries,
            programme_id=programme_id,
            voucher_id=voucher.id,
            hold_id=hold.id,
            actor_id=actor_id,
            memo=memo or f"order {hold.order_ref}: capture reversed, dispute upheld",
            now=now,
        )
        session.flush()
        record(
            session,
            "hold.capture_reversed",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            hold_id=hold.id,
            amount_fen=amount_fen,
            captured_fen=hold.captured_fen,
        )
    return hold
