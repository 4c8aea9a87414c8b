"""Claims on both databases: submission and its refusals, every pre-check rule failing alone,
two-step review with separated duties, partial approval, frozen disputed lines."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.clock import local_date
from marketplace.enums import Role
from marketplace.errors import DomainError, PreconditionFailed
from marketplace.notifications.models import OutboundEmail
from marketplace.orders import disputes
from marketplace.orders.enums import OrderAction, OrderStatus, Outcome
from marketplace.orders.models import OrderEvent
from marketplace.payments import services as payments
from marketplace.settlement import claims
from marketplace.settlement.enums import CheckRule, ClaimAction, ClaimLineStatus, ClaimStatus
from marketplace.settlement.models import Claim, ClaimedInvoice, ClaimEvent, ClaimLine
from tests.conftest import rows
from tests.support.settlement_fixtures import CLAIM_NOW
from tests.support.voucher_fixtures import VOUCHER_YEAR
from vouchers import expiry
from vouchers.enums import CapScope

# Services read the settings (notifications) from the test app's context.
pytestmark = pytest.mark.usefixtures("orders_ctx")
A = ClaimAction


def _refused(session, call, code):
    """``call`` fails with ``code`` and leaves no claim, line or registered invoice behind."""
    before = [len(rows(session, m)) for m in (Claim, ClaimLine, ClaimedInvoice, ClaimEvent)]
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code
    after = [len(rows(session, m)) for m in (Claim, ClaimLine, ClaimedInvoice, ClaimEvent)]
    assert after == before
    return caught.value


# --------------------------------------------------------------------------- submission


def test_submission_claims_the_orders_and_stores_a_passing_checklist(settlement_world, session):
    w = settlement_world
    first = w.order()
    second = w.order(provider=first.provider, price_fen=300_000)
    claim = w.claim(first, second, note="六月检测服务")

    assert claim.status is ClaimStatus.IN_REVIEW and claim.provider_id == first.provider_id
    assert claim.amount_fen == first.hold.captured_fen + second.hold.captured_fen == 250_000
    for line, order in zip(claim.lines, (first, second), strict=True):
        session.refresh(order)
        assert order.status is OrderStatus.CLAIMED
        assert line.status is ClaimLineStatus.PENDING_REVIEW
        assert line.amount_fen == order.voucher_part_fen
        assert line.invoice_number == order.invoice.number
        assert line.submitted_on == date(2026, 6, 22)
        assert [item["rule"] for item in line.checklist] == [r.value for r in CheckRule]
        assert line.precheck_passed and not line.failed_checks
        event = rows(session, OrderEvent, OrderEvent.order_id == order.id)[-1]
        assert (event.action, event.from_status, event.to_status) == (
            OrderAction.CLAIM,
            OrderStatus.CONFIRMED,
            OrderStatus.CLAIMED,
        )
    assert len(rows(session, ClaimedInvoice)) == 2
    assert [e.action for e in claims.history(session, claim.id)] == [A.SUBMIT, A.SUBMIT]
    audit = rows(session, AuditEvent, AuditEvent.action == "claim.submitted")
    assert audit[0].detail["orders"] == [first.id, second.id]


def test_an_order_of_another_provider_is_not_found(settlement_world, session):
    w = settlement_world
    mine, theirs = w.order(), w.order()
    _refused(
        session,
        lambda: claims.create_claim(
            session, mine.provider_id, [mine.id, theirs.id], actor_id=None, now=CLAIM_NOW
        ),
        "order_not_found",
    )
    session.refresh(mine)
    assert mine.status is OrderStatus.CONFIRMED


def test_only_confirmed_orders_can_be_claimed(settlement_world, create_order, session):
    w = settlement_world
    delivered = create_order(OrderStatus.DELIVERED)
    error = _refused(session, lambda: w.claim(delivered), "not_claimable")
    assert error.extra["order_status"] == "delivered"


def test_a_disputed_order_cannot_be_claimed(settlement_world, create_order, session):
    disputed = create_order(OrderStatus.DISPUTED)
    _refused(session, lambda: settlement_world.claim(disputed), "order_disputed")


def test_an_order_without_voucher_part_cannot_be_claimed(settlement_world, session):
    plain = settlement_world.order(with_voucher=False)
    _refused(session, lambda: settlement_world.claim(plain), "not_claimable")


def test_cooling_off_period_delays_claimability(settlement_world, session):
    w = settlement_world
    order = w.order()  # confirmed on 17 June (China)
    error = _refused(
        session,
        lambda: w.claim(order, now=CLAIM_NOW, cooling_off_days=7),  # 22 June
        "not_claimable",
    )
    assert error.extra["claimable_on"] == "2026-06-24"
    claim = w.claim(order, now=CLAIM_NOW + timedelta(days=2), cooling_off_days=7)
    assert claim.lines[0].status is ClaimLineStatus.PENDING_REVIEW


def test_a_claim_after_the_programme_deadline_is_refused(settlement_world, session):
    w = settlement_world
    order = w.order()
    deadline = order.voucher.programme.claim_deadline
    late = CLAIM_NOW.replace(year=deadline.year, month=deadline.month, day=deadline.day)
    _refused(session, lambda: w.claim(order, now=late + timedelta(days=1)), "claim_deadline_passed")
    assert w.claim(order, now=late).lines[0].submitted_on == deadline


def test_an_order_is_claimed_once(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    w.review(claim, A.REJECT, reason="服务与项目不符")
    session.refresh(order)
    assert order.status is OrderStatus.CONFIRMED
    # Rejected is final: the order (and its invoice) is never claimed again.
    _refused(session, lambda: w.claim(order), "not_claimable")


def _reuse_invoice(session, claimed_order, other_order):
    """Simulate an invoice corrected on its order after it was claimed, its old number then
    put on another order (the orders module's unique key would allow that)."""
    old_code, old_number = claimed_order.invoice.code, claimed_order.invoice.number
    claimed_order.invoice.number = "99" + old_number[2:]
    session.flush()
    other_order.invoice.code, other_order.invoice.number = old_code, f" {old_number} "
    session.flush()


def test_a_claimed_invoice_is_never_claimed_again_by_the_same_provider(settlement_world, session):
    w = settlement_world
    first = w.order()
    second = w.order(provider=first.provider)
    w.claim(first)
    _reuse_invoice(session, first, second)
    _refused(session, lambda: w.claim(second), "invoice_already_claimed")


def test_a_claimed_invoice_is_never_claimed_again_across_providers(settlement_world, session):
    w = settlement_world
    first, other = w.order(), w.order()
    assert first.provider_id != other.provider_id
    w.claim(first)
    _reuse_invoice(session, first, other)
    _refused(session, lambda: w.claim(other), "invoice_already_claimed")
    session.refresh(other)
    assert other.status is OrderStatus.CONFIRMED


# --------------------------------------------------------------------------- pre-check, one rule at a time


def _bump_invoice_amount(w, session, order):
    order.invoice.amount_fen += 1


def _wrong_buyer(w, session, order):
    order.invoice.buyer_taxpayer_id = order.provider.credit_code


def _wrong_seller(w, session, order):
    order.invoice.seller_taxpayer_id = order.enterprise.credit_code


def _invoice_before_validity(w, session, order):
    order.invoice.issued_on = order.voucher.valid_from - timedelta(days=1)


def _co_payment_partly_refunded(w, session, order):
    # Through the orders' own refund path (the owner of order payments' refunds), as when the
    # order owed part of the co-payment back.
    payment = payments.live_payment(session, order.payment_reference)
    payments.refund(
        session,
        payment.id,
        amount_fen=1_000,
        reason="部分退款",
        bank_reference="REFUND-1",
        actor_id=w.finance.id,
        owner="order",
    )


def _ceiling_lowered(w, session, order):
    order.voucher.programme.ceiling_bps = 4_000


CASES = {
    CheckRule.INVOICE_AMOUNT: (_bump_invoice_amount, "invoice_amount_mismatch"),
    "buyer": (_wrong_buyer, "invoice_parties_mismatch"),
    "seller": (_wrong_seller, "invoice_parties_mismatch"),
    CheckRule.INVOICE_DATE: (_invoice_before_validity, "invoice_date_outside_validity"),
    CheckRule.CO_PAYMENT: (_co_payment_partly_refunded, "co_payment_not_received"),
    CheckRule.CEILING: (_ceiling_lowered, "voucher_part_above_ceiling"),
}
RULE_OF = {"buyer": CheckRule.INVOICE_PARTIES, "seller": CheckRule.INVOICE_PARTIES}


@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_a_failing_rule_is_marked_and_blocks_approval(settlement_world, session, case):
    w = settlement_world
    breaks, code = CASES[case]
    order = w.order()
    breaks(w, session, order)
    session.flush()
    claim = w.claim(order)
    line = claim.lines[0]
    failed = [item["rule"] for item in line.failed_checks]
    assert failed == [RULE_OF.get(case, case).value]
    assert line.failed_checks[0]["code"] == code and not line.precheck_passed

    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == code
    session.refresh(line)
    session.refresh(order)
    assert line.status is ClaimLineStatus.PENDING_REVIEW and line.reviewed_by_id is None
    assert order.status is OrderStatus.CLAIMED
    # It can only go back to the provider, or be rejected.
    w.review(claim, A.REQUEST_CHANGES, reason="请核对")
    assert line.status is ClaimLineStatus.CHANGES_REQUESTED


def test_the_annual_cap_rule(settlement_world, funded_programme, session):
    programme = funded_programme(
        year=VOUCHER_YEAR, cap_scope=CapScope.PROGRAMME, annual_cap_fen=3_000_000
    )
    w = settlement_world
    order = w.order()
    assert order.voucher.programme_id == programme.id
    programme.annual_cap_fen = 50_000  # corrected below what was already used this year
    session.flush()
    claim = w.claim(order)
    assert [i["rule"] for i in claim.lines[0].failed_checks] == [CheckRule.ANNUAL_CAP.value]
    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == "cap_exceeded"


def test_a_dispute_after_submission_freezes_the_line(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    disputes.open_dispute(session, order.id, w.orders.sme(order), reason="报告有误", now=CLAIM_NOW)
    for action, reason in ((A.APPROVE, None), (A.REJECT, "x"), (A.REQUEST_CHANGES, "x")):
        with pytest.raises(DomainError) as caught:
            w.review(claim, action, reason=reason)
        assert caught.value.code == "order_disputed"
    line = claim.lines[0]
    assert line.status is ClaimLineStatus.PENDING_REVIEW

    # Dismissed: the order is confirmed again; approval needs a resubmission first.
    disputes.decide(
        session,
        order.id,
        w.reviewer,
        outcome=Outcome.DISMISS,
        note="争议不成立",
        now=CLAIM_NOW,
    )
    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == "not_claimable"
    w.review(claim, A.REQUEST_CHANGES, reason="争议已处理，请重新提交")
    claims.resubmit(
        session, claim.id, order.provider_id, actor_id=w.seller(order).id, now=CLAIM_NOW
    )
    session.refresh(order)
    assert order.status is OrderStatus.CLAIMED and line.status is ClaimLineStatus.PENDING_REVIEW
    assert line.precheck_passed


def test_a_dispute_after_review_blocks_finance_too(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    w.review(claim)
    disputes.open_dispute(session, order.id, w.orders.sme(order), reason="质量问题", now=CLAIM_NOW)
    with pytest.raises(DomainError) as caught:
        w.finance_decide(claim)
    assert caught.value.code == "order_disputed"
    assert claim.lines[0].status is ClaimLineStatus.REVIEWED


# --------------------------------------------------------------------------- the two steps


def test_review_then_finance_approval(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    w.review(claim, reason="材料齐全")
    line = claim.lines[0]
    assert claim.status is ClaimStatus.AWAITING_FINANCE
    assert line.status is ClaimLineStatus.REVIEWED and line.reviewed_by_id == w.reviewer.id
    assert line.review_note == "材料齐全"
    session.refresh(order)
    assert order.status is OrderStatus.CLAIMED  # reviewed is not yet approved

    w.finance_decide(claim)
    session.refresh(order)
    assert claim.status is ClaimStatus.APPROVED and line.status is ClaimLineStatus.APPROVED
    assert order.status is OrderStatus.CLAIM_APPROVED and line.finance_by_id == w.finance.id
    assert [e.action for e in claims.history(session, claim.id)] == [
        A.SUBMIT,
        A.APPROVE,
        A.FINANCE_APPROVE,
    ]


def test_the_reviewer_can_never_approve_for_payment(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    w.review(claim)
    reviewer = w.reviewer
    reviewer.role = Role.FINANCE  # moved to the treasury since
    session.flush()
    with pytest.raises(DomainError) as caught:
        w.finance_decide(claim, by=reviewer)
    assert caught.value.code == "separation_of_duties" and caught.value.status == 403
    with pytest.raises(DomainError):
        w.finance_decide(claim, A.FINANCE_REJECT, by=reviewer, reason="x")
    line = claim.lines[0]
    assert line.status is ClaimLineStatus.REVIEWED and line.finance_by_id is None
    session.refresh(order)
    assert order.status is OrderStatus.CLAIMED
    w.finance_decide(claim)  # another officer
    assert line.status is ClaimLineStatus.APPROVED


def test_the_database_refuses_one_person_for_both_steps(settlement_world, session):
    w = settlement_world
    claim = w.claim(w.order())
    w.review(claim)
    line = claim.lines[0]
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        line.finance_by_id = line.reviewed_by_id
        session.flush()


def test_partial_approval(settlement_world, session):
    w = settlement_world
    first = w.order()
    second = w.order(provider=first.provider)
    third = w.order(provider=first.provider)
    claim = w.claim(first, second, third)
    one, two, three = claim.lines
    w.review(claim, line_ids=[one.id, two.id])
    w.review(claim, A.REJECT, reason="非资助范围的服务", line_ids=[three.id])
    w.finance_decide(claim, line_ids=[one.id])
    w.finance_decide(claim, A.FINANCE_RETURN, reason="发票抬头需更正", line_ids=[two.id])
    for o in (first, second, third):
        session.refresh(o)
    assert [ln.status for ln in claim.lines] == [
        ClaimLineStatus.APPROVED,
        ClaimLineStatus.CHANGES_REQUESTED,
        ClaimLineStatus.REJECTED,
    ]
    assert [o.status for o in (first, second, third)] == [
        OrderStatus.CLAIM_APPROVED,
        OrderStatus.CONFIRMED,
        OrderStatus.CONFIRMED,
    ]
    assert claim.status is ClaimStatus.CHANGES_REQUESTED
    assert two.decision_reason == "发票抬头需更正" and three.decision_reason == "非资助范围的服务"
    assert claim.amount_fen == one.amount_fen + two.amount_fen

    claims.resubmit(
        session, claim.id, first.provider_id, actor_id=w.seller(first).id, now=CLAIM_NOW
    )
    assert two.status is ClaimLineStatus.PENDING_REVIEW and two.reviewed_by_id is None
    assert claim.status is ClaimStatus.IN_REVIEW
    w.review(claim)
    w.finance_decide(claim)
    assert claim.status is ClaimStatus.APPROVED


def test_a_whole_claim_decision_is_all_or_nothing(settlement_world, session):
    w = settlement_world
    good = w.order()
    bad = w.order(provider=good.provider)
    bad.invoice.amount_fen += 100
    session.flush()
    claim = w.claim(good, bad)
    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == "invoice_amount_mismatch"
    assert caught.value.extra["line_id"] == claim.lines[1].id
    assert {ln.status for ln in claim.lines} == {ClaimLineStatus.PENDING_REVIEW}


@pytest.mark.parametrize("action", [A.REQUEST_CHANGES, A.REJECT])
def test_sending_back_or_rejecting_needs_a_reason(settlement_world, session, action):
    w = settlement_world
    claim = w.claim(w.order())
    with pytest.raises(DomainError) as caught:
        w.review(claim, action, reason="   ")
    assert caught.value.code == "reason_required"
    assert claim.lines[0].status is ClaimLineStatus.PENDING_REVIEW


def test_decisions_out_of_turn_are_refused(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    with pytest.raises(DomainError) as caught:
        w.finance_decide(claim)  # nothing reviewed yet
    assert caught.value.code == "claim_state_conflict"
    line = claim.lines[0]
    with pytest.raises(DomainError) as caught:
        w.finance_decide(claim, line_ids=[line.id])
    assert caught.value.code == "claim_state_conflict"
    assert caught.value.extra == {"line_status": "pending_review", "action": "finance_approve"}
    with pytest.raises(DomainError) as caught:
        w.review(claim, line_ids=[line.id + 1000])
    assert caught.value.code == "not_found"
    with pytest.raises(DomainError) as caught:
        claims.resubmit(session, claim.id, order.provider_id, actor_id=None, now=CLAIM_NOW)
    assert caught.value.code == "claim_state_conflict"
    other = w.order()
    with pytest.raises(DomainError) as caught:
        claims.resubmit(session, claim.id, other.provider_id, actor_id=None, now=CLAIM_NOW)
    assert caught.value.code == "claim_not_found"


def test_a_stale_version_is_refused(settlement_world, session):
    w = settlement_world
    claim = w.claim(w.order())
    stale = claim.version
    w.review(claim, line_ids=None)
    with pytest.raises(PreconditionFailed):
        claims.finance_decide(
            session,
            claim.id,
            A.FINANCE_APPROVE,
            actor_id=w.finance.id,
            expected_version=stale,
            now=CLAIM_NOW,
        )
    claims.finance_decide(
        session,
        claim.id,
        A.FINANCE_APPROVE,
        actor_id=w.finance.id,
        expected_version=claim.version,
        now=CLAIM_NOW,
    )


def test_a_line_claimed_in_time_can_be_corrected_after_the_deadline(settlement_world, session):
    # The deadline is met by the first submission; a correction the reviewer asked for is
    # judged by that date (as the pre-check is), or a late send-back would strand the money.
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    w.review(claim, A.REQUEST_CHANGES, reason="补充材料")
    deadline = order.voucher.programme.claim_deadline
    claims.resubmit(
        session,
        claim.id,
        order.provider_id,
        actor_id=None,
        now=CLAIM_NOW.replace(year=deadline.year + 1),
    )
    line = claim.lines[0]
    assert line.status is ClaimLineStatus.PENDING_REVIEW and line.precheck_passed
    assert line.submitted_on == local_date(CLAIM_NOW)


def test_the_parties_are_told(settlement_world, create_user, session):
    w = settlement_world
    order = w.order()
    seller = w.seller(order)
    officers = [w.finance, create_user(Role.FINANCE)]
    claim = w.claim(order)
    w.review(claim)
    awaiting = rows(
        session, OutboundEmail, OutboundEmail.template == "settlement_claim_awaits_finance"
    )
    assert sorted(m.to_address for m in awaiting) == sorted(u.email for u in officers)
    assert claim.reference in awaiting[0].subject
    w.finance_decide(claim, A.FINANCE_RETURN, reason="请补充验收单")
    decided = rows(session, OutboundEmail, OutboundEmail.template == "settlement_claim_decision")
    assert [m.to_address for m in decided] == [seller.email, seller.email]
    assert "请补充验收单" in decided[-1].body and "/settlement/claims/" in decided[-1].body


def test_a_partly_upheld_order_is_claimed_for_its_reduced_voucher_part(settlement_world, session):
    # The invoice was issued at delivery for the full price; the dispute cut the price after.
    w = settlement_world
    order = w.order(price_fen=200_000)
    disputes.open_dispute(
        session, order.id, w.orders.sme(order), reason="报告缺章节", now=CLAIM_NOW
    )
    disputes.decide(
        session,
        order.id,
        w.reviewer,
        outcome=Outcome.UPHOLD_PARTIAL,
        note="部分支持，减价 400 元",
        refund_fen=20_000,
        voucher_restore_fen=20_000,
        now=CLAIM_NOW,
    )
    assert (order.price_fen, order.voucher_part_fen, order.invoice.amount_fen) == (
        160_000,
        80_000,
        200_000,
    )
    claim = w.claim(order)
    line = claim.lines[0]
    assert line.precheck_passed, line.checklist
    assert line.amount_fen == 80_000
    invoice_check = next(c for c in line.checklist if c["rule"] == CheckRule.INVOICE_AMOUNT.value)
    assert "争议减价 ¥400.00" in invoice_check["detail"]
    w.review(claim)
    w.finance_decide(claim)
    assert line.status is ClaimLineStatus.APPROVED


def test_an_invoice_for_another_amount_still_fails_after_a_price_cut(settlement_world, session):
    w = settlement_world
    order = w.order(price_fen=200_000)
    order.price_reduction_fen = 40_000  # as if a dispute had cut the price …
    order.invoice.amount_fen = 160_000  # … and the invoice were for the reduced price instead
    session.flush()
    line = w.claim(order).lines[0]
    failed = {c["rule"] for c in line.checklist if not c["passed"]}
    # The voucher part (¥1,000) is also above half of that ¥1,600 invoice.
    assert failed == {CheckRule.INVOICE_AMOUNT.value, CheckRule.CEILING.value}
    assert not line.precheck_passed


def _revoke(session, order):
    expiry.revoke_voucher(
        session,
        order.voucher.id,
        reason="虚假材料骗取创新券",
        actor_id=None,
        idempotency_key=f"revoke-{order.voucher.id}",
        now=CLAIM_NOW,
    )


def test_a_revoked_vouchers_order_cannot_be_claimed(settlement_world, session):
    w = settlement_world
    order = w.order()
    _revoke(session, order)
    _refused(session, lambda: w.claim(order), "voucher_revoked")


def test_a_revocation_after_submission_stops_approval(settlement_world, session):
    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    _revoke(session, order)
    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == "voucher_revoked"
    assert caught.value.extra["rule"] == CheckRule.VOUCHER_NOT_REVOKED.value
    line = claim.lines[0]
    assert line.status is ClaimLineStatus.PENDING_REVIEW
    w.review(claim, A.REJECT, reason="电子券已撤销")
    assert line.status is ClaimLineStatus.REJECTED


def test_a_relation_declared_after_the_order_stops_the_claim(settlement_world, session):
    # Checked when orders are placed; a declaration made later must still stop the payment.
    from providers.enums import RelationKind
    from providers.related import declare_related_party

    w = settlement_world
    order = w.order()
    claim = w.claim(order)
    declare_related_party(
        session,
        order.provider,
        credit_code=order.enterprise.credit_code,
        name=order.enterprise.name,
        relation=next(iter(RelationKind)),
        note=None,
        actor_id=None,
    )
    with pytest.raises(DomainError) as caught:
        w.review(claim)
    assert caught.value.code == "related_party"
    assert caught.value.extra["rule"] == CheckRule.NOT_RELATED.value
    assert claim.lines[0].status is ClaimLineStatus.PENDING_REVIEW
