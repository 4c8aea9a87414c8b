"""A process that starts a payment through the real unit of work and is killed mid-way.

Run as ``python -m tests.support.crash_payment <when> <reference> <amount_fen>`` with the
application's environment (DATABASE_URL, PAYMENT_GATEWAY=stripe, STRIPE_…). It calls
``start_payment`` and commits with :func:`marketplace.db.commit`; the commit runs the queued
after-commit job (inline: no REDIS_URL), which calls Stripe. The process then dies by
SIGKILL — no cleanup, no further commit — at the chosen moment:

* ``before-stripe``: after our row is committed, before the PaymentIntent is created;
* ``after-stripe``:  after Stripe created the PaymentIntent, before we stored its id.

The kill is injected by wrapping ``StripeGateway.create_intent`` in this process only; the
Stripe call itself is the real SDK talking to the real (local) server.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from marketplace import create_app
from marketplace.db import commit, db_session
from marketplace.payments import services
from marketplace.payments.stripe_gateway import StripeGateway


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main(when: str, reference: str, amount_fen: int) -> None:
    original = StripeGateway.create_intent

    def create_intent(self: StripeGateway, **kwargs: Any) -> Any:
        if when == "before-stripe":
            _die()
        result = original(self, **kwargs)
        if when == "after-stripe":
            print(f"created {result.external_id}", flush=True)
            _die()
        return result

    StripeGateway.create_intent = create_intent  # type: ignore[method-assign]
    app = create_app()
    with app.app_context():
        session = db_session()
        payment = services.start_payment(session, reference, amount_fen, description="crash test")
        print(f"payment {payment.id}", flush=True)
        commit(session)
    raise SystemExit("the process should have been killed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
