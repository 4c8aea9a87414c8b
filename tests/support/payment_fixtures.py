"""Fixtures for payments, jobs and notifications: a loopback localstripe, a loopback SMTP
server, the real Redis, Stripe-signed webhook deliveries and payment factories."""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
import stripe
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from marketplace.auth.models import User
from marketplace.enums import Role
from marketplace.payments.enums import GatewayKind, PaymentStatus
from marketplace.payments.listeners import PaymentChange, on_payment_status, remove_listener
from marketplace.payments.models import Payment
from tests.support.stripe_server import LocalStripe

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WEBHOOK_PATH = "/payments/webhooks/stripe"
_serial = itertools.count(1)


# --------------------------------------------------------------------------- Stripe


@pytest.fixture(scope="session")
def local_stripe() -> Iterator[LocalStripe]:
    server = LocalStripe()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class StripeKeys:
    secret_key: str
    webhook_secret: str


@pytest.fixture
def stripe_keys() -> StripeKeys:
    """Keys of a fresh 'Stripe account' per test: idempotency keys are scoped by API key, and
    our keys (``payment-<id>-create``) repeat across tests' databases."""
    token = uuid.uuid4().hex
    return StripeKeys(secret_key=f"sk_test_{token}", webhook_secret=f"whsec_{token}")


def stripe_config(server: LocalStripe, keys: StripeKeys) -> dict[str, str]:
    return {
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_SECRET_KEY": keys.secret_key,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_local",
        "STRIPE_WEBHOOK_SECRET": keys.webhook_secret,
        "STRIPE_API_BASE": server.url,
    }


@pytest.fixture
def stripe_app(
    make_app: Callable[..., Flask], local_stripe: LocalStripe, stripe_keys: StripeKeys
) -> Flask:
    return make_app(**stripe_config(local_stripe, stripe_keys))


@pytest.fixture
def stripe_ctx(stripe_app: Flask) -> Iterator[Flask]:
    """The Stripe-configured app with its context pushed (services need the settings)."""
    with stripe_app.app_context():
        yield stripe_app


@pytest.fixture
def offline_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


class StripeDashboard:
    """What a person (payer or operator) does directly at Stripe, through the real SDK."""

    def __init__(self, server: LocalStripe, keys: StripeKeys) -> None:
        self.server = server
        self.keys = keys
        self.client = stripe.StripeClient(
            keys.secret_key, base_addresses={"api": server.url}, max_network_retries=0
        )

    def pay(self, intent_id: str, payment_method: str = "pm_card_visa") -> Any:
        """The payer confirms with a card (Stripe.js would do this in the browser)."""
        self.client.v1.payment_intents.update(intent_id, params={"payment_method": payment_method})
        return self.client.v1.payment_intents.confirm(intent_id)

    def decline(self, intent_id: str) -> None:
        with pytest.raises(stripe.CardError):
            self.pay(intent_id, "pm_card_chargeCustomerFail")

    def intent(self, intent_id: str) -> dict[str, Any]:
        return self.client.v1.payment_intents.retrieve(intent_id).to_dict()

    def intents_for(self, reference: str) -> list[dict[str, Any]]:
        """Every PaymentIntent at the server whose metadata names ``reference``."""
        page = self.client.v1.payment_intents.list(params={"limit": 100})
        intents = [pi.to_dict() for pi in page.auto_paging_iter()]
        return [pi for pi in intents if (pi.get("metadata") or {}).get("reference") == reference]

    def refund(self, intent_id: str, amount_fen: int) -> dict[str, Any]:
        """A refund made at Stripe directly (the dashboard), not through the platform."""
        return self.client.v1.refunds.create(
            params={"payment_intent": intent_id, "amount": amount_fen}
        ).to_dict()

    def dispute(
        self,
        intent_id: str,
        *,
        amount_fen: int | None = None,
        status: str = "needs_response",
        reason: str = "fraudulent",
        dispute_id: str | None = None,
        name_the_intent: bool = True,
    ) -> dict[str, Any]:
        """The cardholder's bank disputes the intent's charge. localstripe has no disputes, so
        the Dispute object is built here as Stripe documents it (around the real charge) and
        handed to the server's dispute list; events carrying it are signed by the tests."""
        charge = self.intent(intent_id)["latest_charge"]
        charge_id = charge if isinstance(charge, str) else charge["id"]
        dispute: dict[str, Any] = {
            "id": dispute_id or f"dp_{uuid.uuid4().hex[:24]}",
            "object": "dispute",
            "amount": amount_fen if amount_fen is not None else self.intent(intent_id)["amount"],
            "balance_transactions": [],
            "charge": charge_id,
            "created": int(time.time()) - 30,
            "currency": "cny",
            "evidence_details": {"has_evidence": False, "past_due": False, "submission_count": 0},
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "reason": reason,
            "status": status,
        }
        if name_the_intent:  # API versions since 2019 name the PaymentIntent; older ones do not
            dispute["payment_intent"] = intent_id
        self.server.add_dispute(self.keys.secret_key, dispute)
        return dispute

    def move_dispute(self, dispute: dict[str, Any], status: str) -> dict[str, Any]:
        """The dispute moves on at Stripe (evidence under review, won, lost …)."""
        moved = {**dispute, "status": status}
        self.server.add_dispute(self.keys.secret_key, moved)
        return moved

    def events_for(self, intent_id: str) -> list[dict[str, Any]]:
        """The events localstripe generated for a PaymentIntent, oldest first."""
        everything = self.client.v1.events.list(params={"limit": 100}).auto_paging_iter()
        events = [e.to_dict() for e in everything]
        events = [e for e in events if e["data"]["object"].get("id") == intent_id]
        return sorted(events, key=lambda e: e["created"])


@pytest.fixture
def dashboard(local_stripe: LocalStripe, stripe_keys: StripeKeys) -> StripeDashboard:
    return StripeDashboard(local_stripe, stripe_keys)


# --------------------------------------------------------------------------- webhooks


def stripe_event(
    event_type: str, obj: dict[str, Any], *, created: int | None = None
) -> dict[str, Any]:
    """A Stripe event envelope around ``obj`` (a real object fetched from the server)."""
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


@dataclass
class WebhookSender:
    """Delivers events to our endpoint signed exactly as Stripe signs them."""

    client: FlaskClient
    secret: str
    sent: list[TestResponse] = field(default_factory=list)

    def deliver(
        self,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        header: str | None = None,
    ) -> TestResponse:
        payload = json.dumps(event)
        if header is None:
            header = stripe.WebhookSignature.generate_signature_header(
                payload, secret or self.secret, timestamp=timestamp
            )
        response = self.client.post(
            WEBHOOK_PATH,
            data=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        self.sent.append(response)
        return response


@pytest.fixture
def webhooks(stripe_app: Flask, stripe_keys: StripeKeys) -> WebhookSender:
    return WebhookSender(stripe_app.test_client(), stripe_keys.webhook_secret)


# --------------------------------------------------------------------------- SMTP


@dataclass
class Mailbox:
    """Messages the loopback SMTP server received, parsed."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        return [m for _rcpt, m in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.received if address in rcpt]

    def clear(self) -> None:
        self.received.clear()


class _CollectingHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mailbox.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox

    @property
    def config(self) -> dict[str, str]:
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port)}


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 only, on a free port."""
    mailbox = Mailbox()
    controller = Controller(_CollectingHandler(mailbox), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Iterator[Mailbox]:
    smtp_server.mailbox.clear()
    yield smtp_server.mailbox
    smtp_server.mailbox.clear()


# --------------------------------------------------------------------------- Redis / RQ


def _ping(url: str) -> Exception | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return exc
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real Redis: ``TEST_REDIS_URL`` (default the local 6379); when that is unreachable,
    a throwaway ``redis-server`` from the installed binary on a free loopback port, kept in
    memory only. Neither: skip loudly, or fail under CI=true."""
    problem = _ping(REDIS_URL)
    if problem is None:
        yield REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        message = (
            f"Redis at {REDIS_URL} is not reachable ({problem}) and redis-server is not "
            "installed; RQ tests cannot run"
        )
        if IN_CI:
            pytest.fail(message + " (CI=true: Redis is required)", pytrace=False)
        pytest.skip("!!! " + message)
    port = free_port()
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        # Its log says when it listens (or it exits, and the pipe ends): no polling.
        assert server.stdout is not None
        log = []
        for line in server.stdout:
            log.append(line)
            if "Ready to accept connections" in line:
                break
        if (problem := _ping(url)) is not None:
            pytest.fail(f"the throwaway redis-server did not start: {problem}: {''.join(log)}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


@pytest.fixture
def job_queue_name(redis_url: str) -> Iterator[str]:
    """A queue name of its own for this test; every key it left in Redis is deleted after."""
    import redis
    from rq import Queue

    name = f"vm-test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    yield name
    conn = redis.Redis.from_url(redis_url)
    try:
        queue = Queue(name, connection=conn)
        job_ids: set[str] = set(queue.job_ids)
        for registry in (
            queue.started_job_registry,
            queue.finished_job_registry,
            queue.failed_job_registry,
            queue.deferred_job_registry,
            queue.scheduled_job_registry,
            queue.canceled_job_registry,
        ):
            job_ids.update(registry.get_job_ids())
        queue.delete(delete_jobs=True)
        patterns = [f"*{name}*", *(f"*{job_id}*" for job_id in job_ids)]
        for pattern in patterns:
            for key in conn.scan_iter(match=pattern):
                conn.delete(key)
    finally:
        conn.close()


# --------------------------------------------------------------------------- listeners


class Heard:
    """What a payment listener registered for ``fee:`` references (the kind of the payments
    these tests start, see :func:`unique_reference`) was told, in order."""

    def __init__(self) -> None:
        self.changes: list[tuple[int, str, PaymentChange]] = []

    def __call__(self, session: Session, payment: Payment, change: PaymentChange) -> None:
        self.changes.append((payment.id, payment.status.value, change))

    def kinds(self, payment_id: int | None = None) -> list[str]:
        return [c.kind.value for pid, _s, c in self.changes if payment_id in (None, pid)]


@pytest.fixture
def heard() -> Iterator[Heard]:
    listener = Heard()
    on_payment_status("fee:", listener)
    yield listener
    remove_listener("fee:", listener)


# --------------------------------------------------------------------------- factories


@pytest.fixture
def finance(create_user: Callable[..., User]) -> User:
    return create_user(Role.FINANCE)


@pytest.fixture
def auditor(create_user: Callable[..., User]) -> User:
    return create_user(Role.AUDITOR)


@pytest.fixture
def create_payment(session: Session) -> Callable[..., Payment]:
    """A payment row as the services would leave it (no gateway call)."""

    def factory(**overrides: Any) -> Payment:
        values: dict[str, Any] = {
            "reference": f"test:{next(_serial)}-{uuid.uuid4().hex[:6]}",
            "description": "测试付款 Test payment",
            "amount_fen": 150_000,
            "currency": "CNY",
            "gateway": GatewayKind.OFFLINE,
            "status": PaymentStatus.PENDING,
            "refunded_fen": 0,
        }
        values.update(overrides)
        if values["status"] is PaymentStatus.SUCCEEDED and "succeeded_at" not in values:
            from marketplace.db import utcnow

            values["succeeded_at"] = utcnow()
        payment = Payment(**values)
        session.add(payment)
        session.flush()
        return payment

    return factory


def unique_reference(kind: str = "fee") -> str:
    return f"{kind}:{next(_serial)}{uuid.uuid4().hex[:8]}"
