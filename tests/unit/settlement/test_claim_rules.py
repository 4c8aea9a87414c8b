"""The settlement rules as pure functions: the pre-check (every rule failing alone), the
claim-line machine over every (status, action) pair, claim status, cooling-off, keys."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from marketplace.enums import ServiceCategory
from marketplace.settlement import rules
from marketplace.settlement.enums import (
    CheckRule,
    ClaimAction,
    ClaimDocument,
    ClaimLineStatus,
    ClaimStatus,
)
from marketplace.settlement.errors import ClaimStateConflict
from marketplace.settlement.rules import CLAIM_LINE, ClaimFacts, claim_status

ENTERPRISE = "91530102MA6T0001XX"
PROVIDER = "12530000MA6T0002YY"

GOOD = ClaimFacts(
    order_disputed=False,
    order_price_fen=200_000,
    voucher_part_fen=100_000,
    invoice_amount_fen=200_000,
    invoice_buyer_id=ENTERPRISE,
    invoice_seller_id=PROVIDER,
    enterprise_credit_code=ENTERPRISE,
    provider_credit_code=PROVIDER,
    invoice_issued_on=date(2026, 6, 16),
    voucher_valid_from=date(2026, 6, 15),
    voucher_claim_deadline=date(2027, 3, 31),
    co_payment_due_fen=100_000,
    co_payment_received_fen=100_000,
    ceiling_bps=5_000,
    cap_fen=3_000_000,
    cap_used_fen=100_000,
    cap_held_fen=0,
    claim_date=date(2026, 6, 22),
    programme_claim_deadline=date(2027, 3, 31),
    invoice_claimed_elsewhere=False,
    invoice_items=({"name": "*现代服务*检验检测服务", "amount_fen": 188_679},),
    service_category=ServiceCategory.TESTING,
)

#: One change per rule that breaks exactly that rule (and nothing else).
BREAKS = {
    CheckRule.INVOICE_AMOUNT: {"invoice_amount_fen": 200_001},
    CheckRule.INVOICE_PARTIES: {"invoice_seller_id": "91530102MA6T0009ZZ"},
    CheckRule.INVOICE_DATE: {"invoice_issued_on": date(2026, 6, 14)},
    CheckRule.CO_PAYMENT: {"co_payment_received_fen": 99_999},
    CheckRule.CEILING: {"ceiling_bps": 4_999},
    CheckRule.ANNUAL_CAP: {"cap_fen": 99_999},
    CheckRule.CLAIM_DEADLINE: {"claim_date": date(2027, 4, 1)},
    CheckRule.INVOICE_UNIQUE: {"invoice_claimed_elsewhere": True},
    CheckRule.NOT_DISPUTED: {"order_disputed": True},
    CheckRule.NOT_RELATED: {"related_parties": True},
    CheckRule.VOUCHER_NOT_REVOKED: {"voucher_revoked": True},
    CheckRule.INVOICE_ITEMS: {"invoice_items": ({"name": "*计算机*笔记本电脑"},)},
    CheckRule.INVOICE_NOT_REVERSED: {"reversed_by": "26532000000099999999"},
    CheckRule.INVOICE_VERIFIED: {"invoice_verification": "not_found"},
    CheckRule.DOCUMENTS: {
        "documents": frozenset(ClaimDocument) - {ClaimDocument.REPORT},
    },
}


def test_a_sound_line_passes_all_fifteen_rules_in_order():
    checks = rules.precheck(GOOD)
    assert [c.rule for c in checks] == list(CheckRule)
    assert all(c.passed for c in checks)
    assert rules.first_failure(checks) is None


@pytest.mark.parametrize("rule", list(CheckRule), ids=lambda r: r.value)
def test_each_rule_fails_alone_and_names_its_error(rule):
    checks = rules.precheck(dataclasses.replace(GOOD, **BREAKS[rule]))
    assert [c.rule for c in checks if not c.passed] == [rule]
    error = rules.first_failure(checks)
    assert error is not None and error.code == rules.ERRORS[rule].code
    assert error.extra["rule"] == rule.value
    item = next(c.as_dict() for c in checks if c.rule is rule)
    assert item["passed"] is False and item["code"] == error.code and item["detail"]


def test_error_codes_are_the_promised_ones():
    codes = {rule: cls.code for rule, cls in rules.ERRORS.items()}
    assert codes[CheckRule.INVOICE_AMOUNT] == "invoice_amount_mismatch"
    assert codes[CheckRule.CLAIM_DEADLINE] == "claim_deadline_passed"
    assert codes[CheckRule.INVOICE_UNIQUE] == "invoice_already_claimed"
    assert codes[CheckRule.NOT_DISPUTED] == "order_disputed"
    assert codes[CheckRule.VOUCHER_NOT_REVOKED] == "voucher_revoked"
    assert codes[CheckRule.NOT_RELATED] == "related_party"
    assert len(set(codes.values())) == len(codes)


def test_buyer_mismatch_fails_parties_and_case_does_not():
    lower = dataclasses.replace(GOOD, invoice_buyer_id=ENTERPRISE.lower() + " ")
    assert all(c.passed for c in rules.precheck(lower))
    other = dataclasses.replace(GOOD, invoice_buyer_id=PROVIDER)
    failed = [c for c in rules.precheck(other) if not c.passed]
    assert [c.rule for c in failed] == [CheckRule.INVOICE_PARTIES]
    assert "buyer" in failed[0].detail


def test_edges_are_inclusive():
    edges = dataclasses.replace(
        GOOD,
        invoice_issued_on=GOOD.voucher_claim_deadline,
        claim_date=GOOD.programme_claim_deadline,
        cap_fen=100_000,
        voucher_part_fen=100_000,
        ceiling_bps=5_000,
    )
    assert all(c.passed for c in rules.precheck(edges))
    # Ceiling rounds down to the fen: 50% of 199,999 fen is 99,999 fen.
    odd = dataclasses.replace(GOOD, invoice_amount_fen=199_999, order_price_fen=199_999)
    failed = [c.rule for c in rules.precheck(odd) if not c.passed]
    assert failed == [CheckRule.CEILING]


# --------------------------------------------------------------------------- claim lines


#: The whole expected table, written out independently of CLAIM_LINE; "new" is a line not
#: yet created (submission creates it).
EXPECTED = {
    "new": {"submit": "pending_review"},
    "pending_review": {
        "approve": "reviewed",
        "request_changes": "changes_requested",
        "reject": "rejected",
    },
    "changes_requested": {"resubmit": "pending_review"},
    "reviewed": {
        "finance_approve": "approved",
        "finance_return": "changes_requested",
        "finance_reject": "rejected",
    },
    "approved": {"batch": "in_payout"},
    "in_payout": {"pay": "paid", "payout_fail": "approved"},
    "paid": {},
    "rejected": {},
}

LINE_STATES = [None, *ClaimLineStatus]


def _name(status: ClaimLineStatus | None) -> str:
    return "new" if status is None else status.value


def test_expected_table_covers_every_state_and_action():
    assert set(EXPECTED) == {_name(s) for s in LINE_STATES}
    used = {action for moves in EXPECTED.values() for action in moves}
    assert used == {a.value for a in ClaimAction}


@pytest.mark.parametrize(
    ("status", "action"),
    list(itertools.product(LINE_STATES, ClaimAction)),
    ids=lambda v: "new" if v is None else v.value,
)
def test_every_line_status_action_pair(status, action):
    line = SimpleNamespace(status=status)
    expected = EXPECTED[_name(status)].get(action.value)
    if expected is None:
        with pytest.raises(ClaimStateConflict) as refused:
            CLAIM_LINE.move(line, action)
        assert refused.value.code == "claim_state_conflict" and refused.value.status == 409
        assert refused.value.extra == {"line_status": _name(status), "action": action.value}
        assert line.status is status
    else:
        assert CLAIM_LINE.move(line, action) == (status, ClaimLineStatus(expected))
        assert line.status is ClaimLineStatus(expected)


def test_a_refusal_names_the_step_in_both_languages():
    with pytest.raises(ClaimStateConflict) as refused:
        CLAIM_LINE.next(ClaimLineStatus.PAID, ClaimAction.APPROVE)
    assert refused.value.message == (
        "兑付明细状态为“已拨付”，不能“初审通过” / "
        "a line that is paid cannot be approved by the reviewer"
    )


def test_only_paid_and_rejected_are_final():
    final = {s for s in ClaimLineStatus if not CLAIM_LINE.actions_from(s)}
    assert final == {ClaimLineStatus.PAID, ClaimLineStatus.REJECTED}


L = ClaimLineStatus


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([L.PENDING_REVIEW, L.REVIEWED, L.PAID], ClaimStatus.IN_REVIEW),
        ([L.REVIEWED, L.CHANGES_REQUESTED], ClaimStatus.AWAITING_FINANCE),
        ([L.CHANGES_REQUESTED, L.APPROVED, L.REJECTED], ClaimStatus.CHANGES_REQUESTED),
        ([L.APPROVED, L.PAID, L.REJECTED], ClaimStatus.APPROVED),
        ([L.IN_PAYOUT], ClaimStatus.APPROVED),
        ([L.PAID, L.REJECTED], ClaimStatus.PAID),
        ([L.REJECTED, L.REJECTED], ClaimStatus.REJECTED),
    ],
)
def test_claim_status_comes_from_what_still_needs_action(lines, expected):
    assert claim_status(lines) is expected


# --------------------------------------------------------------------------- time, keys, money


def test_cooling_off_counts_china_days():
    # 17:00 UTC on 16 June is already 17 June in Kunming.
    confirmed = datetime(2026, 6, 16, 17, 0, tzinfo=UTC)
    assert rules.claimable_on(confirmed, 0) == date(2026, 6, 17)
    assert rules.claimable_on(confirmed, 3) == date(2026, 6, 20)
    with pytest.raises(ValueError):
        rules.claimable_on(confirmed, -1)


def test_invoice_keys_ignore_spaces_dashes_and_case():
    assert rules.invoice_key("0530 0230-0111", " 1234 5678 ") == ("053002300111", "12345678")
    assert rules.invoice_key("", "abc-1") == ("", "ABC1")


def test_yuan_text_is_exact():
    assert rules.yuan_text(0) == "0.00"
    assert rules.yuan_text(5) == "0.05"
    assert rules.yuan_text(123_456_789) == "1234567.89"
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            rules.yuan_text(bad)  # type: ignore[arg-type]


def test_a_typed_paper_invoice_passes_flagged_for_a_check_by_hand():
    typed = dataclasses.replace(
        GOOD,
        invoice_from_file=False,
        invoice_items=(),
        documents=frozenset(ClaimDocument) - {ClaimDocument.INVOICE_FILE},
    )
    checks = rules.precheck(typed)
    assert all(c.passed for c in checks)
    flagged = [c for c in checks if c.flag]
    assert [c.rule for c in flagged] == [CheckRule.INVOICE_ITEMS, CheckRule.DOCUMENTS]
    assert flagged[1].detail.count("missing") == 1
    assert flagged[0].as_dict()["flag"] is True and "人工核对" in flagged[0].detail
    assert "missing: Invoice file" in flagged[1].detail


def test_the_documents_item_lists_what_is_present():
    [item] = [c for c in rules.precheck(GOOD) if c.rule is CheckRule.DOCUMENTS]
    assert item.passed and not item.flag and "missing" not in item.detail
    assert all(d.zh in item.detail for d in ClaimDocument)


def test_an_invoice_without_item_lines_or_category_fails_the_items_check():
    for change in ({"invoice_items": ()}, {"service_category": None}):
        checks = rules.precheck(dataclasses.replace(GOOD, **change))
        assert [c.rule for c in checks if not c.passed] == [CheckRule.INVOICE_ITEMS]


def test_invoice_error_codes():
    assert rules.ERRORS[CheckRule.INVOICE_ITEMS].code == "invoice_items_mismatch"
    assert rules.ERRORS[CheckRule.INVOICE_NOT_REVERSED].code == "invoice_reversed"
    assert rules.ERRORS[CheckRule.DOCUMENTS].code == "claim_documents_missing"
    assert rules.ERRORS[CheckRule.INVOICE_VERIFIED].code == "invoice_not_verified"


@pytest.mark.parametrize(
    ("status", "passed", "flag"),
    [
        ("verified", True, False),
        ("not_found", False, False),
        ("mismatch", False, False),
        ("reversed", False, False),
        ("unchecked", True, True),
        ("unavailable", True, True),
    ],
)
def test_the_tax_authoritys_answer(status, passed, flag):
    checks = rules.precheck(dataclasses.replace(GOOD, invoice_verification=status))
    [item] = [c for c in checks if c.rule is CheckRule.INVOICE_VERIFIED]
    assert (item.passed, item.flag) == (passed, flag)
