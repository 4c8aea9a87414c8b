"""Suspending a provider freezes its unpaid claim lines (issue 11, point 5): no approval and no
payout until a reviewer decides each line (release to the budget, or unfreeze with a reason);
reinstating the provider lifts what the suspension froze. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.errors import ReasonRequired
from marketplace.settlement import freezes, payouts
from marketplace.settlement.enums import ClaimLineStatus
from marketplace.settlement.errors import ClaimLineFrozen, ClaimStateConflict
from marketplace.settlement.ledger_checks import verify_books
from marketplace.settlement.models import ClaimLineFreeze
from providers import services as provider_services
from providers.enums import ProviderAction
from vouchers.enums import FreezeAction, FreezeStatus
from vouchers.models import Hold


def _suspend(session, provider, actor, action=ProviderAction.SUSPEND, reason="涉嫌虚假服务"):
    provider_services.change_status(session, provider, action, actor_id=actor.id, reason=reason)
    session.flush()


def _freeze(session, line):
    return session.scalar(
        sa.select(ClaimLineFreeze).where(ClaimLineFreeze.claim_line_id == line.id)
    )


@pytest.fixture
def suspended(session, settlement_world):
    first = settlement_world.order()
    second = settlement_world.order(provider=first.provider)
    claim = settlement_world.claim(first, second)
    _suspend(session, first.provider, settlement_world.reviewer)
    lines = {line.order_id: line for line in claim.lines}
    return claim, lines[first.id], lines[second.id], first.provider


def test_suspension_freezes_unpaid_lines_and_stops_approval(session, settlement_world, suspended):
    claim, line_a, line_b, _provider = suspended
    assert _freeze(session, line_a).status is _freeze(session, line_b).status is FreezeStatus.FROZEN
    with pytest.raises(ClaimLineFrozen):
        settlement_world.review(claim, line_ids=[line_a.id])
    actions = set(session.scalars(sa.select(AuditEvent.action)))
    assert "claim_line_freeze.frozen" in actions


def test_unfreeze_then_release(session, settlement_world, suspended):
    claim, line_a, line_b, _provider = suspended
    reviewer = settlement_world.reviewer
    with pytest.raises(ReasonRequired):
        freezes.decide(
            session, _freeze(session, line_a).id, FreezeAction.UNFREEZE, reason="", actor_id=1
        )
    freezes.decide(
        session,
        _freeze(session, line_a).id,
        FreezeAction.UNFREEZE,
        reason="服务真实，已核实",
        actor_id=reviewer.id,
    )
    settlement_world.review(claim, line_ids=[line_a.id])
    assert line_a.status is ClaimLineStatus.REVIEWED

    hold = session.get(Hold, line_b.order.hold_id)
    with settlement_world._ctx():
        freezes.decide(
            session,
            _freeze(session, line_b).id,
            FreezeAction.RELEASE,
            reason="虚假服务，券资金退回预算",
            actor_id=reviewer.id,
        )
    session.flush()
    session.refresh(hold)
    assert line_b.status is ClaimLineStatus.REJECTED
    assert hold.captured_fen == 0 and _freeze(session, line_b).status is FreezeStatus.RELEASED
    assert verify_books(session).ok
    with pytest.raises(ClaimStateConflict):
        freezes.decide(
            session, _freeze(session, line_b).id, FreezeAction.UNFREEZE, reason="x", actor_id=1
        )


def test_frozen_approved_lines_are_not_paid_out(session, settlement_world):
    order = settlement_world.order()
    claim = settlement_world.approved_claim(order)
    (line,) = claim.lines
    assert [ln.id for ln in payouts.payout_queue(session)] == [line.id]
    _suspend(session, order.provider, settlement_world.reviewer)
    assert payouts.payout_queue(session) == []
    with pytest.raises(ClaimLineFrozen):
        settlement_world.batch([line.id])
    with pytest.raises(ClaimStateConflict):
        freezes.decide(
            session, _freeze(session, line).id, FreezeAction.RELEASE, reason="x", actor_id=1
        )


def test_reinstatement_lifts_what_the_suspension_froze(session, settlement_world, suspended):
    claim, line_a, line_b, provider = suspended
    freezes.decide(
        session,
        _freeze(session, line_a).id,
        FreezeAction.UNFREEZE,
        reason="已核实",
        actor_id=settlement_world.reviewer.id,
    )
    _suspend(session, provider, settlement_world.reviewer, ProviderAction.REINSTATE, "整改完成")
    assert _freeze(session, line_b).status is FreezeStatus.LIFTED
    assert _freeze(session, line_a).status is FreezeStatus.UNFROZEN
    settlement_world.review(claim)
    assert line_b.status is ClaimLineStatus.REVIEWED
