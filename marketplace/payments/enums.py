"""Vocabularies of payments: gateways, the statuses of payments, refunds and chargebacks, and
the news that moves them (:mod:`marketplace.payments.rules`). Stored by value (named CHECK
constraints)."""

from __future__ import annotations

from enum import StrEnum

from marketplace.enums import LabelledEnum


class GatewayKind(LabelledEnum):
    OFFLINE = "offline", "线下转账", "Bank transfer (offline)"
    STRIPE = "stripe", "Stripe 在线支付", "Stripe (online)"


class PaymentStatus(LabelledEnum):
    PENDING = "pending", "待支付", "Pending"
    PROCESSING = "processing", "处理中", "Processing"
    SUCCEEDED = "succeeded", "已支付", "Succeeded"
    FAILED = "failed", "支付失败", "Failed"
    CANCELED = "canceled", "已取消", "Canceled"


class RefundStatus(LabelledEnum):
    PENDING = "pending", "退款处理中", "Pending"
    SUCCEEDED = "succeeded", "已退款", "Succeeded"
    FAILED = "failed", "退款失败", "Failed"


class PaymentDisputeStatus(LabelledEnum):
    """A chargeback (Stripe: a dispute) as far as money is concerned. ``open`` covers Stripe's
    ``needs_response``/``under_review`` and the inquiry states ``warning_*``; ``closed`` an
    inquiry closed without a chargeback (``warning_closed``, ``prevented``, ``charge_refunded``)."""

    OPEN = "open", "拒付处理中", "Chargeback open"
    WON = "won", "拒付已撤销", "Chargeback won (money kept)"
    LOST = "lost", "拒付成立", "Chargeback lost (money returned to the payer)"
    CLOSED = "closed", "拒付查询已结束", "Closed without chargeback"


class WebhookOutcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"


class PaymentNews(StrEnum):
    """What we learn about a payment: the status its gateway reports, a finance officer's
    record of the bank transfer (``succeeded``) or a cancellation (``canceled``)."""

    PENDING = "pending"
    PROCESSING = "processing"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"

    @classmethod
    def reporting(cls, status: PaymentStatus) -> PaymentNews:
        """The news that the gateway reports the payment ``status``."""
        return cls(status.value)


class RefundNews(StrEnum):
    """What the gateway reports about a refund (a refusal of the refund call is ``failed``)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def reporting(cls, status: RefundStatus) -> RefundNews:
        """The news that the gateway reports the refund ``status``."""
        return cls(status.value)


class DisputeNews(StrEnum):
    """What the gateway reports about a chargeback (its word says which open state)."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"
    CLOSED = "closed"

    @classmethod
    def reporting(cls, status: PaymentDisputeStatus) -> DisputeNews:
        """The news that the gateway reports the dispute ``status``."""
        return cls(status.value)
