"""Settlement policy as pure functions: the claim pre-check, the state machines of claim lines,
payout batches and payment lines, the cooling-off arithmetic and invoice keys. No database, no
Flask, no clock of its own.

The pre-check (POLICY.md rules 1, 2, 5, 6, 8, 10) evaluates eleven rules for one order line from
plain facts gathered by :mod:`marketplace.settlement.claims`; each failing rule names the domain error that
refuses an approval of that line, so the checklist item and the API error share one code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from marketplace.clock import local_date
from marketplace.einvoice import items_outside
from marketplace.enums import ServiceCategory
from marketplace.errors import DomainError
from marketplace.money import FEN_PER_YUAN, format_fen
from marketplace.settlement.enums import (
    CheckRule,
    ClaimAction,
    ClaimDocument,
    ClaimLineStatus,
    ClaimStatus,
    PayoutBatchAction,
    PayoutBatchStatus,
    PayoutLineAction,
    PayoutLineStatus,
)
from marketplace.settlement.errors import (
    ClaimDocumentsMissing,
    ClaimStateConflict,
    ConfirmationConflict,
    CoPaymentNotReceived,
    InvoiceAlreadyClaimed,
    InvoiceAmountMismatch,
    InvoiceDateOutsideValidity,
    InvoiceItemsMismatch,
    InvoiceNotVerified,
    InvoicePartiesMismatch,
    InvoiceReversed,
    OrderDisputed,
    PayoutStateConflict,
    VoucherPartAboveCeiling,
    VoucherRevoked,
)
from marketplace.statemachine import StateMachine
from providers.errors import RelatedPartyConflict
from vouchers.errors import CapExceeded, ClaimDeadlinePassed
from vouchers.rules import ceiling_fen, freeze_machine

# --------------------------------------------------------------------------- the pre-check


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """Everything the pre-check looks at for one order, read by the service."""

    order_disputed: bool
    order_price_fen: int
    #: The voucher part actually captured for the order: what sits in provider payable.
    voucher_part_fen: int
    invoice_amount_fen: int
    invoice_buyer_id: str
    invoice_seller_id: str
    enterprise_credit_code: str
    provider_credit_code: str
    invoice_issued_on: date
    voucher_valid_from: date
    voucher_claim_deadline: date
    co_payment_due_fen: int
    co_payment_received_fen: int
    ceiling_bps: int
    cap_fen: int
    cap_used_fen: int
    cap_held_fen: int
    #: The day the line was (first) submitted, in China.
    claim_date: date
    programme_claim_deadline: date
    #: Another claim line anywhere on the platform already carries this invoice.
    invoice_claimed_elsewhere: bool
    #: How much a partly upheld dispute took off the price after the invoice was issued. The
    #: invoice stays the one issued at delivery (the provider's red-letter correction is its
    #: own bookkeeping), so it is compared with the price it was issued for.
    price_reduction_fen: int = 0
    #: The order's voucher was revoked (fraud): what it paid for is to be recovered, and
    #: paying the provider for it would pay out money the treasury is reclaiming.
    voucher_revoked: bool = False
    #: The provider and the enterprise are related parties now (a declaration made after the
    #: order counts too): the voucher must not pay for a service bought from oneself.
    related_parties: bool = False
    #: The invoice's fields were read from its file (False: typed in, a paper-era invoice).
    invoice_from_file: bool = True
    #: The invoice's item lines (from the file) and the agreed service category.
    invoice_items: tuple[dict[str, object], ...] = ()
    service_category: ServiceCategory | None = None
    #: The number of the red-letter invoice that reversed this one, if any.
    reversed_by: str | None = None
    #: The tax authority's answer (marketplace.invoice_verification.Verification's values).
    invoice_verification: str = "verified"
    #: The claim documents present (see :class:`ClaimDocument`); all four by default.
    documents: frozenset[ClaimDocument] = frozenset(ClaimDocument)


@dataclass(frozen=True, slots=True)
class Check:
    rule: CheckRule
    passed: bool
    detail: str
    #: Passed, but a reviewer must look by hand (a typed, paper-era invoice).
    flag: bool = False

    @property
    def code(self) -> str:
        return ERRORS[self.rule].code

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule.value,
            "passed": self.passed,
            "code": self.code,
            "detail": self.detail,
            "flag": self.flag,
        }


#: The error that refuses approving a line failing each rule (its code is the item's code).
ERRORS: dict[CheckRule, type[DomainError]] = {
    CheckRule.INVOICE_AMOUNT: InvoiceAmountMismatch,
    CheckRule.INVOICE_PARTIES: InvoicePartiesMismatch,
    CheckRule.INVOICE_DATE: InvoiceDateOutsideValidity,
    CheckRule.CO_PAYMENT: CoPaymentNotReceived,
    CheckRule.CEILING: VoucherPartAboveCeiling,
    CheckRule.ANNUAL_CAP: CapExceeded,
    CheckRule.CLAIM_DEADLINE: ClaimDeadlinePassed,
    CheckRule.INVOICE_UNIQUE: InvoiceAlreadyClaimed,
    CheckRule.NOT_DISPUTED: OrderDisputed,
    CheckRule.NOT_RELATED: RelatedPartyConflict,
    CheckRule.VOUCHER_NOT_REVOKED: VoucherRevoked,
    CheckRule.INVOICE_ITEMS: InvoiceItemsMismatch,
    CheckRule.INVOICE_NOT_REVERSED: InvoiceReversed,
    CheckRule.INVOICE_VERIFIED: InvoiceNotVerified,
    CheckRule.DOCUMENTS: ClaimDocumentsMissing,
}


def _same_party(a: str, b: str) -> bool:
    return a.strip().upper() == b.strip().upper()


def _items_check(f: ClaimFacts) -> Check:
    if not f.invoice_from_file:
        return Check(
            CheckRule.INVOICE_ITEMS,
            True,
            "手工录入的纸质发票，无电子明细：请人工核对发票原件 / a typed paper invoice has no "
            "electronic item lines: check the original by hand",
            flag=True,
        )
    if f.service_category is None:
        outside = ["（订单无服务类别 / the order has no service category）"]
    else:
        outside = items_outside(f.service_category, f.invoice_items)
    category = f.service_category.zh if f.service_category else "—"
    return Check(
        CheckRule.INVOICE_ITEMS,
        not outside,
        f"与“{category}”不符：{'、'.join(outside)} / not for {category}: {', '.join(outside)}"
        if outside
        else f"明细与“{category}”相符 / the item lines fit {category}",
    )


def _documents_check(f: ClaimFacts) -> Check:
    """Which documents are present. A typed paper invoice has no file: flagged, not failed
    (the paper original is checked by hand); any other missing document fails."""
    present = [d for d in ClaimDocument if d in f.documents]
    missing = [d for d in ClaimDocument if d not in f.documents]
    blocking = [
        d for d in missing if not (d is ClaimDocument.INVOICE_FILE and not f.invoice_from_file)
    ]
    # One "中文 / English" pair, so a page shows the half in its own language.
    zh = "已有：" + ("、".join(d.zh for d in present) or "无")
    en = "present: " + (", ".join(d.en for d in present) or "none")
    if missing:
        zh += "；缺少：" + "、".join(d.zh for d in missing)
        en += "; missing: " + ", ".join(d.en for d in missing)
    detail = f"{zh} / {en}"
    return Check(CheckRule.DOCUMENTS, not blocking, detail, flag=bool(missing) and not blocking)


_VERIFICATION_FAILED = {
    "not_found": ("税务机关查无此发票", "the tax authority has no such invoice"),
    "mismatch": ("与税务机关记录不一致", "differs from the tax authority's record"),
    "reversed": ("税务机关记录为已红冲", "the tax authority records it as reversed"),
}


def _verification_check(f: ClaimFacts) -> Check:
    """Verified passes; a definite no fails; not asked yet or the gateway down is flagged
    for a check by hand (the invoice is asked again by ``flask invoices verify-pending``)."""
    status = f.invoice_verification
    if status == "verified":
        return Check(CheckRule.INVOICE_VERIFIED, True, "查验相符 / verified")
    if status in _VERIFICATION_FAILED:
        zh, en = _VERIFICATION_FAILED[status]
        return Check(CheckRule.INVOICE_VERIFIED, False, f"{zh} / {en}")
    return Check(
        CheckRule.INVOICE_VERIFIED,
        True,
        "尚未查验（查验服务未配置或暂不可用）：请人工核对 / not verified yet (no verification "
        "service, or it was unavailable): check by hand",
        flag=True,
    )


def precheck(facts: ClaimFacts) -> list[Check]:
    """The fifteen checklist items for one line, in a fixed order."""
    f = facts
    limit = ceiling_fen(f.invoice_amount_fen, f.ceiling_bps)
    buyer_ok = _same_party(f.invoice_buyer_id, f.enterprise_credit_code)
    seller_ok = _same_party(f.invoice_seller_id, f.provider_credit_code)
    parties = []
    if not buyer_ok:
        parties.append(
            f"购买方 {f.invoice_buyer_id} ≠ 企业 {f.enterprise_credit_code} / "
            f"buyer {f.invoice_buyer_id} ≠ enterprise {f.enterprise_credit_code}"
        )
    if not seller_ok:
        parties.append(
            f"销售方 {f.invoice_seller_id} ≠ 服务机构 {f.provider_credit_code} / "
            f"seller {f.invoice_seller_id} ≠ provider {f.provider_credit_code}"
        )
    used = f.cap_used_fen + f.cap_held_fen
    invoiced_price = f.order_price_fen + f.price_reduction_fen
    amount, price = format_fen(f.invoice_amount_fen), format_fen(invoiced_price)
    invoice_note = f"发票 {amount}，订单 {price} / invoice {amount}, order {price}"
    if f.price_reduction_fen:
        cut = format_fen(f.price_reduction_fen)
        invoice_note = (
            f"发票 {amount}，订单原价 {price}（争议减价 {cut}） / "
            f"invoice {amount}, order {price} before a dispute cut of {cut}"
        )
    part, due = format_fen(f.voucher_part_fen), format_fen(f.co_payment_due_fen)
    received = format_fen(f.co_payment_received_fen)
    return [
        Check(
            CheckRule.INVOICE_AMOUNT,
            f.invoice_amount_fen == invoiced_price,
            invoice_note,
        ),
        Check(
            CheckRule.INVOICE_PARTIES,
            buyer_ok and seller_ok,
            "；".join(parties) if parties else "购买方、销售方一致 / buyer and seller match",
        ),
        Check(
            CheckRule.INVOICE_DATE,
            f.voucher_valid_from <= f.invoice_issued_on <= f.voucher_claim_deadline,
            f"开票 {f.invoice_issued_on}，有效期 {f.voucher_valid_from}–{f.voucher_claim_deadline}"
            f" / issued {f.invoice_issued_on}, valid "
            f"{f.voucher_valid_from}–{f.voucher_claim_deadline}",
        ),
        Check(
            CheckRule.CO_PAYMENT,
            f.co_payment_received_fen >= f.co_payment_due_fen,
            f"应付 {due}，实收 {received} / due {due}, received {received}",
        ),
        Check(
            CheckRule.CEILING,
            f.voucher_part_fen <= limit,
            f"券支付 {part}，上限 {format_fen(limit)}（{f.ceiling_bps / 100:g}%） / "
            f"voucher part {part}, ceiling {format_fen(limit)} ({f.ceiling_bps / 100:g}%)",
        ),
        Check(
            CheckRule.ANNUAL_CAP,
            used <= f.cap_fen,
            f"年度已用及冻结 {format_fen(used)}，上限 {format_fen(f.cap_fen)} / "
            f"used and held this year {format_fen(used)}, cap {format_fen(f.cap_fen)}",
        ),
        Check(
            CheckRule.CLAIM_DEADLINE,
            f.claim_date <= f.programme_claim_deadline,
            f"申请日 {f.claim_date}，截止 {f.programme_claim_deadline} / "
            f"claimed {f.claim_date}, deadline {f.programme_claim_deadline}",
        ),
        Check(
            CheckRule.INVOICE_UNIQUE,
            not f.invoice_claimed_elsewhere,
            "该发票已在其他兑付申请中使用 / the invoice is already in another claim"
            if f.invoice_claimed_elsewhere
            else "未重复 / not claimed before",
        ),
        Check(
            CheckRule.NOT_DISPUTED,
            not f.order_disputed,
            "订单争议处理中 / the order is in dispute" if f.order_disputed else "无争议 / none",
        ),
        Check(
            CheckRule.NOT_RELATED,
            not f.related_parties,
            "企业与服务机构为关联方 / the enterprise and the provider are related parties"
            if f.related_parties
            else "无关联 / not related",
        ),
        Check(
            CheckRule.VOUCHER_NOT_REVOKED,
            not f.voucher_revoked,
            "电子券已被撤销 / the voucher was revoked" if f.voucher_revoked else "正常 / in force",
        ),
        _items_check(f),
        Check(
            CheckRule.INVOICE_NOT_REVERSED,
            f.reversed_by is None,
            f"已被红字发票 {f.reversed_by} 冲销 / reversed by red-letter invoice {f.reversed_by}"
            if f.reversed_by
            else "未冲销 / not reversed",
        ),
        _verification_check(f),
        _documents_check(f),
    ]


def first_failure(checks: Iterable[Check]) -> DomainError | None:
    """The error for the first failing item (None when every item passed)."""
    for check in checks:
        if not check.passed:
            error_cls = ERRORS[check.rule]
            return error_cls(
                f"{check.rule.zh}：未通过（{check.detail}） / "
                f"{check.rule.en}: failed ({check.detail})",
                extra={"rule": check.rule.value},
            )
    return None


# --------------------------------------------------------------------------- claim lines

L, A = ClaimLineStatus, ClaimAction


def _line_refusal(status: ClaimLineStatus | None, action: ClaimAction) -> ClaimStateConflict:
    if status is None:  # only a submission makes a line; any other step needs one
        return ClaimStateConflict(
            f"兑付明细尚未提交，不能“{action.zh}” / a line not yet submitted cannot be "
            f"{action.en.lower()}",
            extra={"line_status": "new", "action": action.value},
        )
    return ClaimStateConflict(
        f"兑付明细状态为“{status.zh}”，不能“{action.zh}” / "
        f"a line that is {status.en.lower()} cannot be {action.en.lower()}",
        extra={"line_status": status.value, "action": action.value},
    )


#: The whole claim-line life cycle; submission creates the line (no status before it).
CLAIM_LINE: StateMachine[ClaimLineStatus, ClaimAction] = StateMachine(
    "claim line",
    {
        (None, A.SUBMIT): L.PENDING_REVIEW,
        (L.PENDING_REVIEW, A.APPROVE): L.REVIEWED,
        (L.PENDING_REVIEW, A.REQUEST_CHANGES): L.CHANGES_REQUESTED,
        (L.PENDING_REVIEW, A.REJECT): L.REJECTED,
        (L.CHANGES_REQUESTED, A.RESUBMIT): L.PENDING_REVIEW,
        (L.REVIEWED, A.FINANCE_APPROVE): L.APPROVED,
        (L.REVIEWED, A.FINANCE_RETURN): L.CHANGES_REQUESTED,
        (L.REVIEWED, A.FINANCE_REJECT): L.REJECTED,
        (L.APPROVED, A.BATCH): L.IN_PAYOUT,
        (L.IN_PAYOUT, A.PAY): L.PAID,
        (L.IN_PAYOUT, A.PAYOUT_FAIL): L.APPROVED,
    },
    refuse=_line_refusal,
)

#: A suspended provider's frozen claim line is decided once, as a blacklisting's frozen order is.
LINE_FREEZE = freeze_machine(
    "claim line freeze",
    lambda status, action: ClaimStateConflict(
        f"该冻结已处理 / this freeze was already decided "
        f"({status.value if status else 'new'}), cannot {action.value}"
    ),
)

#: Decisions that need a written reason.
NEEDS_REASON = frozenset({A.REQUEST_CHANGES, A.REJECT, A.FINANCE_RETURN, A.FINANCE_REJECT})
REVIEW_ACTIONS = frozenset({A.APPROVE, A.REQUEST_CHANGES, A.REJECT})
FINANCE_ACTIONS = frozenset({A.FINANCE_APPROVE, A.FINANCE_RETURN, A.FINANCE_REJECT})


def claim_status(line_statuses: Iterable[ClaimLineStatus]) -> ClaimStatus:
    """The claim's status from its lines: whatever still needs someone's action comes first."""
    present = set(line_statuses)
    if L.PENDING_REVIEW in present:
        return ClaimStatus.IN_REVIEW
    if L.REVIEWED in present:
        return ClaimStatus.AWAITING_FINANCE
    if L.CHANGES_REQUESTED in present:
        return ClaimStatus.CHANGES_REQUESTED
    if present & {L.APPROVED, L.IN_PAYOUT}:
        return ClaimStatus.APPROVED
    if L.PAID in present:
        return ClaimStatus.PAID
    return ClaimStatus.REJECTED


# --------------------------------------------------------------------------- payouts


def _batch_refusal(
    status: PayoutBatchStatus | None, action: PayoutBatchAction
) -> PayoutStateConflict:
    assert status is not None  # a batch is created a draft, never by a move
    return PayoutStateConflict(
        f"拨付批次状态为“{status.zh}”，不能“{action.zh}” / "
        f"a payout batch that is {status.en.lower()} cannot be {action.en.lower()}",
        extra={"batch_status": status.value, "action": action.value},
    )


#: A batch is built a draft, goes to the bank once, and is complete when every line is confirmed.
#: A large batch is approved while still a draft (who approved is recorded on the batch).
PAYOUT_BATCH: StateMachine[PayoutBatchStatus, PayoutBatchAction] = StateMachine(
    "payout batch",
    {
        (PayoutBatchStatus.DRAFT, PayoutBatchAction.APPROVE): PayoutBatchStatus.DRAFT,
        (PayoutBatchStatus.DRAFT, PayoutBatchAction.SEND): PayoutBatchStatus.SENT,
        (PayoutBatchStatus.SENT, PayoutBatchAction.COMPLETE): PayoutBatchStatus.COMPLETED,
    },
    refuse=_batch_refusal,
)


def _payment_line_refusal(
    status: PayoutLineStatus | None, action: PayoutLineAction
) -> ConfirmationConflict:
    assert status is not None  # a payment line is created pending, never by a move
    return ConfirmationConflict(
        f"付款行状态为“{status.zh}”，不能再记为“{action.zh}” / "
        f"a payment line that is {status.en.lower()} cannot be {action.en.lower()}",
        extra={"payment_line_status": status.value, "action": action.value},
    )


#: The bank confirms a payment line once: paid or failed, both final (a failed line's claim
#: lines go back to the queue and a later batch pays them on a new payment line).
PAYOUT_LINE: StateMachine[PayoutLineStatus, PayoutLineAction] = StateMachine(
    "payment line",
    {
        (PayoutLineStatus.PENDING, PayoutLineAction.PAY): PayoutLineStatus.PAID,
        (PayoutLineStatus.PENDING, PayoutLineAction.FAIL): PayoutLineStatus.FAILED,
    },
    refuse=_payment_line_refusal,
)


# --------------------------------------------------------------------------- time and keys


def claimable_on(confirmed_at: datetime, cooling_off_days: int) -> date:
    """The first day (China) an order confirmed at ``confirmed_at`` may be claimed."""
    if cooling_off_days < 0:
        raise ValueError("the cooling-off period cannot be negative")
    return local_date(confirmed_at) + timedelta(days=cooling_off_days)


_INVOICE_NOISE = re.compile(r"[\s\-]")


def invoice_key(code: str, number: str) -> tuple[str, str]:
    """Invoice code and number as compared platform-wide: no spaces or dashes, upper case,
    so "0123 4567" and "01234567" are the same invoice."""
    return _INVOICE_NOISE.sub("", code or "").upper(), _INVOICE_NOISE.sub("", number).upper()


def yuan_text(fen: int) -> str:
    """``123456`` → ``"1234.56"`` (bank files: no symbol, no thousands separator)."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError("a non-negative whole number of fen is required")
    yuan, cents = divmod(fen, FEN_PER_YUAN)
    return f"{yuan}.{cents:02d}"
