"""Order factories: drive an order to any status through the REAL services.

``create_order(status=OrderStatus.CONFIRMED, price_fen=..., enterprise=..., provider=...)``
walks request → quote → accept (voucher hold, co-payment started) → pay (finance records the
bank transfer, offline gateway) → deliver (report + invoice) → confirm / dispute / decide, so
the ledger, the payments and the history are exactly what production would hold and
``verify_ledger`` passes. The settlement work builds on it; keep the signature stable.

Every party is a real user: ``OrderWorld`` finds (or creates) the SME's and the provider's
users, a finance officer and a reviewer. All steps happen at ``now`` (default ``VOUCHER_NOW``;
pass ``now=utcnow()`` for orders that pages and API calls, which use the real clock, act on:
the programme of that year is created and funded for it).
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.clock import local_date
from marketplace.enums import Role
from marketplace.orders import copayment, delivery, disputes, services
from marketplace.orders.enums import OrderStatus, Outcome
from marketplace.orders.files import OrderFileStorage, Upload
from marketplace.orders.models import Order
from marketplace.payments import services as payments
from providers.enums import ParticipationStatus
from providers.models import ProgrammeParticipation, Provider, Service
from tests.support.einvoice_files import (
    InvoiceSpec,
    ofd_bytes,
    pdf_bytes,
    spec_for,
    xml_bytes,
)
from tests.support.provider_fixtures import PDF
from tests.support.voucher_fixtures import VOUCHER_NOW, VOUCHER_YEAR
from vouchers.enums import ProgrammeKind
from vouchers.models import Enterprise, Programme, Voucher

S = OrderStatus
#: The statuses ``create_order`` can reach on its own (later ones belong to settlement).
REACHABLE = (
    S.REQUESTED,
    S.QUOTED,
    S.DECLINED,
    S.AGREED,
    S.PAID,
    S.DELIVERED,
    S.CONFIRMED,
    S.DISPUTED,
    S.CANCELLED,
    S.REFUNDED,
)
VOUCHER_FACE_FEN = 2_000_000
_numbers = itertools.count(10_000_001)


def invoice_number() -> str:
    """A fresh 8-digit invoice number (unique across the test run)."""
    return f"{next(_numbers) % 100_000_000:08d}"


def invoice_for(order: Order, *, today: Any = None, **overrides: Any) -> delivery.InvoiceInput:
    """Invoice details that match ``order``; override any field to break one rule."""
    assert order.price_fen is not None
    values: dict[str, Any] = {
        "code": "053002300111",
        "number": invoice_number(),
        "issued_on": today or local_date(VOUCHER_NOW),
        "amount_fen": order.price_fen,
        "buyer_taxpayer_id": order.enterprise.credit_code,
        "seller_taxpayer_id": order.provider.credit_code,
    }
    values.update(overrides)
    return delivery.InvoiceInput(**values)


_digital_numbers = itertools.count(1)


def digital_invoice_number() -> str:
    """A fresh 20-digit 数电发票 number (unique across the test run)."""
    return f"2653200{os.getpid() % 100_000:05d}{next(_digital_numbers):08d}"


def invoice_spec_for(order: Order, *, today: Any = None, **overrides: Any) -> InvoiceSpec:
    """A 数电发票 that matches ``order`` (see ``tests.support.einvoice_files``); override any
    of ``spec_for``'s arguments to break one rule."""
    assert order.price_fen is not None
    values: dict[str, Any] = {
        "number": digital_invoice_number(),
        "total_fen": order.price_fen,
        "buyer_id": order.enterprise.credit_code,
        "seller_id": order.provider.credit_code,
        "issued": today or local_date(VOUCHER_NOW),
    }
    values.update(overrides)
    return spec_for(**values)


def invoice_upload(spec: InvoiceSpec, kind: str = "xml") -> Upload:
    data = {"xml": xml_bytes, "ofd": ofd_bytes, "pdf": pdf_bytes}[kind](spec)
    return Upload(filename=f"发票{spec.number}.{kind}", stream=io.BytesIO(data))


def report(data: bytes = PDF, filename: str = "report.pdf") -> Upload:
    return Upload(filename=filename, stream=io.BytesIO(data))


@dataclass
class OrderWorld:
    """The people and things an order needs, created on first use and reused in a test."""

    session: Session
    app: Flask
    create_user: Callable[..., User]
    create_enterprise: Callable[..., Enterprise]
    create_provider: Callable[..., Provider]
    create_service: Callable[..., Service]
    funded_programme: Callable[..., Programme]
    issue_voucher: Callable[..., Voucher]
    _staff: dict[Role, User] = field(default_factory=dict)
    #: Deliver with the invoice's 数电发票 XML (read by the platform) instead of typed details.
    invoice_files: bool = False
    #: With ``invoice_files``: what the generated invoices change (``spec_for`` arguments).
    invoice_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def storage(self) -> OrderFileStorage:
        return OrderFileStorage.from_settings(self.app.config["SETTINGS"])

    def staff(self, role: Role) -> User:
        """One administrator of ``role`` per test (finance records transfers, reviewers mediate)."""
        if role not in self._staff:
            self._staff[role] = self.create_user(role)
        return self._staff[role]

    def programme(self, year: int = VOUCHER_YEAR) -> Programme:
        """The innovation programme of ``year`` (funded, whole-year windows), made once."""
        found = self.session.scalar(
            sa.select(Programme).where(
                Programme.kind == ProgrammeKind.INNOVATION, Programme.year == year
            )
        )
        return found or self.funded_programme(year=year)

    def admit(self, provider: Provider, programme: Programme) -> None:
        exists = self.session.scalar(
            sa.select(ProgrammeParticipation).where(
                ProgrammeParticipation.provider_id == provider.id,
                ProgrammeParticipation.programme_id == programme.id,
            )
        )
        if exists is None:
            self.session.add(
                ProgrammeParticipation(
                    provider_id=provider.id,
                    programme_id=programme.id,
                    status=ParticipationStatus.ADMITTED,
                )
            )
            self.session.flush()

    def sme(self, enterprise_or_order: Enterprise | Order) -> User:
        enterprise_id = (
            enterprise_or_order.enterprise_id
            if isinstance(enterprise_or_order, Order)
            else enterprise_or_order.id
        )
        user = self.session.scalar(
            sa.select(User).where(User.enterprise_id == enterprise_id).order_by(User.id).limit(1)
        )
        if user is None:
            enterprise = self.session.get(Enterprise, enterprise_id)
            user = self.create_user(Role.ENTERPRISE, enterprise=enterprise)
        return user

    def provider_user(self, provider_or_order: Provider | Order) -> User:
        provider_id = (
            provider_or_order.provider_id
            if isinstance(provider_or_order, Order)
            else provider_or_order.id
        )
        user = self.session.scalar(
            sa.select(User).where(User.provider_id == provider_id).order_by(User.id).limit(1)
        )
        if user is None:
            provider = self.session.get(Provider, provider_id)
            user = self.create_user(Role.PROVIDER, provider=provider)
        return user

    def voucher_of(
        self, enterprise: Enterprise, programme: Programme, *, now: datetime = VOUCHER_NOW
    ) -> Voucher:
        found = self.session.scalar(
            sa.select(Voucher)
            .where(Voucher.enterprise_id == enterprise.id, Voucher.programme_id == programme.id)
            .order_by(Voucher.id)
            .limit(1)
        )
        return found or self.issue_voucher(
            enterprise, programme, amount_fen=VOUCHER_FACE_FEN, now=now
        )

    # ------------------------------------------------------------------ steps

    def pay(self, order: Order, *, now: datetime = VOUCHER_NOW) -> Order:
        """Finance records the bank transfer of the co-payment (offline gateway)."""
        with self.app.app_context():
            return self._pay(order, now=now)

    def _pay(self, order: Order, *, now: datetime) -> Order:
        payment = copayment.payment_of(self.session, order)
        assert payment is not None
        payments.record_offline_payment(
            self.session,
            payment.id,
            bank_reference=f"BANK{payment.id:08d}",
            amount_fen=payment.amount_fen,
            actor_id=self.staff(Role.FINANCE).id,
            now=now,
        )
        self.session.refresh(order)
        return order

    def deliver(self, order: Order, *, now: datetime = VOUCHER_NOW, **invoice: Any) -> Order:
        with self.app.app_context():
            return self._deliver(order, now=now, **invoice)

    def _deliver(self, order: Order, *, now: datetime, **invoice: Any) -> Order:
        if self.invoice_files:
            spec = invoice_spec_for(
                order, today=local_date(now), **{**self.invoice_overrides, **invoice}
            )
            return delivery.deliver(
                self.session,
                self.storage,
                order.id,
                self.provider_user(order),
                invoice_files=[invoice_upload(spec)],
                report=report(),
                now=now,
            )
        return delivery.deliver(
            self.session,
            self.storage,
            order.id,
            self.provider_user(order),
            invoice=invoice_for(order, today=local_date(now), **invoice),
            report=report(),
            now=now,
        )

    def create(
        self, status: OrderStatus = S.CONFIRMED, *, app: Flask | None = None, **options: Any
    ) -> Order:
        """Drive a new order to ``status`` (see :func:`create_order`). Runs in an app context
        of its own (of ``app``, e.g. one configured for Stripe; default the test's app), so a
        test's client requests keep theirs (``g`` is per context)."""
        with (app or self.app).app_context():
            return self._create(status, **options)

    def _create(
        self,
        status: OrderStatus = S.CONFIRMED,
        *,
        price_fen: int = 200_000,
        enterprise: Enterprise | None = None,
        provider: Provider | None = None,
        service: Service | None = None,
        with_voucher: bool = True,
        requested_fen: int | None = None,
        quantity: int = 1,
        now: datetime = VOUCHER_NOW,
    ) -> Order:
        if status not in REACHABLE:
            raise ValueError(f"create_order cannot reach {status.value} on its own")
        programme = self.programme(local_date(now).year)
        enterprise = enterprise or self.create_enterprise()
        if service is None:
            provider = provider or self.create_provider()
            service = self.create_service(provider)
        provider = service.provider
        self.admit(provider, programme)
        sme, seller = self.sme(enterprise), self.provider_user(provider)
        order = services.request_service(
            self.session, sme, service.id, note="请尽快安排检测。", quantity=quantity, now=now
        )
        if status is S.REQUESTED:
            return order
        if status is S.DECLINED:
            return services.decline(self.session, order.id, seller, reason="排期已满", now=now)
        services.quote(self.session, order.id, seller, price_fen=price_fen, now=now)
        if status is S.QUOTED:
            return order
        voucher = self.voucher_of(enterprise, programme, now=now) if with_voucher else None
        services.accept(
            self.session,
            order.id,
            sme,
            voucher_id=voucher.id if voucher else None,
            requested_fen=requested_fen,
            agree=True,
            now=now,
        )
        if status is S.AGREED:
            return order
        self._pay(order, now=now)
        if status is S.PAID:
            return order
        if status is S.CANCELLED:
            return services.cancel(self.session, order.id, sme, reason="计划有变", now=now)
        self._deliver(order, now=now + timedelta(days=1))
        if status is S.DELIVERED:
            return order
        if status is S.CONFIRMED:
            return delivery.confirm(self.session, order.id, sme, now=now + timedelta(days=2))
        disputes.open_dispute(
            self.session, order.id, sme, reason="报告数据不完整。", now=now + timedelta(days=2)
        )
        if status is S.DISPUTED:
            return order
        disputes.decide(
            self.session,
            order.id,
            self.staff(Role.REVIEWER),
            outcome=Outcome.UPHOLD_FULL,
            note="报告缺失关键数据，全额退还。",
            now=now + timedelta(days=3),
        )
        return order


@pytest.fixture
def orders_ctx(app: Flask) -> Iterator[Flask]:
    """The app's context for a whole service-level test (notifications and payments read the
    settings). Not for tests that make client requests as several users: requests would share
    this context's ``g`` (and with it the signed-in API user)."""
    with app.app_context():
        yield app


@pytest.fixture
def order_world(
    session: Session,
    app: Flask,
    create_user: Callable[..., User],
    create_enterprise: Callable[..., Enterprise],
    create_provider: Callable[..., Provider],
    create_service: Callable[..., Service],
    funded_programme: Callable[..., Programme],
    issue_voucher: Callable[..., Voucher],
) -> OrderWorld:
    return OrderWorld(
        session,
        app,
        create_user,
        create_enterprise,
        create_provider,
        create_service,
        funded_programme,
        issue_voucher,
    )


@pytest.fixture
def create_order(order_world: OrderWorld) -> Callable[..., Order]:
    """``create_order(status=OrderStatus.CONFIRMED, price_fen=200_000, enterprise=None,
    provider=None, service=None, with_voucher=True, requested_fen=None, quantity=1,
    now=VOUCHER_NOW, app=None)`` → an order in ``status`` reached through the real services."""
    return order_world.create
