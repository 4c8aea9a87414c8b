"""A crash between our write and the Stripe call converges to exactly one PaymentIntent.

Real processes, real commits on a fresh database, the real SDK against localstripe: the
process that starts the payment is SIGKILLed before or right after the Stripe call, then the
sweeper (``flask payments sync``) runs — twice — and we count PaymentIntents at the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from marketplace import create_app
from marketplace.db import unit_of_work
from marketplace.payments import services
from marketplace.payments.enums import PaymentStatus
from marketplace.payments.models import Payment
from tests.conftest import app_config
from tests.support.payment_fixtures import stripe_config, unique_reference

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fresh_stripe_app(database, local_stripe, stripe_keys, tmp_path):
    """An app on a fresh database with real commits (no shared test transaction)."""
    url = database.fresh("payments_crash")
    config = app_config(url, tmp_path, **stripe_config(local_stripe, stripe_keys))
    app = create_app(config)
    yield app, config
    app.extensions["db"].engine.dispose()


def _crash(config: dict, when: str, reference: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SMTP_HOST"}}
    env.update({k: str(v) for k, v in config.items() if k.isupper()})
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.crash_payment", when, reference, "25000"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    payment_id = int(proc.stdout.split("payment ", 1)[1].split()[0])
    return payment_id, proc.stdout


def _load(app, payment_id: int) -> Payment:
    with app.app_context(), unit_of_work() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        session.expunge(payment)
        return payment


def _create_keys(local_stripe, dashboard) -> list[str | None]:
    return [
        r.idempotency_key
        for r in local_stripe.posts("/v1/payment_intents")
        if r.api_key == dashboard.keys.secret_key and r.path == "/v1/payment_intents"
    ]


@pytest.mark.parametrize("when", ["before-stripe", "after-stripe"])
def test_rerun_after_a_crash_yields_exactly_one_intent(
    fresh_stripe_app, local_stripe, dashboard, when
):
    app, config = fresh_stripe_app
    reference = unique_reference()

    payment_id, out = _crash(config, when, reference)

    crashed = _load(app, payment_id)
    assert (crashed.status, crashed.external_id) == (PaymentStatus.PENDING, None)
    assert len(dashboard.intents_for(reference)) == (1 if when == "after-stripe" else 0)

    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["payments", "sync", "--older-than", "0"])
        assert result.exit_code == 0, result.output
        assert "1 payment(s) queued" in result.output or "0 payment(s) queued" in result.output

    [intent] = dashboard.intents_for(reference)
    assert _load(app, payment_id).external_id == intent["id"]
    if when == "after-stripe":
        assert f"created {intent['id']}" in out
    # Every create call for this payment carried the key derived from our row.
    assert set(_create_keys(local_stripe, dashboard)) == {f"payment-{payment_id}-create"}


def test_after_stripe_forgot_the_key_the_intent_is_found_not_duplicated(
    fresh_stripe_app, local_stripe, dashboard
):
    app, config = fresh_stripe_app
    reference = unique_reference()
    payment_id, _ = _crash(config, "after-stripe", reference)
    local_stripe.forget_idempotency_keys(dashboard.keys.secret_key)  # 24 hours later
    created_at = _load(app, payment_id).created_at

    with app.app_context(), unit_of_work() as session:
        services.sync_from_gateway(session, payment_id, now=created_at + timedelta(hours=25))

    [intent] = dashboard.intents_for(reference)
    assert _load(app, payment_id).external_id == intent["id"]
    assert _create_keys(local_stripe, dashboard) == [f"payment-{payment_id}-create"]


def test_late_open_without_any_earlier_intent_uses_a_dated_key(
    fresh_stripe_app, local_stripe, dashboard
):
    app, _config = fresh_stripe_app
    reference = unique_reference()
    with app.app_context(), unit_of_work() as session:
        payment = services.start_payment(session, reference, 700, description="late")
        payment_id, created_at = payment.id, payment.created_at
        session.info.clear()  # drop the queued open job: as if Redis lost it
    late = created_at + timedelta(days=2)
    for _ in range(2):
        with app.app_context(), unit_of_work() as session:
            services.open_at_gateway(session, payment_id, now=late)
    assert len(dashboard.intents_for(reference)) == 1
    assert _create_keys(local_stripe, dashboard) == [f"payment-{payment_id}-create-{late:%Y%m%d}"]


def test_concurrent_openers_make_one_intent(fresh_stripe_app, dashboard):
    app, _config = fresh_stripe_app
    reference = unique_reference()
    with app.app_context(), unit_of_work() as session:
        payment_id = services.start_payment(session, reference, 4_200, description="race").id
        session.info.clear()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            barrier.wait(10)
            with app.app_context(), unit_of_work() as session:
                services.open_at_gateway(session, payment_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    [intent] = dashboard.intents_for(reference)
    assert _load(app, payment_id).external_id == intent["id"]
