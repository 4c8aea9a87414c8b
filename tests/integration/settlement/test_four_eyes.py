"""Four eyes on payouts, on both databases: the officer who builds a batch neither sends it
nor imports its confirmation; a batch above the second-approval amount is approved by a
second officer before a third sends it. The services refuse, and so does the database — for
a programme paying from its own budget and for each paying treasury's batch alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.errors import DomainError
from marketplace.settlement import payout_files, payouts
from marketplace.settlement.enums import PayoutBatchStatus, PayoutLineStatus
from marketplace.settlement.models import PayoutBatch
from tests.support.settlement_fixtures import CLAIM_NOW

pytestmark = pytest.mark.usefixtures("orders_ctx")


def _refused(code: str, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


def _build(w, *, above_fen: int | None = None, funder_id: int | None = None) -> PayoutBatch:
    return payouts.create_batch(
        w.session,
        actor_id=w.finance.id,
        funder_id=funder_id,
        second_approval_above_fen=above_fen,
        now=CLAIM_NOW,
    ).batch


@dataclass
class Payer:
    """Whose batch: a programme paying from its own budget, or one treasury of a co-funded
    programme (the province's part of a Kunming SME's order)."""

    world: Any
    funder_id: int | None
    _order: Callable[[], Any]
    _part: Callable[[Any], int]

    def approved_order(self) -> Any:
        order = self._order()
        self.world.approved_claim(order)
        return order

    def part(self, order: Any) -> int:
        """What this payer's batch pays for ``order``."""
        return self._part(order)

    def build(self, *, above_fen: int | None = None) -> PayoutBatch:
        return _build(self.world, above_fen=above_fen, funder_id=self.funder_id)


@pytest.fixture(params=["own_budget", "treasury"])
def payer(request, settlement_world) -> Payer:
    """Four eyes hold for every batch, each paying treasury's included."""
    w = settlement_world
    if request.param == "own_budget":
        return Payer(w, None, w.order, lambda order: order.voucher_part_fen)
    cf = request.getfixturevalue("co_funded_world")
    return Payer(
        w,
        cf.province.id,
        lambda: cf.order("530103", 200_003),
        lambda order: cf.parts(order)[cf.province.id],
    )


def test_the_builder_cannot_send_nor_confirm(settlement_world, session, payer):
    w = settlement_world
    order = payer.approved_order()
    batch = payer.build()
    assert batch.funder_id == payer.funder_id and batch.total_fen == payer.part(order)
    assert batch.four_eyes and not batch.needs_second_approval
    assert [line.built_by_id for line in batch.lines] == [w.finance.id]

    error = _refused(
        "separation_of_duties", payouts.mark_sent, session, batch.id, actor_id=w.finance.id
    )
    assert error.status == 403 and "四眼" in error.message
    assert batch.status is PayoutBatchStatus.DRAFT and batch.sent_by_id is None

    payouts.mark_sent(session, batch.id, actor_id=w.second_finance.id, now=CLAIM_NOW)
    assert batch.status is PayoutBatchStatus.SENT and batch.sent_by_id == w.second_finance.id

    rows = payout_files.parse_confirmation_csv(w.confirmation_csv(batch))
    _refused(
        "separation_of_duties",
        payouts.import_confirmation,
        session,
        batch.id,
        rows,
        actor_id=w.finance.id,
    )
    assert batch.lines[0].status is PayoutLineStatus.PENDING
    result = payouts.import_confirmation(session, batch.id, rows, actor_id=w.third_finance.id)
    assert result.applied == [batch.lines[0].id]


def test_an_anonymous_step_is_refused(settlement_world, session):
    w = settlement_world
    w.approved_claim(w.order())
    _refused("separation_of_duties", payouts.create_batch, session, actor_id=None)
    batch = _build(w)
    _refused("separation_of_duties", payouts.mark_sent, session, batch.id, actor_id=None)


def test_a_large_batch_is_approved_by_a_second_officer_and_sent_by_a_third(
    settlement_world, session, payer
):
    w = settlement_world
    order = payer.approved_order()
    batch = payer.build(above_fen=payer.part(order) - 1)
    assert batch.needs_second_approval and batch.awaiting_second_approval

    error = _refused(
        "second_approval_required",
        payouts.mark_sent,
        session,
        batch.id,
        actor_id=w.second_finance.id,
    )
    assert error.status == 409
    _refused(
        "separation_of_duties", payouts.approve_batch, session, batch.id, actor_id=w.finance.id
    )
    _refused(
        "precondition_failed",
        payouts.approve_batch,
        session,
        batch.id,
        actor_id=w.second_finance.id,
        expected_version=batch.version + 1,
    )
    approved = payouts.approve_batch(
        session, batch.id, actor_id=w.second_finance.id, expected_version=batch.version
    )
    assert approved.approved_by_id == w.second_finance.id and approved.approved_at is not None
    assert not approved.awaiting_second_approval
    version = approved.version
    # Approving again is a no-op for the same officer; a further approval is refused.
    assert payouts.approve_batch(session, batch.id, actor_id=w.second_finance.id).version == version
    _refused(
        "payout_state_conflict",
        payouts.approve_batch,
        session,
        batch.id,
        actor_id=w.third_finance.id,
    )
    # The approver does not also send it: a third officer does.
    _refused(
        "separation_of_duties", payouts.mark_sent, session, batch.id, actor_id=w.second_finance.id
    )
    payouts.mark_sent(session, batch.id, actor_id=w.third_finance.id, now=CLAIM_NOW)
    assert batch.status is PayoutBatchStatus.SENT
    # A sent batch cannot be approved any more.
    other = w.create_user(w.finance.role)
    _refused("payout_state_conflict", payouts.approve_batch, session, batch.id, actor_id=other.id)


def test_a_small_batch_needs_no_second_approval(settlement_world, session):
    w = settlement_world
    order = w.order()
    w.approved_claim(order)
    batch = _build(w, above_fen=order.voucher_part_fen)  # exactly the amount: not above it
    assert not batch.needs_second_approval
    _refused(
        "payout_state_conflict",
        payouts.approve_batch,
        session,
        batch.id,
        actor_id=w.second_finance.id,
    )
    payouts.mark_sent(session, batch.id, actor_id=w.second_finance.id, now=CLAIM_NOW)


@pytest.mark.parametrize(
    "breach",
    [
        "sent_by_builder",
        "sent_without_sender",
        "approved_by_builder",
        "approved_and_sent_by_one",
        "large_sent_unapproved",
        "approval_without_time",
        "confirmed_by_builder",
    ],
)
def test_the_database_refuses_what_the_services_refuse(settlement_world, session, breach, payer):
    w = settlement_world
    payer.approved_order()
    batch = payer.build(above_fen=1)
    assert batch.funder_id == payer.funder_id
    line = batch.lines[0]
    other, third = w.second_finance.id, w.third_finance.id
    changes = {
        "sent_by_builder": {"status": "sent", "sent_at": CLAIM_NOW, "sent_by_id": w.finance.id},
        "sent_without_sender": {"status": "sent", "sent_at": CLAIM_NOW},
        "approved_by_builder": {"approved_by_id": w.finance.id, "approved_at": CLAIM_NOW},
        "approved_and_sent_by_one": {
            "approved_by_id": other,
            "approved_at": CLAIM_NOW,
            "status": "sent",
            "sent_at": CLAIM_NOW,
            "sent_by_id": other,
        },
        "large_sent_unapproved": {"status": "sent", "sent_at": CLAIM_NOW, "sent_by_id": other},
        "approval_without_time": {"approved_by_id": other},
    }
    table = PayoutBatch.__table__
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        if breach == "confirmed_by_builder":
            session.execute(
                sa.update(line.__table__)
                .where(line.__table__.c.id == line.id)
                .values(
                    status="failed",
                    confirmed_by_id=w.finance.id,
                    confirmed_at=CLAIM_NOW,
                    value_date=CLAIM_NOW.date(),
                )
            )
        else:
            session.execute(
                sa.update(table).where(table.c.id == batch.id).values(**changes[breach])
            )
    # The same rows with the right people pass: the CHECKs refuse only the breach.
    session.execute(
        sa.update(table)
        .where(table.c.id == batch.id)
        .values(
            approved_by_id=other,
            approved_at=CLAIM_NOW,
            status="sent",
            sent_at=CLAIM_NOW,
            sent_by_id=third,
        )
    )
    session.execute(
        sa.update(line.__table__)
        .where(line.__table__.c.id == line.id)
        .values(
            status="failed",
            confirmed_by_id=other,
            confirmed_at=CLAIM_NOW,
            value_date=CLAIM_NOW.date(),
        )
    )
    session.flush()
