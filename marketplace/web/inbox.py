"""The to-do inbox: every queue the signed-in role acts on, oldest first.

Each queue counts all its items and lists the oldest few, each with how long it has waited
(since the record last changed, which is when it arrived in the queue) and whether that is
longer than the queue's expected turnaround (``overdue_days``). The home page shows the
inbox; the navigation shows the total as a badge. Read-only roles (auditors) and system
administrators decide nothing, so their inbox is empty by design.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.i18n import _
from marketplace.money import format_fen
from marketplace.orders.enums import DisputeStatus, OrderStatus
from marketplace.orders.models import Dispute, Order
from marketplace.payments.enums import GatewayKind, PaymentStatus
from marketplace.payments.models import Payment
from marketplace.settlement.enums import ClaimStatus, PayoutBatchStatus
from marketplace.settlement.models import Claim, PayoutBatch
from providers.enums import BankChangeStatus, ProviderStatus
from providers.models import BankAccountChange, Provider
from vouchers.enums import ApplicationStatus, VerificationStatus
from vouchers.models import Application, Enterprise

#: How many items each queue lists; the count covers all of them.
SHOWN = 5


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    url: str
    since: datetime
    overdue: bool

    @property
    def waited_days(self) -> int:
        return max(0, (clock.local_date(utcnow()) - clock.local_date(_aware(self.since))).days)


@dataclass(slots=True)
class Queue:
    key: str
    label: str
    list_url: str | None
    count: int = 0
    overdue: int = 0
    items: list[Item] = field(default_factory=list)


def _aware(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; the platform stores UTC only.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    label: Callable[[], str]
    model: Any
    since: Any
    where: Callable[[User], Sequence[Any]]
    title: Callable[[Any], str]
    url: Callable[[Any], str]
    overdue_days: int
    list_url: Callable[[], str] | None = None


def _order_title(order: Order) -> str:
    return f"#{order.id} · {order.service.title}"


def _order_url(order: Order) -> str:
    return url_for("orders.detail", order_id=order.id)


def _payment_title(payment: Payment) -> str:
    kind, _colon, ident = payment.reference.partition(":")
    what = _("Order #%(id)s", id=ident) if kind == "order" else payment.reference
    return f"{what} · {format_fen(payment.amount_fen)}"


def _orders(*statuses: OrderStatus, party: str) -> Callable[[User], Sequence[Any]]:
    def where(user: User) -> Sequence[Any]:
        mine = (
            Order.enterprise_id == user.enterprise_id
            if party == "enterprise"
            else Order.provider_id == user.provider_id
        )
        return (mine, Order.status.in_(statuses))

    return where


def _specs() -> dict[Role, list[_Spec]]:
    order_list = lambda: url_for("orders.index")  # noqa: E731 - a one-line link
    return {
        Role.ENTERPRISE: [
            _Spec(
                "quotes",
                lambda: _("Quotes to accept or decline"),
                Order,
                Order.updated_at,
                _orders(OrderStatus.QUOTED, party="enterprise"),
                _order_title,
                _order_url,
                7,
                order_list,
            ),
            _Spec(
                "co_payments",
                lambda: _("Co-payments to pay"),
                Order,
                Order.updated_at,
                _orders(OrderStatus.AGREED, party="enterprise"),
                _order_title,
                _order_url,
                7,
                order_list,
            ),
            _Spec(
                "deliveries",
                lambda: _("Deliveries to confirm"),
                Order,
                Order.updated_at,
                _orders(OrderStatus.DELIVERED, party="enterprise"),
                _order_title,
                _order_url,
                5,
                order_list,
            ),
            _Spec(
                "clarifications",
                lambda: _("Applications waiting for your answer"),
                Application,
                Application.updated_at,
                lambda u: (
                    Application.enterprise_id == u.enterprise_id,
                    Application.status == ApplicationStatus.CLARIFICATION_REQUESTED,
                ),
                lambda a: a.programme.name,
                lambda a: url_for("enterprise.application", application_id=a.id),
                5,
                lambda: url_for("enterprise.application_list"),
            ),
        ],
        Role.PROVIDER: [
            _Spec(
                "to_quote",
                lambda: _("Requests to quote"),
                Order,
                Order.updated_at,
                _orders(OrderStatus.REQUESTED, party="provider"),
                _order_title,
                _order_url,
                3,
                order_list,
            ),
            _Spec(
                "to_deliver",
                lambda: _("Orders to deliver"),
                Order,
                Order.updated_at,
                _orders(OrderStatus.PAID, party="provider"),
                _order_title,
                _order_url,
                14,
                order_list,
            ),
            _Spec(
                "to_claim",
                lambda: _("Confirmed orders to claim"),
                Order,
                Order.updated_at,
                _orders(OrderStatus.CONFIRMED, party="provider"),
                _order_title,
                _order_url,
                30,
                lambda: url_for("settlement.claimable"),
            ),
            _Spec(
                "claims_back",
                lambda: _("Claims sent back for changes"),
                Claim,
                Claim.updated_at,
                lambda u: (
                    Claim.provider_id == u.provider_id,
                    Claim.status == ClaimStatus.CHANGES_REQUESTED,
                ),
                lambda c: c.reference,
                lambda c: url_for("settlement.claim_detail", claim_id=c.id),
                5,
                lambda: url_for("settlement.claims_list"),
            ),
        ],
        Role.REVIEWER: [
            _Spec(
                "enterprises",
                lambda: _("Enterprises to verify"),
                Enterprise,
                Enterprise.created_at,
                lambda _u: (Enterprise.verification_status == VerificationStatus.PENDING,),
                lambda e: e.name,
                lambda e: url_for("admin.enterprise_detail", enterprise_id=e.id),
                3,
                lambda: url_for("admin.enterprise_queue"),
            ),
            _Spec(
                "applications",
                lambda: _("Voucher applications to decide"),
                Application,
                Application.updated_at,
                lambda _u: (Application.status == ApplicationStatus.SUBMITTED,),
                lambda a: f"{a.enterprise.name} · {a.programme.name}",
                lambda a: url_for("admin.voucher_application", application_id=a.id),
                5,
                lambda: url_for("admin.voucher_applications"),
            ),
            _Spec(
                "providers",
                lambda: _("Provider admissions to review"),
                Provider,
                Provider.submitted_at,
                lambda _u: (
                    Provider.status == ProviderStatus.PENDING,
                    Provider.submitted_at.is_not(None),
                ),
                lambda p: p.name,
                lambda p: url_for("admin.provider_detail", provider_id=p.id),
                5,
                lambda: url_for("admin.providers_queue"),
            ),
            _Spec(
                "disputes",
                lambda: _("Disputes to mediate"),
                Dispute,
                Dispute.opened_at,
                lambda _u: (Dispute.status == DisputeStatus.OPEN,),
                lambda d: f"#{d.order_id} · {d.order.service.title}",
                lambda d: url_for("orders.mediation", order_id=d.order_id),
                7,
                lambda: url_for("orders.dispute_queue"),
            ),
            _Spec(
                "claims",
                lambda: _("Claims to review"),
                Claim,
                Claim.updated_at,
                lambda _u: (Claim.status == ClaimStatus.IN_REVIEW,),
                lambda c: c.reference,
                lambda c: url_for("admin.settlement_claim", claim_id=c.id),
                10,
                lambda: url_for("admin.settlement_claims"),
            ),
        ],
        Role.FINANCE: [
            _Spec(
                "transfers",
                lambda: _("Bank transfers to record"),
                Payment,
                Payment.created_at,
                lambda _u: (
                    Payment.gateway == GatewayKind.OFFLINE,
                    Payment.status == PaymentStatus.PENDING,
                ),
                _payment_title,
                lambda p: url_for("admin.payment", payment_id=p.id),
                7,
                lambda: url_for("admin.payments"),
            ),
            _Spec(
                "claims",
                lambda: _("Claims to approve for payment"),
                Claim,
                Claim.updated_at,
                lambda _u: (Claim.status == ClaimStatus.AWAITING_FINANCE,),
                lambda c: c.reference,
                lambda c: url_for("admin.settlement_claim", claim_id=c.id),
                10,
                lambda: url_for("admin.settlement_claims"),
            ),
            _Spec(
                "bank_changes",
                lambda: _("Bank account changes to approve"),
                BankAccountChange,
                BankAccountChange.requested_at,
                lambda _u: (BankAccountChange.status == BankChangeStatus.PENDING,),
                lambda b: b.provider.name,
                lambda b: url_for("admin.provider_detail", provider_id=b.provider_id),
                5,
                None,
            ),
            _Spec(
                "batches",
                lambda: _("Payout batches to send or confirm"),
                PayoutBatch,
                PayoutBatch.created_at,
                lambda _u: (PayoutBatch.status != PayoutBatchStatus.COMPLETED,),
                lambda b: b.reference,
                lambda b: url_for("admin.settlement_batch", batch_id=b.id),
                5,
                lambda: url_for("admin.settlement_payouts"),
            ),
        ],
    }


def inbox_for(session: Session, user: User, now: datetime | None = None) -> list[Queue]:
    """The role's queues, each with its count, overdue count and oldest items."""
    now = now or utcnow()
    queues = []
    for spec in _specs().get(user.role, []):
        where = spec.where(user)
        count = session.scalar(sa.select(sa.func.count()).select_from(spec.model).where(*where))
        queue = Queue(
            spec.key, spec.label(), spec.list_url() if spec.list_url else None, count or 0
        )
        if queue.count:
            limit = now - timedelta(days=spec.overdue_days)
            queue.overdue = (
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(spec.model)
                    .where(*where, spec.since < limit)
                )
                or 0
            )
            rows = session.scalars(
                sa.select(spec.model).where(*where).order_by(spec.since, spec.model.id).limit(SHOWN)
            )
            for row in rows:
                since = _aware(getattr(row, spec.since.key))
                queue.items.append(
                    Item(spec.title(row), spec.url(row), since, overdue=since < limit)
                )
        queues.append(queue)
    return queues


def waiting_total(session: Session, user: User) -> int:
    """How many items wait on the user: the navigation badge."""
    total = 0
    for spec in _specs().get(user.role, []):
        total += (
            session.scalar(
                sa.select(sa.func.count()).select_from(spec.model).where(*spec.where(user))
            )
            or 0
        )
    return total
