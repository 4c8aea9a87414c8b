"""Funders (treasuries), their shares of a programme's voucher part and their budgets; the
funder leg of holds, captures, releases and reversals.

The rule ("use anywhere, pay at home")
--------------------------------------
A programme's shares (basis points, summing to 10,000) name either a funder or *the SME's home
prefecture / county*. When a hold is placed on a co-funded programme each share is resolved
— a home share to the funder whose division is the enterprise's prefecture (its credit code's
``53xx00``) or county — and the voucher part is split by :func:`vouchers.rules.split_fen`
(largest remainder, ties to the first share in position order). Two shares resolving to one
funder are one part. The parts are recorded per hold (``hold_funder_parts``), so a later
capture, release or reversal follows that split whatever the shares say by then; a partial
capture splits the captured amount by the held parts (so no funder gives more than it held).

The funder leg of the ledger (per programme and funder)::

    funder_granted ──budget──▶ funder_available ──hold──▶ funder_held ──capture──▶ funder_spent
                                      ▲                        │                      │   │
                                      └──── release ───────────┘◀──── reversal ───────┘   │
                                                           funder_paid ◀──payout───────────┘

The payout step is settlement's: when the bank confirms a payment of a funder's treasury's
payout batch, that funder's part moves ``funder_spent → funder_paid`` (:func:`payout_entries`)
in the same posting as the voucher leg's ``provider_payable → provider_paid``; a part already
paid out can no longer be reversed (the ledger refuses to take ``funder_spent`` below zero),
as the voucher leg refuses once the provider was paid.

Its entries go into the same posting as the voucher leg's (``hold.place:…``,
``hold.capture:…``), so they are atomic and idempotent with it. Every funder's budget is
checked when the hold is placed and again by the ledger's conditional UPDATE, which refuses
to take ``funder_available`` below zero even when two holds race (FunderBudgetExceeded).

A programme with one share naming one funder (or none: the programmes before funders
existed) is not co-funded: its own budget is that funder's, and the hold path stays as it was.
Shares can change until the programme issues its first voucher; budgets can change at any
time (not below what the funder's holds and captures already use).

Functions take the session first, flush and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace import regions
from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import NotFound, PreconditionFailed, ValidationFailed
from vouchers import ledger, rules
from vouchers.common import fetch, refuse_nul
from vouchers.enums import AccountKind, FunderLevel, FundingBody, HoldStatus, TransactionKind
from vouchers.errors import (
    DuplicateFunder,
    FunderBudgetExceeded,
    InsufficientFunds,
    NoHomeFunder,
    SharesInvalid,
    SharesLocked,
)
from vouchers.funder_models import Funder, FunderBudget, HoldFunderPart, ProgrammeShare
from vouchers.ledger import Entry
from vouchers.ledger_models import LedgerAccount
from vouchers.models import Enterprise, Hold, Programme, Voucher

MAX_SHARES = 10
#: How the fen left over by rounding are assigned (vouchers.rules.split_fen), as the API says it.
REMAINDER_RULE = "largest_remainder_ties_to_first_share"


# --------------------------------------------------------------------------- funders


@dataclass(frozen=True, slots=True)
class FunderInput:
    name: str
    region_code: str
    bank_account_name: str = ""
    bank_name: str = ""
    bank_account_number: str = ""


def level_of(code: str) -> FunderLevel:
    """The tier of a six-digit division code: 530000 province, 530100 prefecture, else county."""
    six = regions.normalise(code)
    if six[2:] == "0000":
        return FunderLevel.PROVINCE
    if six[4:] == "00":
        return FunderLevel.PREFECTURE
    return FunderLevel.COUNTY


def home_code(enterprise_region: str, level: FunderLevel) -> str:
    """The division that is the enterprise's home at ``level`` (its prefecture or county)."""
    six = regions.normalise(enterprise_region)
    return six[:4] + "00" if level is FunderLevel.PREFECTURE else six


def _normalised_funder(data: FunderInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = (data.name or "").strip()
    refuse_nul(name, "name")
    if not 2 <= len(name) <= 200:
        errors["name"] = ["2–200 characters / 2至200个字符"]
    code = (data.region_code or "").strip()
    six = ""
    try:
        six = regions.normalise(code)
    except ValueError:
        errors["region_code"] = ["a GB/T 2260 division code / 须为行政区划代码"]
    else:
        if not regions.is_known(six):
            errors["region_code"] = ["no such division / 没有该行政区划"]
    account_name = (data.bank_account_name or "").strip()
    bank = (data.bank_name or "").strip()
    number = "".join((data.bank_account_number or "").split())
    for field, value in (("bank_account_name", account_name), ("bank_name", bank)):
        refuse_nul(value, field)
        if len(value) > 200:
            errors[field] = ["at most 200 characters / 至多200个字符"]
    if number and not (number.isascii() and number.isdigit() and 8 <= len(number) <= 32):
        errors["bank_account_number"] = ["8–32 digits / 须为8至32位数字"]
    if bool(number) != bool(account_name) or bool(number) != bool(bank):
        errors.setdefault("bank_account_number", []).append(
            "account name, bank and number go together / 户名、开户行和账号须同时填写"
        )
    if errors:
        raise ValidationFailed("出资方信息有误 / the funder's details are not valid", errors)
    return {
        "name": name,
        "region_code": six,
        "level": level_of(six),
        "bank_account_name": account_name or None,
        "bank_name": bank or None,
        "bank_account_number": number or None,
    }


def list_funders(session: Session) -> list[Funder]:
    return list(session.scalars(sa.select(Funder).order_by(Funder.region_code)))


def get_funder(session: Session, funder_id: int) -> Funder:
    funder = fetch(session, Funder, funder_id)
    if funder is None:
        raise NotFound("没有该出资方 / no such funder")
    return funder


def create_funder(session: Session, data: FunderInput, *, actor_id: int | None) -> Funder:
    """Register a treasury. Raises ValidationFailed, DuplicateFunder (one per division)."""
    values = _normalised_funder(data)
    try:
        with session.begin_nested():
            funder = Funder(**values, version=1)
            session.add(funder)
            session.flush()
    except IntegrityError:
        raise DuplicateFunder(
            f"行政区划 {values['region_code']} 已有出资方 / division {values['region_code']} "
            "already has a funder",
            field="region_code",
        ) from None
    record(
        session,
        "funder.created",
        actor_id=actor_id,
        subject_type="funder",
        subject_id=funder.id,
        region_code=funder.region_code,
        level=funder.level.value,
    )
    return funder


def update_funder(
    session: Session,
    funder_id: int,
    data: FunderInput,
    *,
    expected_version: int,
    actor_id: int | None,
) -> Funder:
    """Edit a funder's name and bank details; its division is its identity and stays.

    Raises NotFound, PreconditionFailed (stale version), ValidationFailed."""
    funder = fetch(session, Funder, funder_id, lock=True)
    if funder is None:
        raise NotFound("没有该出资方 / no such funder")
    if funder.version != expected_version:
        raise PreconditionFailed(
            "出资方已被他人修改，请刷新后重试 / the funder changed since you loaded it; reload"
        )
    values = _normalised_funder(data)
    if values["region_code"] != funder.region_code:
        raise ValidationFailed(
            "出资方的行政区划不能修改 / a funder's division cannot change",
            {"region_code": ["register a new funder instead / 请另行登记出资方"]},
        )
    changed = [k for k, v in values.items() if getattr(funder, k) != v]
    funder.name = values["name"]
    funder.bank_account_name = values["bank_account_name"]
    funder.bank_name = values["bank_name"]
    funder.bank_account_number = values["bank_account_number"]
    funder.version += 1
    session.flush()
    record(
        session,
        "funder.updated",
        actor_id=actor_id,
        subject_type="funder",
        subject_id=funder.id,
        fields=changed,
    )
    return funder


# --------------------------------------------------------------------------- shares


@dataclass(frozen=True, slots=True)
class ShareInput:
    share_bps: int
    funder_id: int | None = None
    home_level: FunderLevel | None = None


@dataclass(frozen=True, slots=True)
class ProgrammeFunders:
    """What a programme's funders page and API show: its shares and each funder's budget."""

    programme_id: int
    co_funded: bool
    version: int
    shares: list[ProgrammeShare]
    funders: list[FunderStanding]
    remainder_rule: str = REMAINDER_RULE


def programme_funders(session: Session, programme: Programme) -> ProgrammeFunders:
    return ProgrammeFunders(
        programme.id,
        programme.co_funded,
        programme.version,
        shares_of(session, programme.id),
        standings(session, programme.id),
    )


def shares_of(session: Session, programme_id: int) -> list[ProgrammeShare]:
    return list(
        session.scalars(
            sa.select(ProgrammeShare)
            .where(ProgrammeShare.programme_id == programme_id)
            .order_by(ProgrammeShare.position)
        )
    )


def is_co_funded(shares: Sequence[ShareInput | ProgrammeShare]) -> bool:
    """More than one share, or a share paid by the SME's home region."""
    return len(shares) > 1 or any(s.home_level is not None for s in shares)


def _lock_programme(session: Session, programme_id: int) -> Programme:
    programme = fetch(session, Programme, programme_id, lock=True)
    if programme is None:
        raise NotFound("没有该券种 / no such programme")
    return programme


def has_vouchers(session: Session, programme_id: int) -> bool:
    """Shares are fixed once the programme has issued: a hold reads the programme's
    ``co_funded`` with its voucher and no lock on the programme (the lean hold path), so the
    shares must not change while holds can be placed."""
    return (
        session.scalar(sa.select(Voucher.id).where(Voucher.programme_id == programme_id).limit(1))
        is not None
    )


def set_shares(
    session: Session,
    programme_id: int,
    shares: Sequence[ShareInput],
    *,
    expected_version: int,
    actor_id: int | None,
) -> list[ProgrammeShare]:
    """Replace the programme's shares (in the order given: that order breaks remainder ties).

    Each share is 0.01 %–100 %, together exactly 100 %; a share names a funder or the SME's
    home prefecture or county, a funder at most once and a home level at most once. Every
    named funder of a co-funded programme gets a budget row (0 until set). Bumps the
    programme's version. Raises NotFound, PreconditionFailed, SharesInvalid, SharesLocked
    (the programme has issued vouchers: see :func:`has_vouchers`).
    """
    programme = _lock_programme(session, programme_id)
    if programme.version != expected_version:
        raise PreconditionFailed(
            "券种已被他人修改，请刷新后重试 / the programme changed since you loaded it; reload"
        )
    problems: list[str] = []
    if not 1 <= len(shares) <= MAX_SHARES:
        problems.append(f"1–{MAX_SHARES} shares / 须有1至{MAX_SHARES}个出资份额")
    funder_ids = [s.funder_id for s in shares if s.funder_id is not None]
    levels = [s.home_level for s in shares if s.home_level is not None]
    if len(set(funder_ids)) != len(funder_ids) or len(set(levels)) != len(levels):
        problems.append("a funder or home level appears twice / 出资方或属地层级重复")
    for share in shares:
        if (share.funder_id is None) == (share.home_level is None):
            problems.append(
                "each share names a funder or a home level / 每个份额须指定出资方或属地"
            )
        if share.home_level is FunderLevel.PROVINCE:
            problems.append("home shares are prefecture or county / 属地份额须为州市或县区")
        if isinstance(share.share_bps, bool) or not 1 <= share.share_bps <= rules.BPS:
            problems.append("each share is 0.01%–100% / 每个份额须在0.01%至100%之间")
    if sum(s.share_bps for s in shares) != rules.BPS:
        problems.append("the shares add up to 100% / 份额合计须为100%")
    funders = {f.id: f for f in session.scalars(sa.select(Funder).where(Funder.id.in_(funder_ids)))}
    if set(funder_ids) - set(funders):
        problems.append("no such funder / 没有该出资方")
    if problems:
        raise SharesInvalid(
            "出资份额有误：" + "；".join(dict.fromkeys(problems)) + " / the shares are not valid",
            extra={"problems": list(dict.fromkeys(problems))},
        )
    before = [
        (s.position, s.share_bps, s.funder_id, s.home_level)
        for s in shares_of(session, programme.id)
    ]
    after = [(i, s.share_bps, s.funder_id, s.home_level) for i, s in enumerate(shares, start=1)]
    if before != after and has_vouchers(session, programme.id):
        raise SharesLocked(
            "该券种已发券，出资份额不能再修改 / vouchers were issued under these shares, which "
            "can no longer change"
        )
    session.execute(sa.delete(ProgrammeShare).where(ProgrammeShare.programme_id == programme.id))
    rows = [
        ProgrammeShare(
            programme_id=programme.id,
            position=i,
            share_bps=s.share_bps,
            funder_id=s.funder_id,
            home_level=s.home_level,
        )
        for i, s in enumerate(shares, start=1)
    ]
    session.add_all(rows)
    programme.co_funded = is_co_funded(shares)
    programme.version += 1
    session.flush()
    if programme.co_funded:
        for funder_id in funder_ids:
            _budget_row(session, programme.id, funder_id)
    record(
        session,
        "programme.shares_set",
        actor_id=actor_id,
        subject_type="programme",
        subject_id=programme.id,
        before=[_share_text(*row[1:]) for row in before],
        after=[_share_text(*row[1:]) for row in after],
        co_funded=programme.co_funded,
    )
    return rows


def _share_text(bps: int, funder_id: int | None, level: FunderLevel | None) -> str:
    who = f"funder {funder_id}" if funder_id is not None else f"home {level.value if level else ''}"
    return f"{who}: {bps} bps"


# --------------------------------------------------------------------------- budgets


def _budget_row(session: Session, programme_id: int, funder_id: int) -> FunderBudget:
    row = session.scalar(
        sa.select(FunderBudget).where(
            FunderBudget.programme_id == programme_id, FunderBudget.funder_id == funder_id
        )
    )
    if row is None:
        ledger.insert_ignoring_conflict(
            session,
            FunderBudget.__table__,  # type: ignore[arg-type]
            {
                "programme_id": programme_id,
                "funder_id": funder_id,
                "budget_fen": 0,
                "version": 1,
                "updated_at": utcnow(),
            },
            ["programme_id", "funder_id"],
        )
        row = session.scalars(
            sa.select(FunderBudget).where(
                FunderBudget.programme_id == programme_id, FunderBudget.funder_id == funder_id
            )
        ).one()
    return row


def budgets_of(session: Session, programme_id: int) -> list[FunderBudget]:
    return list(
        session.scalars(
            sa.select(FunderBudget)
            .where(FunderBudget.programme_id == programme_id)
            .order_by(FunderBudget.funder_id)
        )
    )


def set_budget(
    session: Session,
    programme_id: int,
    funder_id: int,
    budget_fen: int,
    *,
    actor_id: int | None,
) -> FunderBudget:
    """Set what ``funder_id`` grants the programme; the change is posted to the funder leg
    (``funder_granted ⇄ funder_available``, keyed ``programme:<p>:funder:<f>:budget:<n>``).

    Raises NotFound, AmountInvalid, SharesInvalid (the programme is not co-funded),
    FunderBudgetExceeded (below what the funder's holds and captures already use)."""
    if not (type(budget_fen) is int and budget_fen == 0):  # 0 withdraws the funder's budget
        rules.validate_amount(budget_fen, field="budget_fen")
    programme = _lock_programme(session, programme_id)
    funder = get_funder(session, funder_id)
    if not programme.co_funded:
        raise SharesInvalid(
            "该券种只有一个出资方，其预算即券种预算 / the programme has one funder: its budget is "
            "the programme's own",
            field="budget_fen",
        )
    row = _budget_row(session, programme.id, funder.id)
    row = session.scalars(
        sa.select(FunderBudget)
        .where(FunderBudget.id == row.id)
        .with_for_update(of=FunderBudget)
        .execution_options(populate_existing=True)
    ).one()
    delta = budget_fen - row.budget_fen
    if delta:
        granted, available = _accounts(session, programme.id, funder.id, "granted", "available")
        source, destination = (granted, available) if delta > 0 else (available, granted)
        try:
            ledger.post(
                session,
                f"programme:{programme.id}:funder:{funder.id}:budget:{row.version + 1}",
                TransactionKind.BUDGET,
                ledger.transfer(source, destination, abs(delta)),
                programme_id=programme.id,
                actor_id=actor_id,
                memo=f"funder {funder.id} budget {row.budget_fen} → {budget_fen}",
            )
        except InsufficientFunds:
            raise FunderBudgetExceeded(
                f"{funder.name}的预算不能低于已冻结和已使用的金额 / {funder.name}'s budget cannot "
                "fall below what its holds and captures already use",
                field="budget_fen",
            ) from None
        previous = row.budget_fen
        row.budget_fen = budget_fen
        row.version += 1
        session.flush()
        record(
            session,
            "programme.funder_budget_set",
            actor_id=actor_id,
            subject_type="programme",
            subject_id=programme.id,
            funder_id=funder.id,
            before_fen=previous,
            after_fen=budget_fen,
        )
    return row


_KINDS = {
    "granted": AccountKind.FUNDER_GRANTED,
    "available": AccountKind.FUNDER_AVAILABLE,
    "held": AccountKind.FUNDER_HELD,
    "spent": AccountKind.FUNDER_SPENT,
    "paid": AccountKind.FUNDER_PAID,
}


def _accounts(
    session: Session, programme_id: int, funder_id: int, *names: str
) -> list[LedgerAccount]:
    return [
        ledger.get_account(session, _KINDS[n], programme_id=programme_id, funder_id=funder_id)
        for n in names
    ]


@dataclass(frozen=True, slots=True)
class FunderStanding:
    """One funder's budget in one programme, from the funder leg's cached balances.
    ``spent_fen`` is every captured part (paid out or not); ``paid_fen`` the part of it its
    treasury's payout batches paid."""

    funder: Funder
    budget_fen: int
    available_fen: int
    held_fen: int
    spent_fen: int
    paid_fen: int = 0


def standings(session: Session, programme_id: int) -> list[FunderStanding]:
    balances: dict[tuple[int, AccountKind], int] = {
        (int(fid or 0), AccountKind(kind)): int(balance)
        for fid, kind, balance in session.execute(
            sa.select(LedgerAccount.funder_id, LedgerAccount.kind, LedgerAccount.balance_fen).where(
                LedgerAccount.programme_id == programme_id, LedgerAccount.funder_id.is_not(None)
            )
        )
    }
    return [
        FunderStanding(
            funder=row.funder,
            budget_fen=row.budget_fen,
            available_fen=balances.get((row.funder_id, AccountKind.FUNDER_AVAILABLE), 0),
            held_fen=balances.get((row.funder_id, AccountKind.FUNDER_HELD), 0),
            spent_fen=balances.get((row.funder_id, AccountKind.FUNDER_SPENT), 0)
            + balances.get((row.funder_id, AccountKind.FUNDER_PAID), 0),
            paid_fen=balances.get((row.funder_id, AccountKind.FUNDER_PAID), 0),
        )
        for row in budgets_of(session, programme_id)
    ]


# --------------------------------------------------------------------------- the funder leg


@dataclass(frozen=True, slots=True)
class PlannedPart:
    funder: Funder
    position: int
    share_bps: int
    amount_fen: int


def plan_parts(
    session: Session, programme: Programme, enterprise: Enterprise, amount_fen: int
) -> list[PlannedPart]:
    """The funders' parts of ``amount_fen`` for an order of ``enterprise``: each share resolved
    (a home share to the funder of the enterprise's prefecture or county), split by
    :func:`rules.split_fen`, parts of one funder merged. Every funder's budget is checked.

    Raises NoHomeFunder (no funder of that division, or it grants this programme nothing),
    FunderBudgetExceeded (a part above what is left of its funder's budget)."""
    shares = shares_of(session, programme.id)
    budgets = {b.funder_id: b for b in budgets_of(session, programme.id)}
    resolved: list[tuple[ProgrammeShare, Funder]] = []
    for share in shares:
        if share.funder is not None:
            resolved.append((share, share.funder))
            continue
        assert share.home_level is not None  # CHECK funder_or_home
        code = home_code(enterprise.region_code, share.home_level)
        funder = session.scalar(sa.select(Funder).where(Funder.region_code == code))
        if funder is None or funder.id not in budgets:
            place = regions.label(code)
            raise NoHomeFunder(
                f"企业所在地（{place}）没有出资方为本券种出资 / no funder of the enterprise's "
                f"home {share.home_level.en.lower()} ({code}) funds this programme",
                extra={"region_code": code, "home_level": share.home_level.value},
            )
        resolved.append((share, funder))
    amounts = rules.split_fen(amount_fen, [share.share_bps for share, _ in resolved])
    merged: dict[int, PlannedPart] = {}
    for (share, funder), amount in zip(resolved, amounts, strict=True):
        first = merged.get(funder.id)
        merged[funder.id] = PlannedPart(
            funder=funder,
            position=first.position if first else share.position,
            share_bps=share.share_bps + (first.share_bps if first else 0),
            amount_fen=amount + (first.amount_fen if first else 0),
        )
    parts = list(merged.values())
    for part in parts:
        if part.amount_fen == 0:
            continue
        available = ledger.get_account(
            session,
            AccountKind.FUNDER_AVAILABLE,
            programme_id=programme.id,
            funder_id=part.funder.id,
        )
        if ledger.balance_of(session, available) < part.amount_fen:
            raise _budget_exceeded(part.funder)
    return parts


def _budget_exceeded(funder: Funder) -> FunderBudgetExceeded:
    return FunderBudgetExceeded(
        f"{funder.name}在本券种的预算余额不足 / {funder.name} has not enough budget left in "
        "this programme",
        extra={"funder_id": funder.id},
    )


def hold_entries(
    session: Session, hold: Hold, programme_id: int, parts: Sequence[PlannedPart]
) -> list[Entry]:
    """Record ``parts`` on ``hold`` and return the funder leg's entries of the hold's posting
    (``funder_available → funder_held`` per part)."""
    entries: list[Entry] = []
    for part in parts:
        session.add(
            HoldFunderPart(
                hold_id=hold.id,
                funder_id=part.funder.id,
                position=part.position,
                share_bps=part.share_bps,
                held_fen=part.amount_fen,
                captured_fen=0,
                released_fen=0,
            )
        )
        if part.amount_fen:
            available, held = _accounts(session, programme_id, part.funder.id, "available", "held")
            entries += ledger.transfer(available, held, part.amount_fen)
    return entries


def budget_refusal(
    session: Session, programme_id: int, parts: Sequence[PlannedPart]
) -> FunderBudgetExceeded:
    """The error for a hold posting the ledger refused: a racing hold took a funder's last
    budget between the check and the posting. Names the funder now short of its part."""
    for part in parts:
        available = ledger.get_account(
            session,
            AccountKind.FUNDER_AVAILABLE,
            programme_id=programme_id,
            funder_id=part.funder.id,
        )
        if part.amount_fen and ledger.balance_of(session, available) < part.amount_fen:
            return _budget_exceeded(part.funder)
    return FunderBudgetExceeded("出资方预算余额不足 / a funder has not enough budget left")


def parts_of(session: Session, hold_id: int) -> list[HoldFunderPart]:
    return list(
        session.scalars(
            sa.select(HoldFunderPart)
            .where(HoldFunderPart.hold_id == hold_id)
            .order_by(HoldFunderPart.position)
        )
    )


def resolve_entries(
    session: Session, hold: Hold, programme_id: int, captured_fen: int
) -> list[Entry]:
    """The funder leg of resolving an open hold: ``captured_fen`` split by the held parts goes
    ``funder_held → funder_spent``, the rest of each part back to ``funder_available``.
    Nothing for a hold without parts (a programme that is not co-funded)."""
    parts = parts_of(session, hold.id)
    if not parts:
        return []
    captured = (
        rules.split_fen(captured_fen, [p.held_fen for p in parts])
        if captured_fen
        else [0 for _ in parts]
    )
    entries: list[Entry] = []
    for part, take in zip(parts, captured, strict=True):
        rest = part.held_fen - take
        held, spent, available = _accounts(
            session, programme_id, part.funder_id, "held", "spent", "available"
        )
        if take:
            entries += ledger.transfer(held, spent, take)
        if rest:
            entries += ledger.transfer(held, available, rest)
        part.captured_fen = take
        part.released_fen = rest
    return entries


def reversal_entries(
    session: Session, hold: Hold, programme_id: int, amount_fen: int
) -> list[Entry]:
    """The funder leg of giving back ``amount_fen`` of a captured hold: split by what each
    funder's part still has captured, ``funder_spent → funder_available``."""
    parts = [p for p in parts_of(session, hold.id) if p.captured_fen]
    if not parts:
        return []
    back = rules.split_fen(amount_fen, [p.captured_fen for p in parts])
    entries: list[Entry] = []
    for part, amount in zip(parts, back, strict=True):
        if not amount:
            continue
        spent, available = _accounts(session, programme_id, part.funder_id, "spent", "available")
        entries += ledger.transfer(spent, available, amount)
        part.captured_fen -= amount
        part.released_fen += amount
    return entries


def payout_entries(
    session: Session, programme_id: int, funder_id: int, amount_fen: int
) -> list[Entry]:
    """The funder leg of paying out ``amount_fen`` of a funder's captured parts to a provider
    (its treasury's bank confirmed the payment): ``funder_spent → funder_paid``."""
    spent, paid = _accounts(session, programme_id, funder_id, "spent", "paid")
    return ledger.transfer(spent, paid, amount_fen)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class FunderRedemption:
    """Voucher money one paying treasury spent (captured) on orders resolved in a period.
    ``funder_id`` is None for programmes that name no funder: their own budget paid, labelled
    by the programme's ``funding_body``."""

    funder_id: int | None
    funder_name: str | None
    region_code: str | None
    funding_body: FundingBody | None
    orders: int
    redeemed_fen: int


def redeemed_by_funder(session: Session, start: datetime, end: datetime) -> list[FunderRedemption]:
    """Per paying treasury, the voucher money captured for holds resolved in [start, end): a
    co-funded programme's orders by their recorded parts, a single-funder programme's orders
    wholly to its funder, a programme naming no funder to its own budget."""
    captured_in = (
        Hold.status == HoldStatus.CAPTURED,
        Hold.resolved_at >= start,
        Hold.resolved_at < end,
    )
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for funder_id, orders, fen in session.execute(
        sa.select(
            HoldFunderPart.funder_id,
            sa.func.count(Hold.id),
            sa.func.sum(HoldFunderPart.captured_fen),
        )
        .join(Hold, Hold.id == HoldFunderPart.hold_id)
        .where(*captured_in, HoldFunderPart.captured_fen > 0)
        .group_by(HoldFunderPart.funder_id)
    ):
        totals[int(funder_id)][0] += int(orders)
        totals[int(funder_id)][1] += int(fen or 0)
    for sole_id, orders, fen in session.execute(
        sa.select(ProgrammeShare.funder_id, sa.func.count(Hold.id), sa.func.sum(Hold.captured_fen))
        .join(Voucher, Voucher.id == Hold.voucher_id)
        .join(Programme, Programme.id == Voucher.programme_id)
        .join(ProgrammeShare, ProgrammeShare.programme_id == Programme.id)
        .where(*captured_in, Programme.co_funded.is_(False), ProgrammeShare.funder_id.is_not(None))
        .group_by(ProgrammeShare.funder_id)
    ):
        totals[int(sole_id or 0)][0] += int(orders)
        totals[int(sole_id or 0)][1] += int(fen or 0)
    named = {f.id: f for f in session.scalars(sa.select(Funder).where(Funder.id.in_(list(totals))))}
    result = [
        FunderRedemption(fid, named[fid].name, named[fid].region_code, None, n, fen)
        for fid, (n, fen) in totals.items()
    ]
    has_shares = sa.exists().where(ProgrammeShare.programme_id == Programme.id)
    for body, orders, fen in session.execute(
        sa.select(Programme.funding_body, sa.func.count(Hold.id), sa.func.sum(Hold.captured_fen))
        .join(Voucher, Voucher.programme_id == Programme.id)
        .join(Hold, Hold.voucher_id == Voucher.id)
        .where(*captured_in, ~has_shares)
        .group_by(Programme.funding_body)
    ):
        result.append(
            FunderRedemption(None, None, None, FundingBody(body), int(orders), int(fen or 0))
        )
    return sorted(result, key=lambda r: (-r.redeemed_fen, r.region_code or "", r.funder_id or 0))


@dataclass(frozen=True, slots=True)
class VoucherPayer:
    """Who pays a voucher's part of the price, as the public notice names it: a funder (by
    name) and its share, or — a programme naming no funder — the programme's funding body."""

    funder_name: str | None
    funding_body: FundingBody | None
    share_bps: int


def payers_of(session: Session, vouchers: Sequence[Voucher]) -> dict[int, list[VoucherPayer]]:
    """Per voucher id, its payers in the programme's share order: a home share resolved to
    the funder of the enterprise's prefecture or county (or that division's name when it has
    none), shares of one funder merged. One query per programme and per home division."""
    shares: dict[int, list[ProgrammeShare]] = {}
    homes: dict[str, str] = {}
    found: dict[int, list[VoucherPayer]] = {}
    for voucher in vouchers:
        programme = voucher.programme
        if programme.id not in shares:
            shares[programme.id] = shares_of(session, programme.id)
        if not shares[programme.id]:
            found[voucher.id] = [VoucherPayer(None, programme.funding_body, 10_000)]
            continue
        merged: dict[str, int] = {}
        for share in shares[programme.id]:
            if share.funder is not None:
                name = share.funder.name
            else:
                assert share.home_level is not None  # CHECK funder_or_home
                code = home_code(voucher.enterprise.region_code, share.home_level)
                if code not in homes:
                    funder = session.scalar(sa.select(Funder).where(Funder.region_code == code))
                    homes[code] = funder.name if funder is not None else regions.label(code)
                name = homes[code]
            merged[name] = merged.get(name, 0) + share.share_bps
        found[voucher.id] = [VoucherPayer(name, None, bps) for name, bps in merged.items()]
    return found
