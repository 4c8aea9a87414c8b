"""``flask ledger verify``: check every invariant of the voucher money, report every breach.

Read-only. Each check states what it covers and how many rows it looked at; a breach lists
the offending ids. The command exits non-zero when any check fails.

Packages built on top of vouchers pass their own checks in (vouchers never imports them):
:func:`marketplace.settlement.ledger_checks.verify_books` adds the payout side, and is what
``flask ledger verify``, the ledger page and the API run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import Session

from vouchers.enums import AccountKind, HoldStatus, Side
from vouchers.funder_models import FunderBudget, HoldFunderPart
from vouchers.ledger import recomputed_balances
from vouchers.ledger_models import LedgerAccount, LedgerEntry, LedgerTransaction
from vouchers.models import Hold, Programme, Quota, Voucher

MAX_LISTED = 20


@dataclass
class Check:
    name: str
    description: str
    checked: int = 0
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def breach_count(self) -> int:
        return sum(len(c.breaches) for c in self.checks)


#: A check's body: reads through the session, fills ``check.checked`` and ``check.breaches``.
CheckRun = Callable[[Session, Check], None]


@dataclass(frozen=True)
class ExtraCheck:
    """A check of a package built on the ledger, run after the ledger's own."""

    name: str
    description: str
    run: CheckRun


def _transactions_balance(session: Session, check: Check) -> None:
    debit = sa.func.sum(sa.case((LedgerEntry.side == Side.DEBIT, LedgerEntry.amount_fen), else_=0))
    credit = sa.func.sum(
        sa.case((LedgerEntry.side == Side.CREDIT, LedgerEntry.amount_fen), else_=0)
    )
    rows = session.execute(
        sa.select(LedgerTransaction.id, debit, credit, sa.func.count(LedgerEntry.id))
        .outerjoin(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.id)
    ).all()
    check.checked = len(rows)
    for txn_id, d, c, n in rows:
        if (d or 0) != (c or 0) or n < 2:
            check.breaches.append(
                f"transaction {txn_id}: debits {d or 0}, credits {c or 0}, {n} entries"
            )


def _totals_balance(session: Session, check: Check) -> None:
    totals = dict(
        session.execute(
            sa.select(
                LedgerEntry.side, sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0)
            ).group_by(LedgerEntry.side)
        ).all()
    )
    debits, credits = int(totals.get(Side.DEBIT, 0)), int(totals.get(Side.CREDIT, 0))
    check.checked = session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) or 0
    if debits != credits:
        check.breaches.append(f"all entries: debits {debits} ≠ credits {credits}")


def _cached_balances(session: Session, check: Check, negative: Check) -> None:
    recomputed = recomputed_balances(session)
    accounts = session.execute(
        sa.select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance_fen)
    ).all()
    check.checked = negative.checked = len(accounts)
    for account_id, code, cached in accounts:
        computed = recomputed.get(account_id, 0)
        if cached != computed:
            check.breaches.append(f"account {code}: cached {cached}, from entries {computed}")
        if cached < 0 or computed < 0:
            negative.breaches.append(f"account {code}: cached {cached}, from entries {computed}")


def _sums_by(session: Session) -> dict[tuple[int, AccountKind], int]:
    sums: dict[tuple[int, AccountKind], int] = defaultdict(int)
    for programme_id, kind, total in session.execute(
        sa.select(
            LedgerAccount.programme_id, LedgerAccount.kind, sa.func.sum(LedgerAccount.balance_fen)
        ).group_by(LedgerAccount.programme_id, LedgerAccount.kind)
    ):
        sums[(programme_id, AccountKind(kind))] = int(total or 0)
    return sums


def _programme_books(session: Session, budget: Check, legs: Check) -> None:
    sums = _sums_by(session)
    programmes = session.execute(sa.select(Programme.id, Programme.total_budget_fen)).all()
    budget.checked = legs.checked = len(programmes)
    for pid, total in programmes:
        s = {kind: sums.get((pid, kind), 0) for kind in AccountKind}
        funding = s[AccountKind.PROGRAMME_FUNDING]
        spent = s[AccountKind.BUDGET_SPENT]
        in_budget = s[AccountKind.BUDGET_AVAILABLE] + s[AccountKind.BUDGET_COMMITTED] + spent
        if funding != total or in_budget != total or spent > total:
            budget.breaches.append(
                f"programme {pid}: budget {total}, granted {funding}, available+committed+spent "
                f"{in_budget}, spent {spent}"
            )
        vouchers = s[AccountKind.VOUCHER_BALANCE] + s[AccountKind.VOUCHER_HELD]
        providers = s[AccountKind.PROVIDER_PAYABLE] + s[AccountKind.PROVIDER_PAID]
        if (
            s[AccountKind.BUDGET_COMMITTED] != vouchers
            or spent != providers
            or s[AccountKind.VOUCHERS_ISSUED] != vouchers + providers
        ):
            legs.breaches.append(
                f"programme {pid}: committed {s[AccountKind.BUDGET_COMMITTED]} vs vouchers "
                f"{vouchers}; spent {spent} vs providers {providers}; issued "
                f"{s[AccountKind.VOUCHERS_ISSUED]}"
            )


def _vouchers_match_ledger(session: Session, check: Check) -> None:
    balances = {
        (voucher_id, AccountKind(kind)): balance
        for voucher_id, kind, balance in session.execute(
            sa.select(
                LedgerAccount.voucher_id, LedgerAccount.kind, LedgerAccount.balance_fen
            ).where(LedgerAccount.voucher_id.is_not(None))
        )
    }
    open_holds = dict(
        session.execute(
            sa.select(Hold.voucher_id, sa.func.sum(Hold.amount_fen))
            .where(Hold.status == HoldStatus.OPEN)
            .group_by(Hold.voucher_id)
        ).all()
    )
    captured = dict(
        session.execute(
            sa.select(Hold.voucher_id, sa.func.sum(Hold.captured_fen)).group_by(Hold.voucher_id)
        ).all()
    )
    vouchers = session.execute(
        sa.select(
            Voucher.id,
            Voucher.serial,
            Voucher.face_value_fen,
            Voucher.balance_fen,
            Voucher.held_fen,
            Voucher.used_fen,
            Voucher.returned_fen,
        )
    ).all()
    check.checked = len(vouchers)
    for vid, serial, face, balance, held, used, returned in vouchers:
        ledger_balance = balances.get((vid, AccountKind.VOUCHER_BALANCE), 0)
        ledger_held = balances.get((vid, AccountKind.VOUCHER_HELD), 0)
        if (
            balance != ledger_balance
            or held != ledger_held
            or held != int(open_holds.get(vid) or 0)
            or used != int(captured.get(vid) or 0)
            or balance + held + used + returned != face
        ):
            check.breaches.append(
                f"voucher {serial}: balance {balance}/ledger {ledger_balance}, held {held}/ledger "
                f"{ledger_held}/open holds {int(open_holds.get(vid) or 0)}, used {used}/captured "
                f"{int(captured.get(vid) or 0)}, face {face}"
            )


def _caps(session: Session, check: Check) -> None:
    held = dict(
        session.execute(
            sa.select(Hold.quota_id, sa.func.sum(Hold.amount_fen))
            .where(Hold.status == HoldStatus.OPEN)
            .group_by(Hold.quota_id)
        ).all()
    )
    used = dict(
        session.execute(
            sa.select(Hold.quota_id, sa.func.sum(Hold.captured_fen)).group_by(Hold.quota_id)
        ).all()
    )
    quotas = session.execute(
        sa.select(
            Quota.id,
            Quota.enterprise_id,
            Quota.year,
            Quota.scope,
            Quota.cap_fen,
            Quota.used_fen,
            Quota.held_fen,
        )
    ).all()
    check.checked = len(quotas)
    for qid, enterprise_id, year, scope, cap, q_used, q_held in quotas:
        real_used, real_held = int(used.get(qid) or 0), int(held.get(qid) or 0)
        if q_used != real_used or q_held != real_held or real_used + real_held > cap:
            check.breaches.append(
                f"enterprise {enterprise_id}, {year}, {scope}: cap {cap}, used {q_used} (holds say "
                f"{real_used}), held {q_held} (holds say {real_held})"
            )


def _holds_resolved_once(session: Session, check: Check) -> None:
    resolutions = dict(
        session.execute(
            sa.select(LedgerTransaction.hold_id, sa.func.count())
            .where(LedgerTransaction.resolves_hold_id.is_not(None))
            .group_by(LedgerTransaction.hold_id)
        ).all()
    )
    mismatched = session.scalars(
        sa.select(LedgerTransaction.id).where(
            LedgerTransaction.resolves_hold_id.is_not(None),
            LedgerTransaction.resolves_hold_id != LedgerTransaction.hold_id,
        )
    ).all()
    holds = session.execute(
        sa.select(Hold.id, Hold.status, Hold.amount_fen, Hold.captured_fen, Hold.released_fen)
    ).all()
    check.checked = len(holds)
    for txn_id in mismatched:
        check.breaches.append(f"transaction {txn_id} resolves a hold other than its own")
    for hid, status, amount, captured, released in holds:
        count = int(resolutions.get(hid) or 0)
        expected = 0 if HoldStatus(status) is HoldStatus.OPEN else 1
        if count != expected or (expected and captured + released != amount):
            check.breaches.append(
                f"hold {hid} ({HoldStatus(status).value}): resolved {count} times, captured "
                f"{captured} + released {released} of {amount}"
            )


def _provider_payable(session: Session, check: Check) -> None:
    """Per (programme, provider): payable = what was captured for the provider (net of
    reversals: a hold's ``captured_fen`` goes down with each) − what was paid out."""
    balances: dict[tuple[int, int], dict[AccountKind, int]] = defaultdict(dict)
    for programme_id, provider_id, kind, balance in session.execute(
        sa.select(
            LedgerAccount.programme_id,
            LedgerAccount.provider_id,
            LedgerAccount.kind,
            LedgerAccount.balance_fen,
        ).where(LedgerAccount.provider_id.is_not(None))
    ):
        if provider_id is not None:
            balances[(programme_id, provider_id)][AccountKind(kind)] = int(balance)
    captured = {
        (programme_id, provider_id): int(total or 0)
        for programme_id, provider_id, total in session.execute(
            sa.select(Voucher.programme_id, Hold.provider_id, sa.func.sum(Hold.captured_fen))
            .join(Voucher, Voucher.id == Hold.voucher_id)
            .where(Hold.provider_id.is_not(None))
            .group_by(Voucher.programme_id, Hold.provider_id)
        )
        if provider_id is not None
    }
    keys = sorted(set(balances) | set(captured))
    check.checked = len(keys)
    for programme_id, provider_id in keys:
        accounts = balances.get((programme_id, provider_id), {})
        payable = accounts.get(AccountKind.PROVIDER_PAYABLE, 0)
        paid = accounts.get(AccountKind.PROVIDER_PAID, 0)
        net = captured.get((programme_id, provider_id), 0)
        if payable != net - paid:
            check.breaches.append(
                f"programme {programme_id}, provider {provider_id}: payable {payable} ≠ captured "
                f"{net} (net of reversals) − paid out {paid}"
            )


def _funder_parts(session: Session, check: Check) -> None:
    """Per hold of a co-funded programme: the funders' parts add up to the voucher part, and
    their captured and released parts to the hold's, to the fen."""
    sums = {
        int(hold_id): (int(held), int(captured), int(released))
        for hold_id, held, captured, released in session.execute(
            sa.select(
                HoldFunderPart.hold_id,
                sa.func.sum(HoldFunderPart.held_fen),
                sa.func.sum(HoldFunderPart.captured_fen),
                sa.func.sum(HoldFunderPart.released_fen),
            ).group_by(HoldFunderPart.hold_id)
        )
    }
    rows = session.execute(
        sa.select(
            Hold.id,
            Hold.order_ref,
            Hold.amount_fen,
            Hold.captured_fen,
            Hold.released_fen,
            Programme.co_funded,
        )
        .join(Voucher, Voucher.id == Hold.voucher_id)
        .join(Programme, Programme.id == Voucher.programme_id)
        .where(sa.or_(Programme.co_funded.is_(True), Hold.id.in_(list(sums) or [0])))
        .order_by(Hold.id)
    ).all()
    check.checked = len(rows)
    for hold_id, order_ref, amount, captured, released, _co_funded in rows:
        parts = sums.get(hold_id)
        if parts is None:
            check.breaches.append(f"{order_ref} (hold {hold_id}): no funders' parts recorded")
        elif parts != (amount, captured, released):
            check.breaches.append(
                f"{order_ref} (hold {hold_id}): funders' parts {parts[0]} ≠ voucher part "
                f"{amount} (captured {parts[1]} vs {captured}, released {parts[2]} vs {released})"
            )


def _funder_budgets(session: Session, check: Check) -> None:
    """Per programme and funder: granted = the budget set; held = its parts of open holds;
    spent + paid out = its captured parts; available = granted − held − spent − paid out.
    (That paid out = what its treasury's confirmed payments paid is settlement's check.)"""
    balances: dict[tuple[int, int], dict[AccountKind, int]] = defaultdict(dict)
    for programme_id, funder_id, kind, balance in session.execute(
        sa.select(
            LedgerAccount.programme_id,
            LedgerAccount.funder_id,
            LedgerAccount.kind,
            LedgerAccount.balance_fen,
        ).where(LedgerAccount.funder_id.is_not(None))
    ):
        balances[(int(programme_id), int(funder_id or 0))][AccountKind(kind)] = int(balance)
    expected: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for programme_id, funder_id, budget in session.execute(
        sa.select(FunderBudget.programme_id, FunderBudget.funder_id, FunderBudget.budget_fen)
    ):
        expected[(int(programme_id), int(funder_id))][0] = int(budget)
    for programme_id, funder_id, open_fen, captured in session.execute(
        sa.select(
            Voucher.programme_id,
            HoldFunderPart.funder_id,
            sa.func.sum(
                HoldFunderPart.held_fen - HoldFunderPart.captured_fen - HoldFunderPart.released_fen
            ),
            sa.func.sum(HoldFunderPart.captured_fen),
        )
        .join(Hold, Hold.id == HoldFunderPart.hold_id)
        .join(Voucher, Voucher.id == Hold.voucher_id)
        .group_by(Voucher.programme_id, HoldFunderPart.funder_id)
    ):
        expected[(int(programme_id), int(funder_id))][1:] = [int(open_fen), int(captured)]
    keys = sorted(set(balances) | set(expected))
    check.checked = len(keys)
    for key in keys:
        got = balances.get(key, {})
        granted, held, spent = expected.get(key, [0, 0, 0])
        actual = (
            got.get(AccountKind.FUNDER_GRANTED, 0),
            got.get(AccountKind.FUNDER_HELD, 0),
            got.get(AccountKind.FUNDER_SPENT, 0) + got.get(AccountKind.FUNDER_PAID, 0),
            got.get(AccountKind.FUNDER_AVAILABLE, 0),
        )
        if actual != (granted, held, spent, granted - held - spent):
            check.breaches.append(
                f"programme {key[0]}, funder {key[1]}: granted/held/spent+paid/available {actual} ≠ "
                f"budget {granted}, parts held {held}, captured {spent}, left "
                f"{granted - held - spent}"
            )


def verify_ledger(session: Session, extra_checks: Sequence[ExtraCheck] = ()) -> Report:
    """Run every check of the voucher money, then ``extra_checks`` in order; never raises for a
    breach (it is reported)."""
    report = Report()

    def add(name: str, description: str) -> Check:
        check = Check(name, description)
        report.checks.append(check)
        return check

    steps: list[Callable[[], None]] = []
    balanced = add("transactions_balanced", "every transaction: debits = credits, ≥ 2 entries")
    totals = add("ledger_balanced", "all entries together: debits = credits")
    cached = add("cached_balances", "every cached account balance = recomputed from its entries")
    negative = add("no_negative_balance", "no account balance below zero")
    budget = add(
        "spent_within_budget",
        "per programme: granted = available + committed + spent = budget; spent ≤ budget",
    )
    legs = add(
        "legs_agree",
        "per programme: committed = voucher balances + holds; spent = payable + paid out",
    )
    vouchers = add("vouchers_match_ledger", "each voucher's balance and holds match the ledger")
    caps = add("caps_respected", "per enterprise and year: used + held ≤ cap, matching the holds")
    holds = add("holds_resolved_once", "each hold resolved at most once (open: never)")
    payable = add(
        "provider_payable",
        "per programme and provider: payable = captured voucher parts (net of reversals) − "
        "paid out",
    )
    parts = add(
        "funder_parts",
        "per order of a co-funded programme: the funders' parts add up to the voucher part "
        "(held, captured and released), to the fen",
    )
    funder_books = add(
        "funder_budgets",
        "per programme and funder: granted = budget; held, spent + paid out = its parts; "
        "available = granted − held − spent − paid out",
    )
    steps = [
        lambda: _transactions_balance(session, balanced),
        lambda: _totals_balance(session, totals),
        lambda: _cached_balances(session, cached, negative),
        lambda: _programme_books(session, budget, legs),
        lambda: _vouchers_match_ledger(session, vouchers),
        lambda: _caps(session, caps),
        lambda: _holds_resolved_once(session, holds),
        lambda: _provider_payable(session, payable),
        lambda: _funder_parts(session, parts),
        lambda: _funder_budgets(session, funder_books),
    ]
    for extra in extra_checks:
        steps.append(partial(extra.run, session, add(extra.name, extra.description)))
    for step in steps:
        step()
    for check in report.checks:
        if len(check.breaches) > MAX_LISTED:
            more = len(check.breaches) - MAX_LISTED
            check.breaches = [*check.breaches[:MAX_LISTED], f"… and {more} more"]
    return report
