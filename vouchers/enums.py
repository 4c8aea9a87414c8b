"""Vocabularies of the voucher domain, stored by value (named CHECK constraints on both DBs).

They live apart from the models so that :mod:`vouchers.rules` stays free of SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.enums import LabelledEnum


class VerificationStatus(LabelledEnum):
    PENDING = "pending", "待核验", "Pending verification"
    VERIFIED = "verified", "已核验", "Verified"
    REJECTED = "rejected", "核验未通过", "Verification refused"


class ProgrammeKind(LabelledEnum):
    INNOVATION = "innovation", "科技创新券", "Innovation voucher"
    SERVICE = "service", "创业创新服务券", "Service voucher"


class FundingBody(LabelledEnum):
    PROVINCIAL = "provincial", "省级财政", "Provincial finance"
    MUNICIPAL = "municipal", "市级财政", "Municipal finance"


class CapScope(LabelledEnum):
    """Which annual cap a programme's vouchers count against (POLICY.md rule 1)."""

    SHARED = "shared", "与其他券种合并计算（每户每年3万元）", "Shared across programmes (¥30,000)"
    PROGRAMME = "programme", "本券种单独设定年度上限", "This programme's own annual cap"


class BlacklistAction(LabelledEnum):
    ADDED = "added", "列入失信名单", "Added to the dishonesty list"
    REMOVED = "removed", "移出失信名单", "Removed from the dishonesty list"


class ApplicationStatus(LabelledEnum):
    SUBMITTED = "submitted", "待审核", "Awaiting review"
    CLARIFICATION_REQUESTED = "clarification_requested", "待补充说明", "Clarification requested"
    APPROVED = "approved", "已批准", "Approved"
    REJECTED = "rejected", "未通过", "Rejected"


class ApplicationAction(LabelledEnum):
    SUBMIT = "submit", "提交申请", "Submitted"
    REQUEST_CLARIFICATION = "request_clarification", "要求补充说明", "Clarification requested"
    CLARIFY = "clarify", "补充说明", "Clarification given"
    APPROVE = "approve", "批准并发券", "Approved and issued"
    REJECT = "reject", "驳回", "Rejected"
    BULK_ISSUE = "bulk_issue", "批量发券", "Issued in bulk"


class ApplicationSource(LabelledEnum):
    ONLINE = "online", "在线申请", "Online application"
    BULK = "bulk", "批量发放", "Bulk issuance"


class VoucherStatus(LabelledEnum):
    ACTIVE = "active", "可使用", "Active"
    EXHAUSTED = "exhausted", "已用完", "Exhausted"
    EXPIRED = "expired", "已过期", "Expired"
    REVOKED = "revoked", "已撤销", "Revoked"
    #: Its enterprise was put on the dishonesty list: nothing new, its orders await review.
    FROZEN = "frozen", "已冻结", "Frozen"

    @property
    def is_live(self) -> bool:
        """Still carries money of its own (balance or holds that may return to it). A frozen
        voucher does: the money is the enterprise's until the listing is decided."""
        return self in (VoucherStatus.ACTIVE, VoucherStatus.EXHAUSTED, VoucherStatus.FROZEN)


class HoldStatus(LabelledEnum):
    OPEN = "open", "冻结中", "Held"
    CAPTURED = "captured", "已核销", "Captured"
    RELEASED = "released", "已释放", "Released"


class AccountKind(LabelledEnum):
    """Ledger accounts. Two are *sources* (debit-normal): their balance is what flowed out of
    them; every other account is a bucket (credit-normal) holding money."""

    PROGRAMME_FUNDING = "programme_funding", "财政拨入预算", "Budget granted (source)"
    BUDGET_AVAILABLE = "budget_available", "可用预算", "Budget available"
    BUDGET_COMMITTED = "budget_committed", "已承诺预算", "Budget committed"
    BUDGET_SPENT = "budget_spent", "已使用预算", "Budget spent"
    VOUCHERS_ISSUED = "vouchers_issued", "已发券面", "Vouchers issued (source)"
    VOUCHER_BALANCE = "voucher_balance", "券余额", "Voucher balance"
    VOUCHER_HELD = "voucher_held", "券冻结额", "Voucher holds"
    PROVIDER_PAYABLE = "provider_payable", "应付服务机构", "Provider payable"
    PROVIDER_PAID = "provider_paid", "已兑付", "Paid out"
    # The funder leg of a co-funded programme (vouchers.funders): each funder's budget in the
    # programme, what its share of open holds reserves and what its share of captures spent.
    FUNDER_GRANTED = "funder_granted", "出资方拨入预算", "Funder's budget granted (source)"
    FUNDER_AVAILABLE = "funder_available", "出资方可用预算", "Funder's budget available"
    FUNDER_HELD = "funder_held", "出资方冻结额", "Funder's share of holds"
    FUNDER_SPENT = "funder_spent", "出资方已使用", "Funder's share spent"
    #: The funder's part of what its treasury's payout batches paid to providers (settlement).
    FUNDER_PAID = "funder_paid", "出资方已拨付", "Funder's share paid out"

    @property
    def debit_normal(self) -> bool:
        return self in (
            AccountKind.PROGRAMME_FUNDING,
            AccountKind.VOUCHERS_ISSUED,
            AccountKind.FUNDER_GRANTED,
        )

    @property
    def per_funder(self) -> bool:
        return self in FUNDER_KINDS

    @property
    def per_voucher(self) -> bool:
        return self in (AccountKind.VOUCHER_BALANCE, AccountKind.VOUCHER_HELD)

    @property
    def per_provider(self) -> bool:
        return self in (AccountKind.PROVIDER_PAYABLE, AccountKind.PROVIDER_PAID)


FUNDER_KINDS = frozenset(
    {
        AccountKind.FUNDER_GRANTED,
        AccountKind.FUNDER_AVAILABLE,
        AccountKind.FUNDER_HELD,
        AccountKind.FUNDER_SPENT,
        AccountKind.FUNDER_PAID,
    }
)


class FunderLevel(LabelledEnum):
    """The tier of government a funder (a treasury) belongs to, read from its GB/T 2260 code."""

    PROVINCE = "province", "省级", "Province"
    PREFECTURE = "prefecture", "州市级", "Prefecture"
    COUNTY = "county", "县区级", "County"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class TransactionKind(LabelledEnum):
    BUDGET = "budget", "预算拨入或调整", "Budget granted or adjusted"
    ISSUE = "issue", "发券", "Voucher issued"
    HOLD = "hold", "冻结", "Hold placed"
    RELEASE = "release", "释放", "Hold released"
    CAPTURE = "capture", "核销", "Hold captured"
    EXPIRE = "expire", "过期回收", "Expired balance returned"
    REVOKE = "revoke", "撤销回收", "Revoked balance returned"
    PAYOUT = "payout", "兑付", "Paid out to a provider"
    ADJUSTMENT = "adjustment", "调整", "Adjustment"


class VoucherAction(StrEnum):
    EXHAUST = "exhaust"  # a hold took the last of the balance
    REPLENISH = "replenish"  # money came back to the balance of an exhausted voucher
    EXPIRE = "expire"
    REVOKE = "revoke"
    FREEZE = "freeze"  # the enterprise was put on the dishonesty list
    UNFREEZE = "unfreeze"  # the listing was lifted


class FreezeStatus(LabelledEnum):
    """An order's voucher money held back by a blacklisting, until a reviewer decides."""

    FROZEN = "frozen", "冻结待审", "Frozen, awaiting review"
    RELEASED = "released", "已释放回预算", "Released to the budget"
    UNFROZEN = "unfrozen", "已解冻", "Unfrozen"
    LIFTED = "lifted", "随移出名单解冻", "Unfrozen with the listing lifted"


class FreezeAction(StrEnum):
    RELEASE = "release"  # the reviewer gives the order's voucher money back to the budget
    UNFREEZE = "unfreeze"  # the reviewer lets the order go on (with a reason)
    LIFT = "lift"  # the enterprise left the list before anyone decided


class HoldAction(StrEnum):
    CAPTURE = "capture"
    RELEASE = "release"
    #: An upheld dispute gives back (part of) a capture; giving back all of it releases the hold.
    REVERSE_CAPTURE = "reverse_capture"
