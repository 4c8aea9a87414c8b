"""Vocabularies of the order domain: an order's statuses and steps, who takes them, a
dispute's statuses and the mediator's outcomes. Stored by value (named CHECK constraints)."""

from __future__ import annotations

from enum import StrEnum

from marketplace.enums import LabelledEnum


class OrderStatus(LabelledEnum):
    REQUESTED = "requested", "已提交需求", "Requested"
    QUOTED = "quoted", "已报价", "Quoted"
    DECLINED = "declined", "机构已拒绝", "Declined"
    AGREED = "agreed", "已确认协议", "Agreed"
    PAID = "paid", "已支付自付部分", "Co-payment received"
    DELIVERED = "delivered", "已交付", "Delivered"
    DISPUTED = "disputed", "争议处理中", "In dispute"
    CONFIRMED = "confirmed", "已确认验收", "Confirmed"
    CLAIMED = "claimed", "已申请兑付", "Claimed"
    CLAIM_APPROVED = "claim_approved", "兑付已批准", "Claim approved"
    PAID_OUT = "paid_out", "已拨付", "Paid out"
    SETTLED = "settled", "已结算", "Settled"
    CANCELLED = "cancelled", "已取消", "Cancelled"
    REFUNDED = "refunded", "已退款", "Refunded"


class OrderAction(StrEnum):
    QUOTE = "quote"
    DECLINE = "decline"
    ACCEPT = "accept"
    PAY = "pay"
    DELIVER = "deliver"
    CONFIRM = "confirm"
    AUTO_CONFIRM = "auto_confirm"
    DISPUTE = "dispute"
    DISMISS_DISPUTE = "dismiss_dispute"
    UPHOLD_PARTIAL = "uphold_partial"
    UPHOLD_FULL = "uphold_full"
    CLAIM = "claim"
    REJECT_CLAIM = "reject_claim"
    APPROVE_CLAIM = "approve_claim"
    PAY_OUT = "pay_out"
    PAYOUT_FAILED = "payout_failed"
    SETTLE = "settle"
    CANCEL = "cancel"


class Actor(StrEnum):
    """Who acts on an order: its two parties, the administrators, or the platform itself."""

    ENTERPRISE = "enterprise"
    PROVIDER = "provider"
    REVIEWER = "reviewer"
    FINANCE = "finance"
    SYSTEM = "system"  # jobs, payment webhooks, bank confirmation imports


class DisputeStatus(LabelledEnum):
    OPEN = "open", "调解中", "Under mediation"
    DISMISSED = "dismissed", "争议不成立", "Dismissed"
    UPHELD_PARTIAL = "upheld_partial", "部分支持", "Partly upheld"
    UPHELD_FULL = "upheld_full", "全部支持", "Fully upheld"


class Outcome(StrEnum):
    """The mediator's decision on a dispute: the dispute's action, and one of the order's."""

    DISMISS = "dismiss"
    UPHOLD_PARTIAL = "uphold_partial"
    UPHOLD_FULL = "uphold_full"

    @property
    def order_action(self) -> OrderAction:
        return {
            Outcome.DISMISS: OrderAction.DISMISS_DISPUTE,
            Outcome.UPHOLD_PARTIAL: OrderAction.UPHOLD_PARTIAL,
            Outcome.UPHOLD_FULL: OrderAction.UPHOLD_FULL,
        }[self]


class InvoiceSource(LabelledEnum):
    """How the invoice's fields came to the platform."""

    FILE = "file", "读取发票文件", "Read from the invoice file"
    TYPED = "typed", "手工录入（纸质发票，需人工核对）", "Typed in (paper invoice, checked by hand)"
