"""Suspending a provider freezes its unpaid claim lines (issue 11, point 5), as a blacklisting
freezes an enterprise's orders (:mod:`vouchers.freezes`).

* On **suspension** every line of the provider not yet in a payout batch (awaiting review,
  returned for changes, reviewed, approved) gets a :class:`ClaimLineFreeze`: it is neither
  approved (:func:`claims.refuse_frozen_lines`) nor paid out (the payout queue skips it).
* A reviewer decides each: **unfreeze** with a reason (the line goes on), or **release** the
  voucher money to the programme budget — for a line still awaiting review: the line is
  rejected with the reason and the order's captured voucher part reversed to the budget, so
  the provider is not paid it and the order cannot be claimed again.
* **Reinstating** the provider lifts the freezes nobody decided.

The provider package announces status changes (:func:`providers.services.on_status_change`);
this module registers itself there when it is imported (settlement's services import it).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.orders.models import Order
from marketplace.settlement import claims, rules
from marketplace.settlement.enums import ClaimAction, ClaimLineStatus
from marketplace.settlement.errors import ClaimStateConflict
from marketplace.settlement.models import ClaimLine, ClaimLineFreeze
from providers import services as provider_services
from providers.enums import ProviderAction
from providers.models import Provider, ProviderStatusChange
from vouchers import holds
from vouchers.enums import FreezeAction, FreezeStatus, HoldStatus
from vouchers.freezes import lock_freeze, open_decision, settle_freeze
from vouchers.models import Hold

#: Lines whose money has not left: a suspension stops them.
UNPAID = (
    ClaimLineStatus.PENDING_REVIEW,
    ClaimLineStatus.CHANGES_REQUESTED,
    ClaimLineStatus.REVIEWED,
    ClaimLineStatus.APPROVED,
)


def freeze_provider(
    session: Session, provider: Provider, change: ProviderStatusChange
) -> list[ClaimLineFreeze]:
    lines = session.scalars(
        sa.select(ClaimLine)
        .where(
            ClaimLine.provider_id == provider.id,
            ClaimLine.status.in_(UNPAID),
            ClaimLine.payout_line_id.is_(None),
        )
        .order_by(ClaimLine.id)
    ).all()
    now = utcnow()
    created = [
        ClaimLineFreeze(
            claim_line_id=line.id,
            provider_id=provider.id,
            status_change_id=change.id,
            status=FreezeStatus.FROZEN,
            frozen_at=now,
        )
        for line in lines
    ]
    session.add_all(created)
    session.flush()
    for freeze, line in zip(created, lines, strict=True):
        record(
            session,
            "claim_line_freeze.frozen",
            actor_id=change.actor_id,
            subject_type="claim_line_freeze",
            subject_id=freeze.id,
            claim_line_id=line.id,
            claim_id=line.claim_id,
            order_id=line.order_id,
            provider_id=provider.id,
            to_status=FreezeStatus.FROZEN.value,
        )
    return created


def lift_provider(session: Session, provider: Provider, change: ProviderStatusChange) -> None:
    pending = session.scalars(
        sa.select(ClaimLineFreeze)
        .where(
            ClaimLineFreeze.provider_id == provider.id,
            ClaimLineFreeze.status == FreezeStatus.FROZEN,
        )
        .order_by(ClaimLineFreeze.id)
        .with_for_update()
    ).all()
    reason = change.reason or "服务机构已恢复 / provider reinstated"
    for freeze in pending:
        _settle(session, freeze, FreezeAction.LIFT, reason, change.actor_id, utcnow())


def _provider_changed(session: Session, provider: Provider, change: ProviderStatusChange) -> None:
    if change.action is ProviderAction.SUSPEND:
        freeze_provider(session, provider, change)
    elif change.action is ProviderAction.REINSTATE:
        lift_provider(session, provider, change)


provider_services.on_status_change(_provider_changed)


def _settle(
    session: Session,
    freeze: ClaimLineFreeze,
    action: FreezeAction,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    settle_freeze(
        session,
        rules.LINE_FREEZE,
        freeze,
        action,
        reason=reason,
        actor_id=actor_id,
        now=now,
        subject_type="claim_line_freeze",
        claim_line_id=freeze.claim_line_id,
    )


def get_freeze(session: Session, freeze_id: int, *, lock: bool = False) -> ClaimLineFreeze:
    return lock_freeze(session, ClaimLineFreeze, freeze_id, lock=lock)


def decide(
    session: Session,
    freeze_id: int,
    action: FreezeAction,
    *,
    reason: str,
    actor_id: int,
    now: datetime | None = None,
) -> ClaimLineFreeze:
    """A reviewer's decision on one frozen claim line (see the module docstring).

    Raises ReasonRequired, ClaimStateConflict (decided already; release of a line that is
    past review), NotFound, and what rejecting the line raises."""
    now = now or utcnow()
    freeze, cleaned = open_decision(
        session,
        ClaimLineFreeze,
        rules.LINE_FREEZE,
        freeze_id,
        action,
        reason,
        lift_refused=ClaimStateConflict(
            "只有恢复服务机构才会整体解冻 / only reinstating the provider lifts freezes"
        ),
    )
    if action is FreezeAction.RELEASE:
        line = freeze.line
        if line.status is not ClaimLineStatus.PENDING_REVIEW:
            raise ClaimStateConflict(
                f"只有待初审的明细可退回预算（当前：{line.status.zh}） / only a line awaiting "
                f"review can be released to the budget (this one is {line.status.value})",
                extra={"claim_line_id": line.id, "line_status": line.status.value},
            )
        claims.review(
            session,
            line.claim_id,
            ClaimAction.REJECT,
            actor_id=actor_id,
            reason=cleaned,
            line_ids=[line.id],
            now=now,
        )
        order = session.get(Order, line.order_id)
        hold = session.get(Hold, order.hold_id) if order and order.hold_id else None
        if hold is not None and hold.status is HoldStatus.CAPTURED and hold.captured_fen > 0:
            holds.reverse_capture(
                session,
                hold.id,
                hold.captured_fen,
                f"line-freeze:{freeze.id}:release",
                now,
                actor_id=actor_id,
                to_budget=True,
            )
    _settle(session, freeze, action, cleaned, actor_id, now)
    return freeze


def pending(session: Session, *, provider_id: int | None = None) -> sa.Select[ClaimLineFreeze]:
    stmt = sa.select(ClaimLineFreeze)
    if provider_id is not None:
        stmt = stmt.where(ClaimLineFreeze.provider_id == provider_id)
    return stmt.order_by(ClaimLineFreeze.id)
