"""The double-entry ledger: every fen of voucher money, where it is and how it got there.

Accounts (all per programme, so each programme's books close on their own)
--------------------------------------------------------------------------
Two *source* accounts are debit-normal (balance = debits − credits = what flowed out of them);
all others are credit-normal *buckets* (balance = credits − debits = what they hold). Every
balance is ≥ 0 (CHECK constraint, and a conditional UPDATE refuses to overdraw).

Budget leg::

    programme_funding ──grant──▶ budget_available ──issue──▶ budget_committed ──capture──▶ budget_spent
                                        ▲                           │
                                        └──── expire / revoke / release after expiry ─┘

Voucher leg (the same money seen per voucher and per provider)::

    vouchers_issued ──issue──▶ voucher_balance ──hold──▶ voucher_held ──capture──▶ provider_payable ──payout──▶ provider_paid
           ▲                      │    ▲                  │
           └──── expire/revoke ───┘    └──── release ─────┘

Funder leg (a co-funded programme only, per funder: who pays which part, see
:mod:`vouchers.funders`)::

    funder_granted ──budget──▶ funder_available ──hold──▶ funder_held ──capture──▶ funder_spent
                                                                       ──payout──▶ funder_paid

(the payout step is posted by settlement, in the same transaction as the voucher leg's
``provider_payable → provider_paid``, when the funder's treasury's bank confirms its part), so that, per programme, ``committed = Σ voucher balance + held``, ``spent = Σ payable +
paid``, ``issued = committed + spent`` and ``funding = available + committed + spent =
total budget``. ``flask ledger verify`` checks all of it (see :mod:`vouchers.verify`).

Posting API (used by vouchers and, for payouts, by the settlement work)
----------------------------------------------------------------------
::

    from vouchers import ledger
    payable = ledger.get_account(session, AccountKind.PROVIDER_PAYABLE,
                                 programme_id=p, provider_id=r)
    paid = ledger.get_account(session, AccountKind.PROVIDER_PAID,
                              programme_id=p, provider_id=r)
    ledger.post(session, f"payout:{line.id}:p{p}", TransactionKind.PAYOUT,
                ledger.transfer(payable, paid, amount), programme_id=p, actor_id=user.id)

``post`` is idempotent: the same key with the same entries returns the first transaction and
changes nothing; the same key with different entries raises IdempotencyConflict. It raises
UnbalancedPosting when debits ≠ credits and InsufficientFunds (changing nothing) when an
account would go below zero. Balance updates run in ascending account-id order, so two
transactions never wait on each other's account rows in opposite orders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from vouchers.enums import AccountKind, Side, TransactionKind
from vouchers.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LedgerConflict,
    UnbalancedPosting,
)
from vouchers.ledger_models import LedgerAccount, LedgerEntry, LedgerTransaction

MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a posting: ``amount_fen`` debited or credited to ``account``."""

    account: LedgerAccount
    side: Side
    amount_fen: int


def transfer(source: LedgerAccount, destination: LedgerAccount, amount_fen: int) -> list[Entry]:
    """Move ``amount_fen`` from ``source`` to ``destination``: a debit and a credit."""
    return [
        Entry(source, Side.DEBIT, amount_fen),
        Entry(destination, Side.CREDIT, amount_fen),
    ]


def account_code(
    kind: AccountKind,
    programme_id: int,
    *,
    voucher_id: int | None = None,
    provider_id: int | None = None,
    funder_id: int | None = None,
) -> str:
    code = f"{kind.value}:p{programme_id}"
    if kind.per_voucher:
        if voucher_id is None:
            raise ValueError(f"{kind.value} accounts belong to a voucher")
        code += f":v{voucher_id}"
    if kind.per_provider:
        if provider_id is None:
            raise ValueError(f"{kind.value} accounts belong to a provider")
        code += f":r{provider_id}"
    if kind.per_funder:
        if funder_id is None:
            raise ValueError(f"{kind.value} accounts belong to a funder")
        code += f":f{funder_id}"
    return code


def insert_ignoring_conflict(
    session: Session, table: sa.Table, values: dict[str, object], keys: list[str]
) -> None:
    """INSERT … ON CONFLICT DO NOTHING on either backend: a race-free get-or-create."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt)


def get_account(
    session: Session,
    kind: AccountKind,
    *,
    programme_id: int,
    voucher_id: int | None = None,
    provider_id: int | None = None,
    funder_id: int | None = None,
) -> LedgerAccount:
    """The account of that kind for the programme (and voucher/provider/funder), created if
    missing."""
    code = account_code(
        kind, programme_id, voucher_id=voucher_id, provider_id=provider_id, funder_id=funder_id
    )
    account = session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
    if account is not None:
        return account
    insert_ignoring_conflict(
        session,
        LedgerAccount.__table__,  # type: ignore[arg-type]
        {
            "code": code,
            "kind": kind.value,
            "programme_id": programme_id,
            "voucher_id": voucher_id if kind.per_voucher else None,
            "provider_id": provider_id if kind.per_provider else None,
            "funder_id": funder_id if kind.per_funder else None,
            "balance_fen": 0,
            "created_at": utcnow(),
        },
        ["code"],
    )
    return session.scalars(sa.select(LedgerAccount).where(LedgerAccount.code == code)).one()


@dataclass(frozen=True, slots=True)
class ProgrammeAccounts:
    funding: LedgerAccount
    available: LedgerAccount
    committed: LedgerAccount
    spent: LedgerAccount
    issued: LedgerAccount


def programme_accounts(session: Session, programme_id: int) -> ProgrammeAccounts:
    """The programme's five accounts, created in a fixed order (so their ids ascend in it)."""
    kinds = (
        AccountKind.PROGRAMME_FUNDING,
        AccountKind.BUDGET_AVAILABLE,
        AccountKind.BUDGET_COMMITTED,
        AccountKind.BUDGET_SPENT,
        AccountKind.VOUCHERS_ISSUED,
    )
    funding, available, committed, spent, issued = (
        get_account(session, kind, programme_id=programme_id) for kind in kinds
    )
    return ProgrammeAccounts(funding, available, committed, spent, issued)


@dataclass(frozen=True, slots=True)
class VoucherAccounts:
    balance: LedgerAccount
    held: LedgerAccount


def voucher_accounts(session: Session, programme_id: int, voucher_id: int) -> VoucherAccounts:
    """The voucher's balance and held accounts: one read when both exist (the usual case,
    issuance opens them), created if missing otherwise."""
    codes = {
        kind: account_code(kind, programme_id, voucher_id=voucher_id)
        for kind in (AccountKind.VOUCHER_BALANCE, AccountKind.VOUCHER_HELD)
    }
    found = {
        a.kind: a
        for a in session.scalars(
            sa.select(LedgerAccount).where(LedgerAccount.code.in_(list(codes.values())))
        )
    }
    if len(found) == len(codes):
        return VoucherAccounts(found[AccountKind.VOUCHER_BALANCE], found[AccountKind.VOUCHER_HELD])
    return VoucherAccounts(
        get_account(
            session, AccountKind.VOUCHER_BALANCE, programme_id=programme_id, voucher_id=voucher_id
        ),
        get_account(
            session, AccountKind.VOUCHER_HELD, programme_id=programme_id, voucher_id=voucher_id
        ),
    )


def signed_delta(kind: AccountKind, side: Side, amount_fen: int) -> int:
    """How an entry changes the balance of an account of ``kind``."""
    increases = (side is Side.DEBIT) == kind.debit_normal
    return amount_fen if increases else -amount_fen


def _fingerprint(entries: Iterable[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
    return sorted(entries)


def _validate(idempotency_key: str, entries: Sequence[Entry]) -> None:
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key must be 1–{MAX_KEY_LENGTH} characters")
    if len(entries) < 2:
        raise UnbalancedPosting(
            "一笔记账至少包含借贷两条分录 / a posting needs at least two entries"
        )
    debits = credits = 0
    for entry in entries:
        amount = entry.amount_fen
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise UnbalancedPosting(
                f"分录金额必须为正整数（分） / entry amounts must be positive whole fen: {amount!r}"
            )
        if entry.account.id is None:
            raise ValueError("ledger accounts must be flushed before posting")
        if entry.side is Side.DEBIT:
            debits += amount
        else:
            credits += amount
    if debits != credits:
        raise UnbalancedPosting(
            f"借方合计 {debits} 不等于贷方合计 {credits} / debits {debits} ≠ credits {credits}"
        )


def _existing(
    session: Session, idempotency_key: str, entries: Sequence[Entry]
) -> LedgerTransaction | None:
    txn = session.scalar(
        sa.select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
    )
    if txn is None:
        return None
    stored = session.execute(
        sa.select(LedgerEntry.account_id, LedgerEntry.side, LedgerEntry.amount_fen).where(
            LedgerEntry.transaction_id == txn.id
        )
    ).all()
    wanted = _fingerprint((e.account.id, e.side.value, e.amount_fen) for e in entries)
    if _fingerprint((a, Side(s).value, n) for a, s, n in stored) != wanted:
        raise IdempotencyConflict(
            "该幂等键已用于另一笔不同的记账 / this idempotency key was used for a different posting",
            extra={"idempotency_key": idempotency_key},
        )
    return txn


@dataclass(frozen=True, slots=True)
class Posted:
    transaction: LedgerTransaction
    created: bool


def post(
    session: Session,
    idempotency_key: str,
    kind: TransactionKind,
    entries: Sequence[Entry],
    *,
    programme_id: int,
    voucher_id: int | None = None,
    hold_id: int | None = None,
    resolves_hold_id: int | None = None,
    actor_id: int | None = None,
    memo: str = "",
    now: datetime | None = None,
) -> Posted:
    """Post one balanced transaction under ``idempotency_key`` (see the module docstring).

    Raises UnbalancedPosting, InsufficientFunds, IdempotencyConflict, LedgerConflict (the
    hold is already resolved by another transaction). On any error nothing is written.
    """
    _validate(idempotency_key, entries)
    deltas: dict[int, int] = defaultdict(int)
    accounts: dict[int, LedgerAccount] = {}
    for entry in entries:
        deltas[entry.account.id] += signed_delta(entry.account.kind, entry.side, entry.amount_fen)
        accounts[entry.account.id] = entry.account

    # No read before and no savepoint around (the happy path is three statements plus one per
    # account). The balances move first, each by a guarded UPDATE that locks and checks in one
    # statement; then the INSERT claims the idempotency key (and ``resolves_hold_id``) through
    # their UNIQUE keys, or inserts nothing. On either refusal the balances already moved are
    # moved back (their rows stay locked by this transaction, so nobody saw them) before the
    # stored transaction is returned (a retry) or the error raised: nothing is written.
    applied: dict[int, int] = {}
    try:
        _apply_deltas(session, deltas, accounts, applied)
    except InsufficientFunds as error:
        _undo_deltas(session, applied, accounts)
        existing = _existing(session, idempotency_key, entries)
        if existing is not None:
            error.recovered()  # a retry of a posting made before: answered with it
            return Posted(existing, created=False)
        raise
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    txn = session.scalars(
        module.insert(LedgerTransaction)
        .values(
            idempotency_key=idempotency_key,
            kind=kind,
            programme_id=programme_id,
            voucher_id=voucher_id,
            hold_id=hold_id,
            resolves_hold_id=resolves_hold_id,
            actor_id=actor_id,
            memo=memo[:300],
            posted_at=now or utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(LedgerTransaction)
    ).one_or_none()
    if txn is None:
        _undo_deltas(session, applied, accounts)
        existing = _existing(session, idempotency_key, entries)
        if existing is not None:
            return Posted(existing, created=False)
        raise LedgerConflict(
            "记账与已有记录冲突（该冻结可能已被处理） / the posting conflicts with an existing one"
            " (the hold may already be resolved)"
        )
    # Every entry in one multi-row INSERT (the entries' ids are never needed here).
    session.execute(
        sa.insert(LedgerEntry.__table__),  # type: ignore[arg-type]
        [
            {
                "transaction_id": txn.id,
                "account_id": e.account.id,
                "side": e.side,
                "amount_fen": e.amount_fen,
            }
            for e in entries
        ],
    )
    return Posted(txn, created=True)


def _apply_deltas(
    session: Session,
    deltas: dict[int, int],
    accounts: dict[int, LedgerAccount],
    applied: dict[int, int],
) -> None:
    """Move each balance, in ascending account order; ``applied`` collects what moved."""
    table: sa.Table = LedgerAccount.__table__  # type: ignore[assignment]
    for account_id in sorted(deltas):
        delta = deltas[account_id]
        if delta == 0:
            continue
        stmt = (
            sa.update(table)
            .where(table.c.id == account_id)
            .values(balance_fen=table.c.balance_fen + delta)
        )
        if delta < 0:
            # Conditional UPDATE: the row lock and the check are one statement, so concurrent
            # debits can never both pass a stale balance check.
            stmt = stmt.where(table.c.balance_fen >= -delta)
        result = session.execute(stmt)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            account = accounts[account_id]
            raise InsufficientFunds(
                f"账户 {account.code} 余额不足 / account {account.code} cannot go below zero",
                extra={"account": account.code, "account_kind": account.kind.value},
            )
        applied[account_id] = delta
    for account in accounts.values():
        session.expire(account, ["balance_fen"])


def _undo_deltas(
    session: Session, applied: dict[int, int], accounts: dict[int, LedgerAccount]
) -> None:
    """Move back what :func:`_apply_deltas` moved (the refused posting's error path)."""
    table: sa.Table = LedgerAccount.__table__  # type: ignore[assignment]
    for account_id, delta in sorted(applied.items()):
        session.execute(
            sa.update(table)
            .where(table.c.id == account_id)
            .values(balance_fen=table.c.balance_fen - delta)
        )
    for account_id in applied:
        session.expire(accounts[account_id], ["balance_fen"])


def balance_of(session: Session, account: LedgerAccount) -> int:
    """The cached balance, fresh from the database."""
    value = session.scalar(
        sa.select(LedgerAccount.balance_fen).where(LedgerAccount.id == account.id)
    )
    return int(value or 0)


def recomputed_balances(session: Session) -> dict[int, int]:
    """Every account's balance recomputed from its entries (accounts without entries: 0)."""
    debit = sa.func.coalesce(
        sa.func.sum(sa.case((LedgerEntry.side == Side.DEBIT, LedgerEntry.amount_fen), else_=0)),
        0,
    )
    credit = sa.func.coalesce(
        sa.func.sum(sa.case((LedgerEntry.side == Side.CREDIT, LedgerEntry.amount_fen), else_=0)),
        0,
    )
    rows = session.execute(
        sa.select(LedgerAccount.id, LedgerAccount.kind, debit, credit)
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.id, LedgerAccount.kind)
    ).all()
    return {
        account_id: (int(d) - int(c)) if AccountKind(kind).debit_normal else (int(c) - int(d))
        for account_id, kind, d, c in rows
    }
