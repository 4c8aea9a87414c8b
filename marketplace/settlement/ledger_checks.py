"""The whole books, payouts included: what ``flask ledger verify``, the ledger page and the API
run (:func:`verify_books`).

:mod:`vouchers.verify` checks, per programme and provider, that payable = captured voucher
parts (net of reversals) − paid out; it cannot see payouts, which live here (vouchers never
imports settlement). This module adds the check that per programme and provider
``provider_paid`` = the items of the payment lines the bank confirmed as paid, and that every
payment line's amount is the sum of its items. Together: payable = captured − reversals − the
confirmed payouts.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.settlement.enums import PayoutLineStatus
from marketplace.settlement.models import PayoutItem, PayoutLine
from vouchers.enums import AccountKind
from vouchers.ledger_models import LedgerAccount
from vouchers.verify import Check, ExtraCheck, Report, verify_ledger

NAME = "provider_paid"
DESCRIPTION = (
    "per programme and provider: paid out = the payment lines the bank confirmed as paid; "
    "each payment line = the sum of its items"
)


def provider_paid(session: Session, check: Check) -> None:
    """Compare the ledger's ``provider_paid`` balances with the confirmed payment lines."""
    ledger_paid = {
        (programme_id, provider_id): int(balance)
        for programme_id, provider_id, balance in session.execute(
            sa.select(
                LedgerAccount.programme_id, LedgerAccount.provider_id, LedgerAccount.balance_fen
            ).where(LedgerAccount.kind == AccountKind.PROVIDER_PAID)
        )
        if provider_id is not None
    }
    confirmed: dict[tuple[int, int], int] = defaultdict(int)
    for programme, provider, total in session.execute(
        sa.select(
            PayoutItem.programme_id, PayoutLine.provider_id, sa.func.sum(PayoutItem.amount_fen)
        )
        .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
        .where(PayoutLine.status == PayoutLineStatus.PAID)
        .group_by(PayoutItem.programme_id, PayoutLine.provider_id)
    ):
        confirmed[(programme, provider)] += int(total or 0)
    keys = sorted(set(ledger_paid) | set(confirmed))
    for programme_id, provider_id in keys:
        in_ledger = ledger_paid.get((programme_id, provider_id), 0)
        by_bank = confirmed.get((programme_id, provider_id), 0)
        if in_ledger != by_bank:
            check.breaches.append(
                f"programme {programme_id}, provider {provider_id}: paid out {in_ledger} in the "
                f"ledger, {by_bank} in payment lines the bank confirmed"
            )
    items = sa.func.coalesce(sa.func.sum(PayoutItem.amount_fen), 0)
    lines = session.execute(
        sa.select(PayoutLine.id, PayoutLine.status, PayoutLine.amount_fen, items)
        .outerjoin(PayoutItem, PayoutItem.payout_line_id == PayoutLine.id)
        .group_by(PayoutLine.id, PayoutLine.status, PayoutLine.amount_fen)
        .order_by(PayoutLine.id)
    ).all()
    for line_id, status, amount, total in lines:
        if amount != int(total):
            check.breaches.append(
                f"payment line {line_id} ({PayoutLineStatus(status).value}): amount {amount} ≠ "
                f"its items {int(total)}"
            )
    check.checked = len(keys) + len(lines)


PAYOUT_CHECKS = (ExtraCheck(NAME, DESCRIPTION, provider_paid),)


def verify_books(session: Session) -> Report:
    """Every ledger invariant, the payouts included; never raises for a breach."""
    return verify_ledger(session, PAYOUT_CHECKS)
