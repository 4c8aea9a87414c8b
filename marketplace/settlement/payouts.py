"""Payouts: the treasury pays approved claim lines by bank transfer, exactly once.

::

    approved claim lines ──create_batch(payer)──▶ batch (draft) of one paying treasury:
                                                   one payment line per provider
        ──payment file (CSV, naming the treasury's account)──▶ the bank ──mark_sent──▶ sent
        ◀──confirmation file (CSV or JSON)── import_confirmation:
              paid   → ledger provider_payable → provider_paid and, for a co-funded programme,
                       the funder's funder_spent → funder_paid (key ``payout:<line>:p<programme>``);
                       a claim line is paid (its order paid_out) once every funder part is
              failed → that part back to the queue (the claim line back to approved when no
                       other part is in a payout), orders payout_failed
        ──flask settlement settle──▶ paid-out orders whose (latest) value date has come → settled

Per paying treasury: a claim line is paid in *parts*, one per funder (:func:`line_parts`): a
co-funded order's funders' parts exactly as its hold recorded them (``hold_funder_parts``, the
remainder rule applied once, when the hold was placed — never re-split here), a single-funder
programme's line whole to its funder, a programme naming no funder whole to its own budget
(payer :data:`OWN_BUDGET`, the batches built before funders existed). A batch is one payer's;
each part becomes one payout item in its payer's batch. A part is *due* while no payout item
of a pending or paid payment line holds it.

Exactly once, under retries and re-imports: the batch and payment lines are locked while a
confirmation is applied; a line is applied only while it is pending; a row that repeats what
was already recorded changes nothing, and a row that contradicts it (another status, another
bank transaction, another date) refuses the whole import with ``confirmation_conflict``. The
ledger posting's idempotency key comes from the payment line, so even a replayed posting is
a no-op. A bank transaction id belongs to one payment line (UNIQUE).

Four eyes: the officer who builds a batch can neither send it nor import its confirmation
(:class:`SeparationOfDuties`); a batch whose total is above the second-approval amount
(``PAYOUT_SECOND_APPROVAL_ABOVE_FEN``) is approved by a second officer before a third sends
it (:class:`SecondApprovalRequired`). The batch's CHECKs hold the same rules in the database.

Locks, in this order: batch → payment lines (ascending id) → orders (ascending id) → claim lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.errors import NotFound, PreconditionFailed
from marketplace.orders.access import lock_order
from marketplace.orders.enums import Actor, OrderAction, OrderStatus
from marketplace.orders.models import Order

# freezes registers the provider-suspension listener; whoever pays out has it loaded.
from marketplace.settlement import freezes, notices, reversals, rules  # noqa: F401
from marketplace.settlement.claims import (
    MAX_ID,
    frozen_line_ids,
    move_line,
    move_order,
    refresh_claim_status,
    refuse_frozen_lines,
)
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    PayoutBatchAction,
    PayoutBatchStatus,
    PayoutLineAction,
    PayoutLineStatus,
)
from marketplace.settlement.errors import (
    BankAccountMissing,
    ClaimStateConflict,
    ConfirmationConflict,
    ConfirmationMismatch,
    InvoiceReversed,
    NothingToPay,
    PayerRequired,
    PayoutBatchNotFound,
    PayoutStateConflict,
    SecondApprovalRequired,
    SeparationOfDuties,
    TreasuryAccountMissing,
)
from marketplace.settlement.models import (
    Claim,
    ClaimLine,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
)
from marketplace.settlement.payout_files import ConfirmationRow
from providers.models import Provider
from vouchers import funders, ledger
from vouchers.enums import AccountKind, TransactionKind
from vouchers.funder_models import Funder, HoldFunderPart, ProgrammeShare
from vouchers.models import Programme

# --------------------------------------------------------------------------- lookups


def get_batch(session: Session, batch_id: int) -> PayoutBatch:
    batch = session.get(PayoutBatch, batch_id) if 0 < batch_id <= MAX_ID else None
    if batch is None:
        raise PayoutBatchNotFound(f"拨付批次 {batch_id} 不存在 / no payout batch {batch_id}")
    return batch


def _lock_batch(session: Session, batch_id: int) -> PayoutBatch:
    get_batch(session, batch_id)
    return session.scalars(
        sa.select(PayoutBatch)
        .where(PayoutBatch.id == batch_id)
        .with_for_update(of=PayoutBatch)
        .execution_options(populate_existing=True)
    ).one()


def _check_version(batch: PayoutBatch, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != batch.version:
        raise PreconditionFailed(
            f"拨付批次已被他人修改（当前版本 {batch.version}） / the batch changed since you read "
            f"it (now version {batch.version})",
            extra={"current_version": batch.version},
        )


def _officer(actor_id: int | None, what: str) -> int:
    """Four eyes need to know whose eyes: a payout step is always someone's."""
    if actor_id is None:
        raise SeparationOfDuties(
            f"{what}须由具名的财务人员操作 / {what.strip()} needs a named finance officer"
        )
    return actor_id


def _not_the_builder(batch: PayoutBatch, actor_id: int, zh: str, en: str) -> None:
    if batch.four_eyes and batch.created_by_id == actor_id:
        raise SeparationOfDuties(
            f"拨付批次的制单人不能{zh}（四眼原则） / the officer who built the batch cannot {en} "
            "(four eyes)",
            extra={"batch_id": batch.id},
        )


#: The payer of programmes that name no funder: their own budget (funder ids start at 1).
OWN_BUDGET = 0
#: Claim lines that may still have a part to pay: approved, or in a payout for another part.
_PAYABLE = (ClaimLineStatus.APPROVED, ClaimLineStatus.IN_PAYOUT)
_LIVE = (PayoutLineStatus.PENDING, PayoutLineStatus.PAID)


@dataclass(frozen=True, slots=True)
class LinePart:
    """One paying treasury's part of a claim line."""

    funder_id: int | None
    amount_fen: int

    @property
    def payer(self) -> int:
        return self.funder_id or OWN_BUDGET


@dataclass(frozen=True, slots=True)
class DuePart:
    """A part of an approved claim line that no payment holds yet: what a batch can take."""

    line: ClaimLine
    part: LinePart
    funder: Funder | None


def line_parts(session: Session, lines: Sequence[ClaimLine]) -> dict[int, list[LinePart]]:
    """Each claim line's parts by paying treasury (see the module docstring), in the order of
    the programme's shares. Raises ClaimStateConflict for a co-funded line whose recorded
    parts do not add up to its amount (``flask ledger verify`` names the hold)."""
    holds = {ln.id: ln.order.hold_id for ln in lines}
    recorded: dict[int, list[HoldFunderPart]] = defaultdict(list)
    hold_ids = [h for h in holds.values() if h is not None]
    for part in session.scalars(
        sa.select(HoldFunderPart)
        .where(HoldFunderPart.hold_id.in_(hold_ids), HoldFunderPart.captured_fen > 0)
        .order_by(HoldFunderPart.hold_id, HoldFunderPart.position)
    ):
        recorded[part.hold_id].append(part)
    programme_ids = {ln.programme_id for ln in lines}
    sole = {
        int(programme_id): int(funder_id or 0)
        for programme_id, funder_id in session.execute(
            sa.select(ProgrammeShare.programme_id, ProgrammeShare.funder_id)
            .join(Programme, Programme.id == ProgrammeShare.programme_id)
            .where(
                ProgrammeShare.programme_id.in_(programme_ids),
                Programme.co_funded.is_(False),
                ProgrammeShare.funder_id.is_not(None),
            )
        )
    }
    result: dict[int, list[LinePart]] = {}
    for ln in lines:
        hold_id = holds[ln.id]
        parts = recorded.get(hold_id, []) if hold_id is not None else []
        if not parts:
            result[ln.id] = [LinePart(sole.get(ln.programme_id), ln.amount_fen)]
            continue
        if sum(p.captured_fen for p in parts) != ln.amount_fen:
            raise ClaimStateConflict(
                f"兑付明细 {ln.id} 的出资方份额之和与券额不符 / the funders' parts of claim line "
                f"{ln.id} do not add up to its voucher part",
                extra={"claim_line_id": ln.id},
            )
        result[ln.id] = [LinePart(p.funder_id, p.captured_fen) for p in parts]
    return result


def _held_payers(session: Session, line_ids: Sequence[int]) -> dict[int, dict[int, int]]:
    """Per claim line, the payers whose part a pending or paid payment line holds, and that
    payment line's id."""
    held: dict[int, dict[int, int]] = defaultdict(dict)
    if not line_ids:
        return held
    for claim_line_id, funder_id, payout_line_id in session.execute(
        sa.select(PayoutItem.claim_line_id, PayoutItem.funder_id, PayoutLine.id)
        .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
        .where(PayoutItem.claim_line_id.in_(list(line_ids)), PayoutLine.status.in_(_LIVE))
        .order_by(PayoutLine.id)
    ):
        held[int(claim_line_id)][int(funder_id or OWN_BUDGET)] = int(payout_line_id)
    return held


def _due(session: Session, lines: Sequence[ClaimLine]) -> list[DuePart]:
    parts = line_parts(session, lines)
    held = _held_payers(session, [ln.id for ln in lines])
    named = {
        f.id: f
        for f in session.scalars(
            sa.select(Funder).where(
                Funder.id.in_({p.funder_id for ps in parts.values() for p in ps if p.funder_id})
            )
        )
    }
    return [
        DuePart(ln, part, named.get(part.funder_id or 0))
        for ln in lines
        for part in parts[ln.id]
        if part.payer not in held.get(ln.id, {})
    ]


def payout_due(session: Session) -> list[DuePart]:
    """Every part of an approved claim line waiting for its treasury's payout batch, oldest
    line first (frozen lines wait for the reviewer, reversed invoices are never paid)."""
    lines = list(
        session.scalars(
            sa.select(ClaimLine).where(ClaimLine.status.in_(_PAYABLE)).order_by(ClaimLine.id)
        )
    )
    frozen = frozen_line_ids(session, [ln.id for ln in lines])
    return _due(session, [ln for ln in lines if ln.id not in frozen])


def payout_queue(session: Session) -> list[ClaimLine]:
    """Approved claim lines with a part waiting for a payout, oldest first."""
    lines: dict[int, ClaimLine] = {}
    for due in payout_due(session):
        lines.setdefault(due.line.id, due.line)
    return list(lines.values())


def _bank_account(provider: Provider) -> tuple[str, str, str] | None:
    parts = (
        (provider.bank_account_name or "").strip(),
        (provider.bank_name or "").strip(),
        (provider.bank_account_number or "").strip(),
    )
    return parts if all(parts) else None


def item_totals(
    session: Session, status: PayoutLineStatus, *where: sa.ColumnElement[bool]
) -> dict[tuple[int, int], int]:
    """Fen in the payout items of payment lines in ``status``, per (programme id, funder id —
    :data:`OWN_BUDGET` for a programme's own budget), under the further conditions ``where``."""
    return {
        (int(programme_id), int(funder_id or OWN_BUDGET)): int(total or 0)
        for programme_id, funder_id, total in session.execute(
            sa.select(
                PayoutItem.programme_id, PayoutItem.funder_id, sa.func.sum(PayoutItem.amount_fen)
            )
            .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
            .where(PayoutLine.status == status, *where)
            .group_by(PayoutItem.programme_id, PayoutItem.funder_id)
        )
    }


@dataclass(frozen=True, slots=True)
class PayerTotals:
    """What one paying treasury's batches hold: built and awaiting the bank, and paid."""

    funder: Funder | None
    batches: int
    pending_fen: int
    paid_fen: int


def totals_by_payer(session: Session) -> list[PayerTotals]:
    """Per paying treasury (programmes naming no funder first), its batches' payments."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for funder_id, batches in session.execute(
        sa.select(PayoutBatch.funder_id, sa.func.count(PayoutBatch.id)).group_by(
            PayoutBatch.funder_id
        )
    ):
        sums[int(funder_id or OWN_BUDGET)][0] = int(batches)
    for funder_id, status, total in session.execute(
        sa.select(PayoutBatch.funder_id, PayoutLine.status, sa.func.sum(PayoutLine.amount_fen))
        .join(PayoutLine, PayoutLine.batch_id == PayoutBatch.id)
        .group_by(PayoutBatch.funder_id, PayoutLine.status)
    ):
        row = sums[int(funder_id or OWN_BUDGET)]
        if PayoutLineStatus(status) is PayoutLineStatus.PENDING:
            row[1] += int(total or 0)
        elif PayoutLineStatus(status) is PayoutLineStatus.PAID:
            row[2] += int(total or 0)
    named = {f.id: f for f in session.scalars(sa.select(Funder).where(Funder.id.in_(list(sums))))}
    return [
        PayerTotals(named.get(payer), batches, pending, paid)
        for payer, (batches, pending, paid) in sorted(sums.items())
    ]


# --------------------------------------------------------------------------- building


@dataclass
class BatchResult:
    batch: PayoutBatch
    #: Providers left out for want of a settlement bank account: (provider id, name).
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _refresh_claims(session: Session, claim_ids: set[int]) -> None:
    session.flush()
    for claim_id in sorted(claim_ids):
        claim = session.get(Claim, claim_id)
        if claim is not None:
            session.refresh(claim, ["lines"])
            refresh_claim_status(claim)


def _payer_of(due: Sequence[DuePart], payer: int | None) -> int:
    """The treasury whose batch to build: ``payer`` when named, else the only one the due
    parts have (PayerRequired when they have several)."""
    if payer is not None:
        return payer
    payers = sorted({d.part.payer for d in due})
    if len(payers) > 1:
        raise PayerRequired(
            "这些兑付明细由多个出资方支付，每个拨付批次只属于一个出资方，请选择出资方 / several "
            "treasuries pay these lines and a batch is one treasury's: name the funder",
            {"funder_id": [f"one of {payers} (0: programmes naming no funder)"]},
        )
    return payers[0] if payers else OWN_BUDGET


def _treasury_account(session: Session, payer: int) -> tuple[Funder | None, tuple[str, ...]]:
    """The paying treasury and the account its payment file names (none for a programme
    paying from its own budget, as before funders). TreasuryAccountMissing without one."""
    if payer == OWN_BUDGET:
        return None, ("", "", "")
    funder = funders.get_funder(session, payer)
    account = (
        (funder.bank_account_name or "").strip(),
        (funder.bank_name or "").strip(),
        (funder.bank_account_number or "").strip(),
    )
    if not all(account):
        raise TreasuryAccountMissing(
            f"{funder.name} 未登记国库付款账户 / {funder.name} has no treasury account on file "
            "to pay from",
            extra={"funder_id": funder.id},
        )
    return funder, account


def create_batch(
    session: Session,
    *,
    actor_id: int | None,
    funder_id: int | None = None,
    claim_line_ids: Sequence[int] | None = None,
    second_approval_above_fen: int | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Build a draft batch of one paying treasury: one payment line per provider, one item
    per claim line for that treasury's part of it.

    ``funder_id`` names the treasury (:data:`OWN_BUDGET` for programmes naming no funder);
    without it, the one treasury that pays the lines (PayerRequired when several do). Without
    ``claim_line_ids`` every due part of that treasury is taken and providers without a
    settlement bank account are left out (listed in ``skipped``). With ids, each must have a
    due part of that treasury (ClaimStateConflict otherwise, NotFound for an unknown id) and
    every provider must have an account (BankAccountMissing). TreasuryAccountMissing when a
    funder has no account to pay from; NothingToPay when no part remains. A batch whose total
    is above ``second_approval_above_fen`` needs a second approval before it is sent (None:
    never).
    """
    actor_id = _officer(actor_id, "生成拨付批次")
    now = now or utcnow()
    explicit = claim_line_ids is not None
    with session.begin_nested():
        stmt = sa.select(ClaimLine).order_by(ClaimLine.id)
        if explicit:
            wanted = sorted({i for i in claim_line_ids or [] if 0 < i <= MAX_ID})
            stmt = stmt.where(ClaimLine.id.in_(wanted))
        else:
            stmt = stmt.where(ClaimLine.status.in_(_PAYABLE))
        lines = list(
            session.scalars(
                stmt.with_for_update(of=ClaimLine).execution_options(populate_existing=True)
            )
        )
        if explicit:
            found = {ln.id for ln in lines}
            unknown = [i for i in dict.fromkeys(claim_line_ids or []) if i not in found]
            if unknown:
                raise NotFound(
                    f"兑付明细 {unknown} 不存在 / no claim lines {unknown}",
                    extra={"claim_line_ids": unknown},
                )
            for ln in lines:
                if ln.status not in _PAYABLE:
                    raise _not_waiting(ln)
        # A line whose invoice a red-letter invoice reversed is frozen: never paid.
        reversed_ids = reversals.reversed_invoice_ids(session, [ln.invoice_id for ln in lines])
        if explicit and reversed_ids:
            ln = next(ln for ln in lines if ln.invoice_id in reversed_ids)
            raise InvoiceReversed(
                f"兑付明细 {ln.id} 的发票已被红字发票冲销 / the invoice of claim line {ln.id} "
                "was reversed by a red-letter invoice",
                extra={"claim_line_id": ln.id},
            )
        lines = [ln for ln in lines if ln.invoice_id not in reversed_ids]
        if explicit:
            refuse_frozen_lines(session, [ln.id for ln in lines])
        else:
            # A suspended provider's frozen lines wait for the reviewer (settlement.freezes).
            frozen = frozen_line_ids(session, [ln.id for ln in lines])
            lines = [ln for ln in lines if ln.id not in frozen]
        due = _due(session, lines)
        payer = _payer_of(due, funder_id)
        due = [d for d in due if d.part.payer == payer]
        if explicit:
            covered = {d.line.id for d in due}
            for ln in lines:
                if ln.id not in covered:
                    raise _not_waiting(ln, payer)
        funder, (payer_name, payer_bank, payer_number) = _treasury_account(session, payer)
        by_provider: dict[int, list[DuePart]] = defaultdict(list)
        for d in due:
            by_provider[d.line.provider_id].append(d)
        accounts: dict[int, tuple[Provider, tuple[str, str, str]]] = {}
        skipped: list[tuple[int, str]] = []
        for provider_id in sorted(by_provider):
            provider = session.get(Provider, provider_id)
            assert provider is not None
            account = _bank_account(provider)
            if account is None:
                if explicit:
                    raise BankAccountMissing(
                        f"{provider.name} 未登记结算银行账户 / {provider.name} has no "
                        "settlement bank account on file",
                        extra={"provider_id": provider_id},
                    )
                skipped.append((provider_id, provider.name))
                continue
            accounts[provider_id] = (provider, account)
        if not accounts:
            raise NothingToPay(
                "没有可拨付的兑付明细 / no approved claim lines can be paid now",
                extra={
                    "skipped_providers": [pid for pid, _ in skipped],
                    "funder_id": funder.id if funder else None,
                },
            )
        total = sum(d.part.amount_fen for pid in accounts for d in by_provider[pid])
        batch = PayoutBatch(
            status=PayoutBatchStatus.DRAFT,
            total_fen=total,
            line_count=len(accounts),
            created_by_id=actor_id,
            created_at=now,
            four_eyes=True,
            needs_second_approval=(
                second_approval_above_fen is not None and total > second_approval_above_fen
            ),
            funder_id=funder.id if funder else None,
            payer_name=payer_name or None,
            payer_bank_name=payer_bank or None,
            payer_account_number=payer_number or None,
        )
        session.add(batch)
        session.flush()
        claim_ids: set[int] = set()
        for provider_id, (provider, (account_name, bank_name, number)) in accounts.items():
            members = by_provider[provider_id]
            payout_line = PayoutLine(
                batch_id=batch.id,
                provider_id=provider_id,
                provider_name=provider.name,
                bank_account_name=account_name,
                bank_name=bank_name,
                bank_account_number=number,
                amount_fen=sum(d.part.amount_fen for d in members),
                built_by_id=actor_id,
            )
            session.add(payout_line)
            session.flush()
            for d in members:
                ln = d.line
                session.add(
                    PayoutItem(
                        payout_line_id=payout_line.id,
                        claim_line_id=ln.id,
                        order_id=ln.order_id,
                        programme_id=ln.programme_id,
                        amount_fen=d.part.amount_fen,
                        funder_id=d.part.funder_id,
                    )
                )
                # The first part taken puts the line in payout; another funder's part of a
                # line already in payout (a co-funded line) only adds its item.
                if ln.status is ClaimLineStatus.APPROVED:
                    move_line(
                        session,
                        ln,
                        ClaimAction.BATCH,
                        actor_id=actor_id,
                        now=now,
                        note=batch.reference,
                    )
                    ln.payout_line_id = payout_line.id
                claim_ids.add(ln.claim_id)
        _refresh_claims(session, claim_ids)
        session.refresh(batch, ["lines"])
        record(
            session,
            "payout_batch.created",
            actor_id=actor_id,
            subject_type="payout_batch",
            subject_id=batch.id,
            total_fen=total,
            funder_id=batch.funder_id,
            needs_second_approval=batch.needs_second_approval,
            payment_lines=[pl.id for pl in batch.lines],
            claim_lines=[d.line.id for pid in accounts for d in by_provider[pid]],
            skipped_providers=[pid for pid, _ in skipped],
        )
        session.flush()
    return BatchResult(batch, skipped)


def _not_waiting(line: ClaimLine, payer: int | None = None) -> ClaimStateConflict:
    whose = "" if payer is None else f" (payer {payer})"
    return ClaimStateConflict(
        f"兑付明细 {line.id} 不在待拨付队列中 / claim line {line.id} is not waiting for a "
        f"payout{whose}",
        extra={"claim_line_id": line.id, "line_status": line.status.value},
    )


@dataclass
class BatchesResult:
    batches: list[PayoutBatch]
    #: Providers left out for want of a settlement bank account: (provider id, name).
    skipped: list[tuple[int, str]] = field(default_factory=list)
    #: Treasuries left out for want of an account to pay from: (funder id, name).
    skipped_funders: list[tuple[int, str]] = field(default_factory=list)


def create_batches(
    session: Session,
    *,
    actor_id: int | None,
    second_approval_above_fen: int | None = None,
    now: datetime | None = None,
) -> BatchesResult:
    """One batch per paying treasury with due parts (the whole queue), in payer order: each
    built by :func:`create_batch`, with its four eyes and second-approval amount. A treasury
    without an account to pay from, or whose providers all lack one, is left out and listed.
    NothingToPay when no batch could be built."""
    payers = sorted({d.part.payer for d in payout_due(session)})
    result = BatchesResult([])
    for payer in payers:
        try:
            built = create_batch(
                session,
                actor_id=actor_id,
                funder_id=payer,
                second_approval_above_fen=second_approval_above_fen,
                now=now,
            )
        except TreasuryAccountMissing as exc:
            exc.recovered()  # listed, and the other treasuries' batches still stand
            funder = funders.get_funder(session, payer)
            result.skipped_funders.append((funder.id, funder.name))
            continue
        except NothingToPay as exc:
            exc.recovered()
            skipped = set(exc.extra.get("skipped_providers", []))
            for pid in sorted(skipped - {pid for pid, _ in result.skipped}):
                provider = session.get(Provider, pid)
                result.skipped.append((pid, provider.name if provider else str(pid)))
            continue
        result.batches.append(built.batch)
        known = {pid for pid, _ in result.skipped}
        result.skipped += [(pid, name) for pid, name in built.skipped if pid not in known]
    if not result.batches:
        raise NothingToPay(
            "没有可拨付的兑付明细 / no approved claim lines can be paid now",
            extra={
                "skipped_providers": [pid for pid, _ in result.skipped],
                "skipped_funders": [fid for fid, _ in result.skipped_funders],
            },
        )
    return result


def mark_sent(
    session: Session,
    batch_id: int,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> PayoutBatch:
    """Record that the payment file went to the bank. Repeating it changes nothing.
    Raises PayoutBatchNotFound, PreconditionFailed, SeparationOfDuties (the builder, or the
    second approver), SecondApprovalRequired (a large batch not yet approved)."""
    actor_id = _officer(actor_id, "发送拨付批次")
    now = now or utcnow()
    with session.begin_nested():
        batch = _lock_batch(session, batch_id)
        if not rules.PAYOUT_BATCH.allows(batch.status, PayoutBatchAction.SEND):
            return batch
        _check_version(batch, expected_version)
        _not_the_builder(batch, actor_id, "将其发送银行", "send it to the bank")
        if batch.awaiting_second_approval:
            raise SecondApprovalRequired(
                "该批次金额超过复核限额，须先由另一名财务人员复核批准 / this batch is above the "
                "second-approval amount: another finance officer must approve it first",
                extra={"batch_id": batch.id, "total_fen": batch.total_fen},
            )
        if batch.approved_by_id == actor_id:
            raise SeparationOfDuties(
                "复核批准人不能同时发送该批次 / the officer who approved the batch cannot also "
                "send it",
                extra={"batch_id": batch.id},
            )
        rules.PAYOUT_BATCH.move(batch, PayoutBatchAction.SEND)
        batch.sent_at, batch.sent_by_id = now, actor_id
        batch.version += 1
        record(
            session,
            "payout_batch.sent",
            actor_id=actor_id,
            subject_type="payout_batch",
            subject_id=batch.id,
            total_fen=batch.total_fen,
        )
        session.flush()
    return batch


def approve_batch(
    session: Session,
    batch_id: int,
    *,
    actor_id: int | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> PayoutBatch:
    """The second finance approval of a large draft batch. Repeating it changes nothing.

    Raises PayoutBatchNotFound, PreconditionFailed, PayoutStateConflict (already sent, or a
    batch that needs no second approval), SeparationOfDuties (the builder approving)."""
    actor_id = _officer(actor_id, "复核拨付批次")
    now = now or utcnow()
    with session.begin_nested():
        batch = _lock_batch(session, batch_id)
        if batch.approved_by_id is not None and batch.approved_by_id == actor_id:
            return batch
        _check_version(batch, expected_version)
        rules.PAYOUT_BATCH.next(batch.status, PayoutBatchAction.APPROVE)
        if not batch.needs_second_approval or batch.approved_by_id is not None:
            raise PayoutStateConflict(
                "该批次无需或已完成复核批准 / this batch needs no (further) second approval",
                extra={"batch_status": batch.status.value, "action": "approve"},
            )
        _not_the_builder(batch, actor_id, "复核批准该批次", "approve it")
        rules.PAYOUT_BATCH.move(batch, PayoutBatchAction.APPROVE)
        batch.approved_by_id, batch.approved_at = actor_id, now
        batch.version += 1
        record(
            session,
            "payout_batch.approved",
            actor_id=actor_id,
            subject_type="payout_batch",
            subject_id=batch.id,
            total_fen=batch.total_fen,
        )
        session.flush()
    return batch


# --------------------------------------------------------------------------- confirmation


def ensure_confirmable(batch: PayoutBatch) -> None:
    """A confirmation only makes sense once the payment file went to the bank."""
    if batch.status is PayoutBatchStatus.DRAFT:
        raise PayoutStateConflict(
            "请先将付款文件发送银行并标记为已发送 / mark the batch as sent to the bank first",
            extra={"batch_status": batch.status.value},
        )


@dataclass
class ImportResult:
    batch: PayoutBatch
    applied: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


def _resolve(batch: PayoutBatch, rows: Sequence[ConfirmationRow]) -> dict[int, ConfirmationRow]:
    """Map each row to a payment line of ``batch``; ConfirmationInvalid lists what does not."""
    by_id = {line.id: line for line in batch.lines}
    by_reference = {line.reference: line for line in batch.lines}
    errors: dict[str, list[str]] = {}
    chosen: dict[int, ConfirmationRow] = {}
    for row in rows:
        line = by_id.get(row.line_id) if row.line_id is not None else None
        if row.reference is not None:
            named = by_reference.get(row.reference)
            if line is not None and (named is None or named.id != line.id):
                errors[f"row {row.row}"] = [
                    "line_id 与 reference 不一致 / line_id and reference disagree"
                ]
                continue
            line = line or named
        if line is None:
            errors[f"row {row.row}"] = [
                f"本批次 {batch.reference} 中没有该付款行 / no such payment line in batch "
                f"{batch.reference}"
            ]
            continue
        earlier = chosen.get(line.id)
        if earlier is not None and not earlier.same_outcome(row):
            errors[f"row {row.row}"] = [
                f"与第 {earlier.row} 行矛盾 / contradicts row {earlier.row} for the same line"
            ]
            continue
        chosen.setdefault(line.id, row)
    transactions: dict[str, int] = {}
    for line_id, row in chosen.items():
        if row.bank_transaction_id is None:
            continue
        other = transactions.setdefault(row.bank_transaction_id, line_id)
        if other != line_id:
            errors[f"row {row.row}"] = [
                "同一银行流水号用于两个付款行 / one bank transaction id on two payment lines"
            ]
    if errors:
        raise ConfirmationMismatch(
            "银行回单与本批次不符 / the bank confirmation does not match the batch",
            extra={"rows": errors},
        )
    return chosen


def _recorded(line: PayoutLine) -> tuple[PayoutLineStatus, str | None, date | None]:
    return line.status, line.bank_transaction_id, line.value_date


def _lock_payout_lines(session: Session, ids: Sequence[int]) -> list[PayoutLine]:
    return list(
        session.scalars(
            sa.select(PayoutLine)
            .where(PayoutLine.id.in_(sorted(ids)))
            .order_by(PayoutLine.id)
            .with_for_update(of=PayoutLine)
            .execution_options(populate_existing=True)
        )
    )


def _lock_claim_lines(session: Session, ids: Sequence[int]) -> list[ClaimLine]:
    return list(
        session.scalars(
            sa.select(ClaimLine)
            .where(ClaimLine.id.in_(sorted(ids)))
            .order_by(ClaimLine.id)
            .with_for_update(of=ClaimLine)
            .execution_options(populate_existing=True)
        )
    )


def _post_payout(
    session: Session, line: PayoutLine, *, actor_id: int | None, now: datetime
) -> list[int]:
    """Provider payable → paid out, one posting per programme, keyed by the payment line; for
    a co-funded programme the same posting moves the paying funder's part ``funder_spent →
    funder_paid`` (a payment line is one treasury's: its batch's)."""
    per_programme: dict[int, int] = defaultdict(int)
    per_funder: dict[tuple[int, int], int] = defaultdict(int)
    for item in line.items:
        per_programme[item.programme_id] += item.amount_fen
        if item.funder_id is not None:
            per_funder[(item.programme_id, item.funder_id)] += item.amount_fen
    co_funded = set(
        session.scalars(
            sa.select(Programme.id).where(
                Programme.id.in_(list(per_programme)), Programme.co_funded.is_(True)
            )
        )
    )
    transactions = []
    for programme_id in sorted(per_programme):
        payable = ledger.get_account(
            session,
            AccountKind.PROVIDER_PAYABLE,
            programme_id=programme_id,
            provider_id=line.provider_id,
        )
        paid = ledger.get_account(
            session,
            AccountKind.PROVIDER_PAID,
            programme_id=programme_id,
            provider_id=line.provider_id,
        )
        entries = ledger.transfer(payable, paid, per_programme[programme_id])
        if programme_id in co_funded:
            for (pid, funder_id), amount in sorted(per_funder.items()):
                if pid == programme_id:
                    entries += funders.payout_entries(session, programme_id, funder_id, amount)
        posted = ledger.post(
            session,
            f"payout:{line.id}:p{programme_id}",
            TransactionKind.PAYOUT,
            entries,
            programme_id=programme_id,
            actor_id=actor_id,
            memo=f"{line.reference} {line.bank_transaction_id or ''}".strip(),
            now=now,
        )
        transactions.append(posted.transaction.id)
    return transactions


def _fully_paid(session: Session, claim_line: ClaimLine) -> bool:
    """Every funder part of ``claim_line`` is held by a paid payment line."""
    paid_payers = {
        int(funder_id or OWN_BUDGET)
        for (funder_id,) in session.execute(
            sa.select(PayoutItem.funder_id)
            .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
            .where(
                PayoutItem.claim_line_id == claim_line.id,
                PayoutLine.status == PayoutLineStatus.PAID,
            )
        )
    }
    parts = line_parts(session, [claim_line])[claim_line.id]
    return all(part.payer in paid_payers for part in parts)


def _apply(
    session: Session,
    batch: PayoutBatch,
    line: PayoutLine,
    row: ConfirmationRow,
    *,
    actor_id: int | None,
    now: datetime,
) -> set[int]:
    """Record one bank outcome on a pending payment line; returns the claims touched."""
    paid = row.status is PayoutLineStatus.PAID
    try:
        # Changed inside the savepoint: a bank transaction id already recorded for another
        # line fails on the UNIQUE key here and only this savepoint rolls back.
        with session.begin_nested():
            rules.PAYOUT_LINE.move(line, PayoutLineAction.PAY if paid else PayoutLineAction.FAIL)
            line.bank_transaction_id = row.bank_transaction_id
            line.value_date = row.value_date
            line.failure_reason = None if paid else (row.reason or None)
            line.confirmed_at, line.confirmed_by_id = now, actor_id
            session.flush()
    except IntegrityError:
        raise ConfirmationConflict(
            f"银行流水号 {row.bank_transaction_id} 已用于其他付款行 / bank transaction "
            f"{row.bank_transaction_id} is already recorded for another payment line",
            extra={"payment_line_id": line.id},
        ) from None
    orders = {
        item.order_id: lock_order(session, item.order_id)
        for item in sorted(line.items, key=lambda i: i.order_id)
    }
    claim_lines = _lock_claim_lines(session, [item.claim_line_id for item in line.items])
    transactions = _post_payout(session, line, actor_id=actor_id, now=now) if paid else []
    note = f"{line.reference} {row.bank_transaction_id or row.reason or ''}".strip()
    waiting: list[int] = []
    for claim_line in claim_lines:
        if paid:
            if not _fully_paid(session, claim_line):
                # Another treasury's part is still to be paid: the line stays in payout.
                waiting.append(claim_line.id)
                continue
            move_line(session, claim_line, ClaimAction.PAY, actor_id=actor_id, now=now, note=note)
            # Reversed while the bank was paying: what was paid is to be recovered.
            reversals.recover_if_reversed(session, claim_line, now=now)
            order_action = OrderAction.PAY_OUT
        else:
            others = {
                payer: pl
                for payer, pl in _held_payers(session, [claim_line.id])
                .get(claim_line.id, {})
                .items()
                if pl != line.id
            }
            if others:
                # Another treasury's part is still in payout: only this part goes back.
                if claim_line.payout_line_id == line.id:
                    claim_line.payout_line_id = min(others.values())
            else:
                move_line(
                    session,
                    claim_line,
                    ClaimAction.PAYOUT_FAIL,
                    actor_id=actor_id,
                    now=now,
                    note=note,
                )
                # Back in the queue: the next batch may take it again.
                claim_line.payout_line_id = None
            order_action = OrderAction.PAYOUT_FAILED
        move_order(
            session,
            orders[claim_line.order_id],
            order_action,
            Actor.FINANCE,
            actor_id=actor_id,
            now=now,
            note=row.reason,
            payout_line_id=line.id,
            bank_transaction_id=row.bank_transaction_id,
            value_date=row.value_date.isoformat(),
        )
    record(
        session,
        f"payout_line.{row.status.value}",
        actor_id=actor_id,
        subject_type="payout_batch",
        subject_id=batch.id,
        payment_line_id=line.id,
        provider_id=line.provider_id,
        funder_id=batch.funder_id,
        amount_fen=line.amount_fen,
        bank_transaction_id=row.bank_transaction_id,
        value_date=row.value_date.isoformat(),
        ledger_transactions=transactions,
        claim_lines=[cl.id for cl in claim_lines],
        claim_lines_awaiting_other_funders=waiting,
    )
    notices.payout_result(session, batch, line)
    return {cl.claim_id for cl in claim_lines}


def import_confirmation(
    session: Session,
    batch_id: int,
    rows: Sequence[ConfirmationRow],
    *,
    actor_id: int | None,
    source: str = "json",
    now: datetime | None = None,
) -> ImportResult:
    """Apply the bank's confirmation of a sent batch (see the module docstring).

    Rows for lines already confirmed the same way are counted ``unchanged``. Raises
    PayoutBatchNotFound, PayoutStateConflict (the batch was not sent), ConfirmationMismatch
    (rows that name no line of the batch, contradict each other or share a bank transaction),
    ConfirmationConflict (a row contradicts an earlier import, or reuses a bank transaction id
    recorded before), SeparationOfDuties (the batch's builder); nothing is written then.
    """
    actor_id = _officer(actor_id, "导入银行回单")
    now = now or utcnow()
    with session.begin_nested():
        batch = _lock_batch(session, batch_id)
        ensure_confirmable(batch)
        _not_the_builder(batch, actor_id, "导入其银行回单", "import its bank confirmation")
        chosen = _resolve(batch, rows)
        lines = _lock_payout_lines(session, list(chosen))
        result = ImportResult(batch)
        conflicts = []
        for line in lines:
            row = chosen[line.id]
            if line.status is PayoutLineStatus.PENDING:
                continue
            if _recorded(line) == (row.status, row.bank_transaction_id, row.value_date):
                result.unchanged.append(line.id)
            else:
                conflicts.append(line.id)
        if conflicts:
            raise ConfirmationConflict(
                f"付款行 {conflicts} 已有不同的银行确认 / payment lines {conflicts} were already "
                "confirmed differently",
                extra={"payment_line_ids": conflicts},
            )
        claim_ids: set[int] = set()
        for line in lines:
            if line.status is PayoutLineStatus.PENDING:
                claim_ids |= _apply(
                    session, batch, line, chosen[line.id], actor_id=actor_id, now=now
                )
                result.applied.append(line.id)
        _refresh_claims(session, claim_ids)
        session.refresh(batch, ["lines"])
        if result.applied:
            if all(pl.status is not PayoutLineStatus.PENDING for pl in batch.lines):
                rules.PAYOUT_BATCH.move(batch, PayoutBatchAction.COMPLETE)
                batch.completed_at = now
            batch.version += 1
        record(
            session,
            "payout_batch.confirmation_imported",
            actor_id=actor_id,
            subject_type="payout_batch",
            subject_id=batch.id,
            source=source,
            applied=result.applied,
            unchanged=result.unchanged,
        )
        session.flush()
    return result


# --------------------------------------------------------------------------- settling


def _paid_by(today: date) -> sa.Subquery:
    """The claim lines whose paid payments (every funder part's) all have a value date on or
    before ``today``."""
    return (
        sa.select(PayoutItem.claim_line_id.label("claim_line_id"))
        .join(PayoutLine, PayoutLine.id == PayoutItem.payout_line_id)
        .where(PayoutLine.status == PayoutLineStatus.PAID)
        .group_by(PayoutItem.claim_line_id)
        .having(sa.func.max(PayoutLine.value_date) <= today)
        .subquery()
    )


def orders_to_settle(session: Session, today: date) -> list[int]:
    """Paid-out orders whose bank value date — every funder part's — is on or before
    ``today``."""
    latest = _paid_by(today)
    return list(
        session.scalars(
            sa.select(Order.id)
            .join(ClaimLine, ClaimLine.order_id == Order.id)
            .join(latest, latest.c.claim_line_id == ClaimLine.id)
            .where(Order.status == OrderStatus.PAID_OUT, ClaimLine.status == ClaimLineStatus.PAID)
            .order_by(Order.id)
        )
    )


def settle_order(
    session: Session, order_id: int, *, today: date, now: datetime | None = None
) -> bool:
    """Move one paid-out order to settled once its payments' (latest) value date has come.

    Returns False (changing nothing) when the order is not, or no longer, due: safe to repeat.
    """
    now = now or utcnow()
    with session.begin_nested():
        order = lock_order(session, order_id)
        if order.status is not OrderStatus.PAID_OUT:
            return False
        paid = session.execute(
            sa.select(PayoutLine.id, PayoutLine.value_date)
            .join(PayoutItem, PayoutItem.payout_line_id == PayoutLine.id)
            .join(ClaimLine, ClaimLine.id == PayoutItem.claim_line_id)
            .where(ClaimLine.order_id == order_id, PayoutLine.status == PayoutLineStatus.PAID)
            .order_by(PayoutLine.value_date.desc(), PayoutLine.id.desc())
        ).first()
        if paid is None or paid.value_date is None or paid.value_date > today:
            return False
        move_order(
            session,
            order,
            OrderAction.SETTLE,
            Actor.SYSTEM,
            actor_id=None,
            now=now,
            payout_line_id=paid.id,
            value_date=paid.value_date.isoformat(),
        )
        record(
            session,
            "order.settled",
            actor_id=None,
            subject_type="order",
            subject_id=order_id,
            payout_line_id=paid.id,
            today=today.isoformat(),
        )
        session.flush()
    return True


def settle_due(session: Session, *, today: date | None = None, now: datetime | None = None) -> int:
    """Settle every due order (services: one unit of work; the CLI commits per batch)."""
    now = now or utcnow()
    day = today or local_date(now)
    return sum(
        settle_order(session, oid, today=day, now=now) for oid in orders_to_settle(session, day)
    )
