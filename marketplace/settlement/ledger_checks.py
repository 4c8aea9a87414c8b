"""The whole books, payouts included: what ``flask ledger verify``, the ledger page and the API
run (:func:`verify_books`).

:mod:`vouchers.verify` checks, per programme and provider, that payable = captured voucher
parts (net of reversals) − paid out; it cannot see payouts, which live here (vouchers never
imports settlement). This module adds the check that per programme and provider
``provider_paid`` = the items of the payment lines the bank confirmed as paid, and that every
payment line's amount is the sum of its items. Together: payable = captured − reversals − the
confirmed payouts. Per paying treasury: ``funder_paid`` = that funder's confirmed parts, and
every claim line is paid at most once per treasury and, once paid, to the fen.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.settlement import payouts
from marketplace.settlement.enums import ClaimLineStatus, PayoutLineStatus
from marketplace.settlement.models import ClaimLine, PayoutItem, PayoutLine
from vouchers.enums import AccountKind
from vouchers.ledger_models import LedgerAccount
from vouchers.models import Programme
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


FUNDER_PAID = "funder_paid"
FUNDER_PAID_DESCRIPTION = (
    "per co-funded programme and funder: paid out = its parts in the payment lines the bank "
    "confirmed as paid"
)


def funder_paid(session: Session, check: Check) -> None:
    """Compare the funder leg's ``funder_paid`` balances with the confirmed payout items of
    each funder's treasury (co-funded programmes: the others have no funder leg)."""
    in_ledger = {
        (int(programme_id), int(funder_id or 0)): int(balance)
        for programme_id, funder_id, balance in session.execute(
            sa.select(
                LedgerAccount.programme_id, LedgerAccount.funder_id, LedgerAccount.balance_fen
            ).where(LedgerAccount.kind == AccountKind.FUNDER_PAID)
        )
        if funder_id is not None
    }
    by_bank = payouts.item_totals(
        session,
        PayoutLineStatus.PAID,
        PayoutItem.funder_id.is_not(None),
        PayoutItem.programme_id.in_(sa.select(Programme.id).where(Programme.co_funded.is_(True))),
    )
    keys = sorted(set(in_ledger) | set(by_bank))
    check.checked = len(keys)
    for key in keys:
        if in_ledger.get(key, 0) != by_bank.get(key, 0):
            check.breaches.append(
                f"programme {key[0]}, funder {key[1]}: paid out {in_ledger.get(key, 0)} in the "
                f"ledger, {by_bank.get(key, 0)} in payment lines the bank confirmed"
            )


PARTS = "payout_parts"
PARTS_DESCRIPTION = (
    "per claim line: at most one pending or paid payment per paying treasury, their parts "
    "within the line's voucher part, and a paid line's paid parts equal to it, to the fen"
)


def payout_parts(session: Session, check: Check) -> None:
    """Each claim line is paid once per treasury and, once paid, exactly (its funders' parts
    add up to its voucher part)."""
    live: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    paid: dict[int, int] = defaultdict(int)
    for claim_line_id, funder_id, status, amount in session.execute(
        sa.select(
            PayoutItem.claim_line_id, PayoutItem.funder_id, PayoutLine.status, PayoutItem.amount_fen
        )
        .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
        .where(PayoutLine.status.in_((PayoutLineStatus.PENDING, PayoutLineStatus.PAID)))
    ):
        live[int(claim_line_id)][int(funder_id or 0)] += 1
        live[int(claim_line_id)][-1] += int(amount)
        if PayoutLineStatus(status) is PayoutLineStatus.PAID:
            paid[int(claim_line_id)] += int(amount)
    lines = session.execute(
        sa.select(ClaimLine.id, ClaimLine.status, ClaimLine.amount_fen).where(
            sa.or_(ClaimLine.id.in_(list(live) or [0]), ClaimLine.status == ClaimLineStatus.PAID)
        )
    ).all()
    check.checked = len(lines)
    for line_id, line_status, amount in lines:
        counts = live.get(line_id, {})
        total = counts.get(-1, 0)
        twice = sorted(payer for payer, n in counts.items() if payer >= 0 and n > 1)
        if twice:
            check.breaches.append(f"claim line {line_id}: paid twice by treasuries {twice}")
        if total > amount:
            check.breaches.append(f"claim line {line_id}: payments {total} > voucher part {amount}")
        if ClaimLineStatus(line_status) is ClaimLineStatus.PAID and paid.get(line_id, 0) != amount:
            check.breaches.append(
                f"claim line {line_id} (paid): paid parts {paid.get(line_id, 0)} ≠ voucher part "
                f"{amount}"
            )


PAYOUT_CHECKS = (
    ExtraCheck(NAME, DESCRIPTION, provider_paid),
    ExtraCheck(FUNDER_PAID, FUNDER_PAID_DESCRIPTION, funder_paid),
    ExtraCheck(PARTS, PARTS_DESCRIPTION, payout_parts),
)


def verify_books(session: Session) -> Report:
    """Every ledger invariant, the payouts included; never raises for a breach."""
    return verify_ledger(session, PAYOUT_CHECKS)
