"""E-mails of settlement, queued with :func:`marketplace.notifications.notify` inside the
caller's transaction and delivered only after its commit.

* the provider's users, on every review or finance decision and on each bank payment result;
* every finance officer, when a reviewer has approved lines that now await their approval.

Templates: ``marketplace/notifications/templates/settlement_*.txt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.enums import Role
from marketplace.notifications import notify
from marketplace.settlement.enums import ClaimAction
from providers.notices import provider_recipients

_WITH_REASON = frozenset(
    {
        ClaimAction.REQUEST_CHANGES,
        ClaimAction.REJECT,
        ClaimAction.FINANCE_RETURN,
        ClaimAction.FINANCE_REJECT,
    }
)

if TYPE_CHECKING:
    from marketplace.settlement.models import Claim, ClaimLine, PayoutBatch, PayoutLine


def _name(recipient: User | str, fallback: str) -> str:
    return recipient.display_name if isinstance(recipient, User) else fallback


def _send(
    session: Session, recipients: Sequence[User | str], template: str, fallback: str, **ctx: Any
) -> None:
    for recipient in recipients:
        notify(session, recipient, template, name=_name(recipient, fallback), **ctx)


def claim_decided(
    session: Session, claim: Claim, lines: Sequence[ClaimLine], action: ClaimAction
) -> None:
    """Tell the provider what was decided on which lines, and why."""
    provider = claim.provider
    _send(
        session,
        provider_recipients(session, claim.provider_id),
        "settlement_claim_decision",
        provider.name,
        claim_reference=claim.reference,
        claim_id=claim.id,
        decision_zh=action.zh,
        decision_en=action.en,
        claim_status_zh=claim.status.zh,
        claim_status_en=claim.status.en,
        lines=[
            {
                "order_id": ln.order_id,
                "amount_fen": ln.amount_fen,
                "reason": ln.decision_reason if action in _WITH_REASON else None,
            }
            for ln in lines
        ],
        needs_action=action in (ClaimAction.REQUEST_CHANGES, ClaimAction.FINANCE_RETURN),
    )


def awaiting_finance(session: Session, claim: Claim, lines: Sequence[ClaimLine]) -> None:
    """Every active finance officer learns that reviewed lines await their approval."""
    officers = list(
        session.scalars(
            sa.select(User)
            .where(User.role == Role.FINANCE, User.is_active.is_(True))
            .order_by(User.id)
        )
    )
    _send(
        session,
        officers,
        "settlement_claim_awaits_finance",
        "",
        claim_reference=claim.reference,
        claim_id=claim.id,
        provider_name=claim.provider.name,
        line_count=len(lines),
        amount_fen=sum(ln.amount_fen for ln in lines),
    )


def payout_result(session: Session, batch: PayoutBatch, line: PayoutLine) -> None:
    """The provider learns that a payment reached its account, or failed and will be retried."""
    _send(
        session,
        provider_recipients(session, line.provider_id),
        "settlement_payout_paid" if line.status.value == "paid" else "settlement_payout_failed",
        line.provider_name,
        amount_fen=line.amount_fen,
        reference=line.reference,
        batch_reference=batch.reference,
        bank_transaction_id=line.bank_transaction_id or "",
        value_date=line.value_date.isoformat() if line.value_date else "",
        account=f"{line.bank_name} {line.bank_account_number[-4:]}",
        failure_reason=line.failure_reason or "",
        order_ids=[item.order_id for item in line.items],
    )
