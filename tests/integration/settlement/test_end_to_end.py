"""One order from confirmation to settled, through every settlement service and the
``flask settlement settle`` command, on both databases; the ledger verifies at the end."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from marketplace.orders.enums import OrderAction, OrderStatus
from marketplace.orders.models import OrderEvent
from marketplace.settlement import claims, payout_files
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    ClaimStatus,
    PayoutBatchStatus,
)
from marketplace.settlement.ledger_checks import verify_books
from tests.conftest import rows
from tests.support.settlement_fixtures import PAID_ON, set_bank_account
from vouchers import ledger
from vouchers.enums import AccountKind


def _settle(app, *args):
    result = app.test_cli_runner().invoke(args=["settlement", "settle", *args])
    return result.exit_code, result.output


def test_confirmed_order_to_settled(app, session, settlement_world):
    w = settlement_world
    order = w.order(price_fen=480_000)
    provider, programme_id = order.provider, order.voucher.programme_id
    payable = ledger.get_account(
        session, AccountKind.PROVIDER_PAYABLE, programme_id=programme_id, provider_id=provider.id
    )
    paid = ledger.get_account(
        session, AccountKind.PROVIDER_PAID, programme_id=programme_id, provider_id=provider.id
    )
    assert ledger.balance_of(session, payable) == 240_000  # captured at confirmation

    claim = w.claim(order)
    w.review(claim)
    w.finance_decide(claim)
    set_bank_account(provider)
    batch = w.sent_batch()
    file_rows = list(
        csv.DictReader(io.StringIO(payout_files.payment_file(batch).removeprefix("\ufeff")))
    )
    assert [(r["provider_name"], r["amount_yuan"]) for r in file_rows] == [
        (provider.name, "2400.00")
    ]
    w.confirm(batch, w.confirmation_csv(batch))
    assert batch.status is PayoutBatchStatus.COMPLETED
    assert (ledger.balance_of(session, payable), ledger.balance_of(session, paid)) == (0, 240_000)

    code, output = _settle(app, "--today", (PAID_ON - timedelta(days=1)).isoformat())
    assert code == 0 and "settled 0 order(s)" in output
    code, output = _settle(app, "--today", PAID_ON.isoformat())
    assert code == 0 and "settled 1 order(s) as of 2026-07-01" in output
    code, output = _settle(app, "--today", PAID_ON.isoformat())
    assert code == 0 and "settled 0 order(s)" in output

    session.expire_all()
    assert order.status is OrderStatus.SETTLED
    assert claim.status is ClaimStatus.PAID and claim.lines[0].status is ClaimLineStatus.PAID
    history = [e.action for e in rows(session, OrderEvent, OrderEvent.order_id == order.id)]
    assert history[-5:] == [
        OrderAction.CONFIRM,
        OrderAction.CLAIM,
        OrderAction.APPROVE_CLAIM,
        OrderAction.PAY_OUT,
        OrderAction.SETTLE,
    ]
    # Every step of the line, its submission included, is in the claim's history.
    line, A, L = claim.lines[0], ClaimAction, ClaimLineStatus
    assert [
        (e.line_id, e.action, e.from_status, e.to_status) for e in claims.history(session, claim.id)
    ] == [
        (line.id, A.SUBMIT, None, L.PENDING_REVIEW),
        (line.id, A.APPROVE, L.PENDING_REVIEW, L.REVIEWED),
        (line.id, A.FINANCE_APPROVE, L.REVIEWED, L.APPROVED),
        (line.id, A.BATCH, L.APPROVED, L.IN_PAYOUT),
        (line.id, A.PAY, L.IN_PAYOUT, L.PAID),
    ]
    report = verify_books(session)
    assert report.ok, [c.breaches for c in report.checks if not c.ok]
