"""Freezes of a blacklisting (POLICY.md rule 6): an enterprise put on the dishonesty list
keeps nothing moving until a reviewer has looked at each of its orders.

* :func:`freeze_enterprise` (called by the listing): every voucher still carrying money moves
  to *frozen*; each of its holds that an order still depends on — open, or captured but not
  yet claimed — gets a :class:`~vouchers.models.HoldFreeze`. A frozen hold is not captured
  (:func:`vouchers.holds.capture_hold` raises HoldFrozen) and its order is not claimed
  (settlement asks :func:`vouchers.holds.frozen_hold_ids`).
* :func:`decide`: per order, the reviewer **releases** the money to the programme budget (an
  open hold is released, a captured one reversed, either way to the budget, not back to the
  voucher) or **unfreezes** it with a reason (the order goes on).
* :func:`lift_enterprise` (called when the listing is removed): the vouchers it froze become
  usable again and the freezes nobody decided are lifted.

Whether a captured hold still waits for its claim is the orders' knowledge, not ours: the
orders package registers :func:`on_captured_holds` (as it registers its payment listener).
Everything is recorded in the audit trail, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import DomainError, NotFound
from marketplace.statemachine import StateMachine
from vouchers import holds, rules
from vouchers.common import clean_text
from vouchers.enums import FreezeAction, FreezeStatus, HoldStatus, VoucherAction, VoucherStatus
from vouchers.errors import InvalidTransition
from vouchers.models import BlacklistEvent, Enterprise, Hold, HoldFreeze, Voucher

#: Given captured holds' ids, the ones whose orders are not yet claimed (registered by orders).
StillOpen = Callable[[Session, list[int]], set[int]]
_still_open: list[StillOpen] = []

RELEASE_REASON = "blacklist_released"


def on_captured_holds(check: StillOpen) -> None:
    """Register who knows which captured holds still wait for their claim (idempotent)."""
    if check not in _still_open:
        _still_open.append(check)


def _captured_still_open(session: Session, hold_ids: list[int]) -> set[int]:
    if not hold_ids:
        return set()
    if not _still_open:
        return set(hold_ids)  # nobody can tell: freeze them all, a reviewer sorts them out
    result: set[int] = set()
    for check in _still_open:
        result |= check(session, hold_ids)
    return result


def freeze_enterprise(
    session: Session, enterprise: Enterprise, listing: BlacklistEvent, actor_id: int | None
) -> list[HoldFreeze]:
    """Freeze the listed enterprise's vouchers and the holds its orders depend on."""
    now = utcnow()
    vouchers = session.scalars(
        sa.select(Voucher)
        .where(
            Voucher.enterprise_id == enterprise.id,
            Voucher.status.in_([VoucherStatus.ACTIVE, VoucherStatus.EXHAUSTED]),
        )
        .order_by(Voucher.id)
        .with_for_update(of=Voucher)
    ).all()
    created: list[HoldFreeze] = []
    for voucher in vouchers:
        before, after = rules.VOUCHER.move(voucher, VoucherAction.FREEZE)
        record(
            session,
            "voucher.frozen",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            from_status=before.value,
            to_status=after.value,
            enterprise_id=enterprise.id,
            blacklist_event_id=listing.id,
        )
    voucher_ids = [v.id for v in vouchers]
    if not voucher_ids:
        return created
    candidates = session.scalars(
        sa.select(Hold)
        .where(
            Hold.voucher_id.in_(voucher_ids),
            Hold.status.in_([HoldStatus.OPEN, HoldStatus.CAPTURED]),
        )
        .order_by(Hold.id)
    ).all()
    captured = [h.id for h in candidates if h.status is HoldStatus.CAPTURED]
    open_captured = _captured_still_open(session, captured)
    for hold in candidates:
        if hold.status is HoldStatus.CAPTURED and hold.id not in open_captured:
            continue
        freeze = HoldFreeze(
            hold_id=hold.id,
            voucher_id=hold.voucher_id,
            enterprise_id=enterprise.id,
            blacklist_event_id=listing.id,
            status=FreezeStatus.FROZEN,
            frozen_at=now,
        )
        session.add(freeze)
        created.append(freeze)
    session.flush()
    for freeze in created:
        record(
            session,
            "hold_freeze.frozen",
            actor_id=actor_id,
            subject_type="hold_freeze",
            subject_id=freeze.id,
            hold_id=freeze.hold_id,
            order_ref=freeze.hold.order_ref,
            to_status=FreezeStatus.FROZEN.value,
            blacklist_event_id=listing.id,
        )
    return created


def lift_enterprise(
    session: Session, enterprise: Enterprise, reason: str, actor_id: int | None
) -> None:
    """Undo what the listing froze: vouchers usable again, undecided freezes lifted."""
    now = utcnow()
    vouchers = session.scalars(
        sa.select(Voucher)
        .where(Voucher.enterprise_id == enterprise.id, Voucher.status == VoucherStatus.FROZEN)
        .order_by(Voucher.id)
        .with_for_update(of=Voucher)
    ).all()
    for voucher in vouchers:
        before, after = rules.VOUCHER.move(voucher, VoucherAction.UNFREEZE)
        if voucher.balance_fen == 0:
            _, after = rules.VOUCHER.move(voucher, VoucherAction.EXHAUST)
        record(
            session,
            "voucher.unfrozen",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            from_status=before.value,
            to_status=after.value,
            enterprise_id=enterprise.id,
            reason=reason,
        )
    pending = session.scalars(
        sa.select(HoldFreeze)
        .where(HoldFreeze.enterprise_id == enterprise.id, HoldFreeze.status == FreezeStatus.FROZEN)
        .order_by(HoldFreeze.id)
        .with_for_update()
    ).all()
    for freeze in pending:
        _settle(session, freeze, FreezeAction.LIFT, reason, actor_id, now)


def _settle(
    session: Session,
    freeze: HoldFreeze,
    action: FreezeAction,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    settle_freeze(
        session,
        rules.HOLD_FREEZE,
        freeze,
        action,
        reason=reason,
        actor_id=actor_id,
        now=now,
        subject_type="hold_freeze",
        hold_id=freeze.hold_id,
        order_ref=freeze.hold.order_ref,
    )


def get_freeze(session: Session, freeze_id: int, *, lock: bool = False) -> HoldFreeze:
    return lock_freeze(session, HoldFreeze, freeze_id, lock=lock)


def decide(
    session: Session,
    freeze_id: int,
    action: FreezeAction,
    *,
    reason: str,
    actor_id: int,
    now: datetime | None = None,
) -> HoldFreeze:
    """A reviewer's decision on one frozen order: RELEASE its voucher money to the programme
    budget, or UNFREEZE it (the order goes on). A reason is required either way.

    Raises ReasonRequired, InvalidTransition (decided already, or LIFT asked by hand),
    NotFound, HoldNotOpen (the hold moved meanwhile)."""
    now = now or utcnow()
    freeze, cleaned = open_decision(
        session,
        HoldFreeze,
        rules.HOLD_FREEZE,
        freeze_id,
        action,
        reason,
        lift_refused=InvalidTransition(
            "只有移出失信名单才会整体解冻 / only lifting the listing lifts freezes"
        ),
    )
    if action is FreezeAction.RELEASE:
        hold = freeze.hold
        key = f"freeze:{freeze.id}:release"
        if hold.status is HoldStatus.OPEN:
            holds.release_hold(
                session,
                hold.id,
                key,
                now,
                reason=RELEASE_REASON,
                actor_id=actor_id,
                to_budget=True,
            )
        elif hold.status is HoldStatus.CAPTURED and hold.captured_fen > 0:
            holds.reverse_capture(
                session, hold.id, hold.captured_fen, key, now, actor_id=actor_id, to_budget=True
            )
    _settle(session, freeze, action, cleaned, actor_id, now)
    return freeze


def pending(
    session: Session, *, enterprise_id: int | None = None, include_decided: bool = False
) -> sa.Select[HoldFreeze]:
    """The freezes a reviewer works through (undecided first, oldest first)."""
    stmt = sa.select(HoldFreeze)
    if enterprise_id is not None:
        stmt = stmt.where(HoldFreeze.enterprise_id == enterprise_id)
    if not include_decided:
        stmt = stmt.where(HoldFreeze.status == FreezeStatus.FROZEN)
    return stmt.order_by(HoldFreeze.frozen_at, HoldFreeze.id)


def frozen_among(session: Session, hold_ids: Iterable[int]) -> set[int]:
    return holds.frozen_hold_ids(session, list(hold_ids))


# --------------------------------------------------------------------------- every freeze's shape
# A blacklisting's frozen order (here) and a suspension's frozen claim line
# (marketplace.settlement.freezes) are decided the same way; the steps live here, the lowest
# layer both may import, and each domain says what its money does.


class Freeze(Protocol):
    """A freeze row: one status moved by its machine, and who decided it, when and why."""

    id: int
    status: FreezeStatus
    decided_at: datetime | None
    decided_by: int | None
    decision_reason: str | None


F = TypeVar("F", bound=Freeze)


def lock_freeze(session: Session, model: type[F], freeze_id: int, *, lock: bool = False) -> F:
    """The freeze ``freeze_id`` of ``model`` (locked for the decision); NotFound otherwise."""
    stmt = sa.select(model).where(cast(Any, model).id == freeze_id)
    if lock:
        stmt = stmt.with_for_update()
    freeze = session.scalar(stmt)
    if freeze is None:
        raise NotFound("no such freeze")
    return freeze


def open_decision(
    session: Session,
    model: type[F],
    machine: StateMachine[FreezeStatus, FreezeAction],
    freeze_id: int,
    action: FreezeAction,
    reason: str,
    *,
    lift_refused: DomainError,
) -> tuple[F, str]:
    """The checks before a reviewer's decision moves any money: a reason, no LIFT by hand
    (``lift_refused``: only ending the listing or suspension lifts), the freeze locked and
    still undecided. Returns the freeze and the cleaned reason."""
    cleaned = clean_text(reason, "reason")
    if action is FreezeAction.LIFT:
        raise lift_refused
    freeze = lock_freeze(session, model, freeze_id, lock=True)
    machine.next(freeze.status, action)  # refuse before any money moves
    return freeze, cleaned


def settle_freeze(
    session: Session,
    machine: StateMachine[FreezeStatus, FreezeAction],
    freeze: Freeze,
    action: FreezeAction,
    *,
    reason: str,
    actor_id: int | None,
    now: datetime,
    subject_type: str,
    **detail: Any,
) -> None:
    """Move the freeze, note who decided when and why, and record it in the audit trail
    (action ``<subject_type>.<new status>``, ``detail`` beside the change)."""
    before, after = machine.move(freeze, action)
    freeze.decided_at = now
    freeze.decided_by = actor_id
    freeze.decision_reason = reason
    session.flush()
    record(
        session,
        f"{subject_type}.{after.value}",
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=freeze.id,
        **detail,
        from_status=before.value,
        to_status=after.value,
        reason=reason,
    )
