"""Settlement factories: confirmed orders (through the orders module's real services), claims,
reviews, finance approvals, payout batches and bank confirmations, all through the real
settlement services.

Orders confirm two days after ``VOUCHER_NOW``; ``CLAIM_NOW`` is a few days later, inside the
programme's claim deadline, and every settlement step defaults to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.orders.models import Order
from marketplace.settlement import claims, payout_files, payouts
from marketplace.settlement.enums import ClaimAction
from marketplace.settlement.models import Claim, PayoutBatch
from providers.models import Provider
from tests.support.order_fixtures import OrderWorld
from tests.support.voucher_fixtures import VOUCHER_NOW, co_fund
from vouchers import funders
from vouchers.funder_models import Funder

#: A week after the orders were placed (they confirm at VOUCHER_NOW + 2 days).
CLAIM_NOW = VOUCHER_NOW + timedelta(days=7)
PAID_ON = date(2026, 7, 1)


def set_bank_account(provider: Provider, suffix: str = "") -> Provider:
    provider.bank_account_name = provider.name
    provider.bank_name = "中国银行昆明分行"
    provider.bank_account_number = f"62166101000{provider.id:06d}{suffix}"
    return provider


@dataclass
class SettlementWorld:
    """The people of settlement and one-line steps; each call goes through the services."""

    session: Session
    orders: OrderWorld
    create_order: Callable[..., Order]
    create_user: Callable[..., User]
    _second_finance: User | None = None
    _third_finance: User | None = None

    def _ctx(self) -> Any:
        """Each step runs in an app context of its own (notifications read the settings), so
        a test's client requests keep theirs."""
        return self.orders.app.app_context()

    @property
    def reviewer(self) -> User:
        return self.orders.staff(Role.REVIEWER)

    @property
    def finance(self) -> User:
        """Approves claims and builds payout batches."""
        return self.orders.staff(Role.FINANCE)

    @property
    def second_finance(self) -> User:
        """Another finance officer: sends the batches the first one built and imports their
        confirmations (four eyes)."""
        if self._second_finance is None:
            self._second_finance = self.create_user(Role.FINANCE)
        return self._second_finance

    @property
    def third_finance(self) -> User:
        """A third officer, for batches that need a second approval before they are sent."""
        if self._third_finance is None:
            self._third_finance = self.create_user(Role.FINANCE)
        return self._third_finance

    def order(self, **kwargs: Any) -> Order:
        """A confirmed order with a voucher part, an invoice and its co-payment received."""
        return self.create_order(OrderStatus.CONFIRMED, **kwargs)

    def recent_order(self, **kwargs: Any) -> Order:
        """A confirmed order placed three days ago (confirmed yesterday), for pages and API
        calls, which act on the real clock."""
        return self.order(now=utcnow() - timedelta(days=3), **kwargs)

    def seller(self, order: Order) -> User:
        return self.orders.provider_user(order)

    def claim(
        self,
        *orders: Order,
        now: datetime = CLAIM_NOW,
        cooling_off_days: int = 0,
        note: str = "",
    ) -> Claim:
        with self._ctx():
            return claims.create_claim(
                self.session,
                orders[0].provider_id,
                [o.id for o in orders],
                actor_id=self.seller(orders[0]).id,
                note=note,
                now=now,
                cooling_off_days=cooling_off_days,
            )

    def review(
        self,
        claim: Claim,
        action: ClaimAction = ClaimAction.APPROVE,
        *,
        by: User | None = None,
        reason: str | None = None,
        line_ids: Sequence[int] | None = None,
        now: datetime = CLAIM_NOW,
    ) -> Claim:
        with self._ctx():
            return claims.review(
                self.session,
                claim.id,
                action,
                actor_id=(by or self.reviewer).id,
                reason=reason,
                line_ids=line_ids,
                now=now,
            )

    def finance_decide(
        self,
        claim: Claim,
        action: ClaimAction = ClaimAction.FINANCE_APPROVE,
        *,
        by: User | None = None,
        reason: str | None = None,
        line_ids: Sequence[int] | None = None,
        now: datetime = CLAIM_NOW,
    ) -> Claim:
        with self._ctx():
            return claims.finance_decide(
                self.session,
                claim.id,
                action,
                actor_id=(by or self.finance).id,
                reason=reason,
                line_ids=line_ids,
                now=now,
            )

    def approved_claim(self, *orders: Order, bank: bool = True) -> Claim:
        """Claimed, reviewed and approved for payment (orders claim_approved)."""
        claim = self.claim(*orders)
        self.review(claim)
        self.finance_decide(claim)
        if bank:
            for order in orders:
                set_bank_account(order.provider)
        self.session.flush()
        return claim

    def batch(
        self, claim_line_ids: Sequence[int] | None = None, *, funder_id: int | None = None
    ) -> PayoutBatch:
        with self._ctx():
            return payouts.create_batch(
                self.session,
                actor_id=self.finance.id,
                funder_id=funder_id,
                claim_line_ids=claim_line_ids,
                now=CLAIM_NOW,
            ).batch

    def sent_batch(
        self, claim_line_ids: Sequence[int] | None = None, *, funder_id: int | None = None
    ) -> PayoutBatch:
        batch = self.batch(claim_line_ids, funder_id=funder_id)
        with self._ctx():
            return payouts.mark_sent(
                self.session, batch.id, actor_id=self.second_finance.id, now=CLAIM_NOW
            )

    def confirmation_csv(
        self,
        batch: PayoutBatch,
        outcomes: dict[int, str] | None = None,
        *,
        paid_on: date = PAID_ON,
        transaction_prefix: str = "B",
    ) -> str:
        """The bank's confirmation of ``batch``: every line paid unless ``outcomes`` maps a
        payment line id to "failed"."""
        rows = ["line_id,reference,status,bank_transaction_id,date,reason"]
        for line in batch.lines:
            status = (outcomes or {}).get(line.id, "paid")
            transaction = f"{transaction_prefix}{line.id:08d}" if status == "paid" else ""
            reason = "" if status == "paid" else "账户已销户"
            rows.append(
                f"{line.id},{line.reference},{status},{transaction},{paid_on.isoformat()},{reason}"
            )
        return "\r\n".join(rows) + "\r\n"

    def confirm(self, batch: PayoutBatch, csv_text: str) -> payouts.ImportResult:
        with self._ctx():
            return payouts.import_confirmation(
                self.session,
                batch.id,
                payout_files.parse_confirmation_csv(csv_text),
                actor_id=self.second_finance.id,
                source="csv",
                now=CLAIM_NOW + timedelta(days=1),
            )


@pytest.fixture
def settlement_world(
    session: Session,
    order_world: OrderWorld,
    create_order: Callable[..., Order],
    create_user: Callable[..., User],
) -> SettlementWorld:
    return SettlementWorld(session, order_world, create_order, create_user)


@dataclass
class CoFundedWorld:
    """The test programme made co-funded: the province pays 50 % and the SME's home
    prefecture 50 % ("use anywhere, pay at home"); Kunming and Qujing fund it too. Each
    treasury has an account to pay from. A Kunming provider serves SMEs of both prefectures."""

    settlement: SettlementWorld
    programme: Any
    province: Funder
    kunming: Funder
    qujing: Funder
    provider: Provider
    service: Any
    create_enterprise: Callable[..., Any]

    def order(self, division: str, price_fen: int) -> Order:
        """A confirmed order of an SME of ``division`` with the Kunming provider."""
        return self.settlement.order(
            enterprise=self.create_enterprise(division=division),
            service=self.service,
            price_fen=price_fen,
        )

    def parts(self, order: Order) -> dict[int, int]:
        """The funders' captured parts of ``order``'s hold, by funder id."""
        return {
            p.funder_id: p.captured_fen
            for p in funders.parts_of(self.settlement.session, order.hold_id or 0)
        }


@pytest.fixture
def co_funded_world(
    session: Session,
    settlement_world: SettlementWorld,
    order_world: OrderWorld,
    create_enterprise: Callable[..., Any],
    create_provider: Callable[..., Provider],
) -> CoFundedWorld:
    programme = order_world.programme(local_date(VOUCHER_NOW).year)
    province, kunming, qujing = co_fund(session, programme, (10_000_000, 5_000_000, 5_000_000))
    provider = create_provider(division="530102")
    return CoFundedWorld(
        settlement_world,
        programme,
        province,
        kunming,
        qujing,
        provider,
        order_world.create_service(provider),
        create_enterprise,
    )
