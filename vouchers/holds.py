"""Holds on vouchers for orders: place, capture, release. The orders work calls these.

API
---
``place_hold(session, voucher, order_ref, requested_fen, price_fen, idempotency_key, now,
service_category=None, actor_id=None) -> Hold``
    Reserves ``min(requested, floor(price × ceiling), voucher balance, remaining annual cap)``
    (:func:`vouchers.rules.split_order`) atomically: the voucher row and the enterprise's
    quota row for the calendar year of ``now`` (China time) are locked, checked and updated
    together with one ledger posting (voucher_balance → voucher_held). ``hold.amount_fen`` is
    what the voucher covers; the enterprise pays ``price_fen − hold.amount_fen``.
    Raises AmountInvalid, ValidationFailed (key or order_ref), EnterpriseBlacklisted,
    EnterpriseUnverified, VoucherExpired,
    VoucherNotYetValid, VoucherRevoked, VoucherExhausted, CapExceeded, NotEligible (category
    not funded), IdempotencyConflict (key reused for a different hold).

``release_hold(session, hold, idempotency_key, now, reason="cancelled", actor_id=None,
to_budget=False)``
    Gives the whole hold back: to the voucher's balance while the voucher is live, straight to
    the programme budget if the voucher has expired meanwhile (or ``to_budget`` asks for it:
    an order confirmed after the claim deadline). Raises HoldNotOpen.

``capture_hold(session, hold, idempotency_key, now, provider_id, amount_fen=None,
actor_id=None)``
    Spends the hold (or ``amount_fen`` ≤ the hold, the rest is released in the same
    transaction): voucher_held → provider_payable, budget_committed → budget_spent, and the
    quota moves from held to used. Raises AmountInvalid, HoldNotOpen, ClaimDeadlinePassed.

``reverse_capture(session, hold_id, amount_fen, idempotency_key, now, actor_id=None, memo="")``
    Gives back ``amount_fen`` of a captured hold, when a dispute is upheld after confirmation
    (see :func:`reverse_capture`). Raises NotFound, HoldNotOpen (not captured), AmountInvalid,
    InsufficientFunds (the provider was already paid out that money).

Each call is idempotent on its key: repeating it returns the same hold and changes nothing.
A hold is resolved (captured or released) at most once: the hold row is locked and moved by
:data:`vouchers.rules.HOLD`, which refuses a resolved hold (HoldNotOpen), and the ledger's
UNIQUE ``resolves_hold_id`` refuses a second resolution outright. A voucher's status moves by
:data:`vouchers.rules.VOUCHER`: exhausted when a hold takes its last fen, active again when
money returns to its balance.
Services flush and never commit. ``place_hold`` runs every check before its first write and
takes no savepoint (an error fails the caller's transaction, which the request boundary rolls
back); ``release_hold`` and ``capture_hold`` write in a savepoint, so an error leaves nothing
behind.

Open holds and expiry (the documented rule): a hold placed before the voucher's use-by date
stays valid after it. Its order may still be captured until the programme's claim deadline,
or released (the amount then returns to the programme budget, not to the expired voucher).
``flask vouchers expire`` releases whatever is still held after the claim deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.errors import DomainError, NotFound, ValidationFailed
from vouchers import funders, ledger, rules
from vouchers.common import MAX_ID
from vouchers.enums import (
    AccountKind,
    FreezeStatus,
    HoldAction,
    TransactionKind,
    VoucherAction,
    VoucherStatus,
)
from vouchers.errors import (
    AmountInvalid,
    CapExceeded,
    ClaimDeadlinePassed,
    EnterpriseBlacklisted,
    EnterpriseUnverified,
    HoldFrozen,
    IdempotencyConflict,
    InsufficientFunds,
    NotEligible,
    VoucherExhausted,
    VoucherExpired,
    VoucherNotYetValid,
    VoucherRevoked,
)
from vouchers.ledger import Entry
from vouchers.ledger_models import LedgerAccount, LedgerTransaction
from vouchers.models import Enterprise, Hold, HoldFreeze, Programme, Quota, Voucher
from vouchers.quota import (
    group_remaining,
    lock_group_quotas,
    lock_quota_by_id,
    read_quota,
)

MAX_ORDER_REF = 100
#: The release reason of a hold whose whole capture was reversed by an upheld dispute.
REVERSAL_REASON = "dispute_upheld"


_LOCKED_VOUCHERS = "vouchers.locked"


def lock_voucher(session: Session, voucher_id: int, *, field: str | None = None) -> Voucher:
    """The voucher row, locked (``FOR UPDATE``) and re-read. NotFound (at ``field``) if none.

    The lock is remembered for the session's current transaction, so :func:`place_hold` given
    a voucher its caller locked does not read it a second time."""
    if not 0 < voucher_id <= MAX_ID:
        raise NotFound("没有该电子券 / no such voucher", field=field)
    voucher = session.scalars(
        sa.select(Voucher)
        .where(Voucher.id == voucher_id)
        .with_for_update(of=Voucher)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if voucher is None:
        raise NotFound("没有该电子券 / no such voucher", field=field)
    session.info.setdefault(_LOCKED_VOUCHERS, {})[voucher.id] = session.get_transaction()
    return voucher


def _locked(session: Session, voucher: Voucher | int) -> Voucher:
    """``voucher`` locked in this transaction: as it is when :func:`lock_voucher` locked it in
    the transaction still open (the lock holds until it ends), otherwise locked now."""
    if isinstance(voucher, Voucher):
        locks = session.info.get(_LOCKED_VOUCHERS, {})
        transaction = session.get_transaction()
        if transaction is not None and locks.get(voucher.id) is transaction:
            return voucher
        return lock_voucher(session, voucher.id)
    return lock_voucher(session, voucher)


def _lock_hold(session: Session, hold_id: int) -> Hold:
    return session.scalars(
        sa.select(Hold)
        .where(Hold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def frozen_hold_ids(session: Session, hold_ids: list[int]) -> set[int]:
    """Those of ``hold_ids`` frozen by a blacklisting and not yet decided (no capture, no
    claim: see :mod:`vouchers.freezes`)."""
    if not hold_ids:
        return set()
    return set(
        session.scalars(
            sa.select(HoldFreeze.hold_id).where(
                HoldFreeze.hold_id.in_(hold_ids), HoldFreeze.status == FreezeStatus.FROZEN
            )
        )
    )


def _check_key(key: str, field: str = "idempotency_key") -> str:
    if (
        not isinstance(key, str)
        or not key.strip()
        or len(key) > ledger.MAX_KEY_LENGTH
        or "\x00" in key
    ):
        raise ValidationFailed(
            f"invalid {field}",
            {
                field: [
                    f"1–{ledger.MAX_KEY_LENGTH} characters / 须为1至{ledger.MAX_KEY_LENGTH}个字符"
                ]
            },
        )
    return key


def check_enterprise_may_use(enterprise: Enterprise) -> None:
    if enterprise.blacklisted:
        raise EnterpriseBlacklisted(
            "企业已被列入失信名单，不能使用电子券 / the enterprise is on the dishonesty list"
        )
    if not enterprise.is_verified:
        raise EnterpriseUnverified("企业尚未通过核验 / the enterprise is not verified")


def check_voucher_usable(voucher: Voucher, now: datetime) -> None:
    """Raise the specific VoucherNotUsable error if no new hold may be placed on it."""
    today = clock.local_date(now)
    if voucher.status is VoucherStatus.REVOKED:
        raise VoucherRevoked(
            f"电子券 {voucher.serial} 已被撤销 / voucher {voucher.serial} was revoked"
        )
    if voucher.status is VoucherStatus.EXPIRED or today > voucher.use_by:
        raise VoucherExpired(
            f"电子券 {voucher.serial} 已于 {voucher.use_by} 到期 / voucher {voucher.serial} "
            f"could be used until {voucher.use_by}"
        )
    if today < voucher.valid_from:
        raise VoucherNotYetValid(
            f"电子券自 {voucher.valid_from} 起可用 / the voucher is valid from {voucher.valid_from}"
        )
    if voucher.balance_fen == 0:
        raise VoucherExhausted(
            f"电子券 {voucher.serial} 余额为零 / the voucher has no balance left"
        )


def _checked_split(
    session: Session,
    voucher: Voucher,
    programme: Programme,
    requested_fen: int,
    price_fen: int,
    now: datetime,
    service_category: str | None,
) -> tuple[Quota, rules.Split]:
    """Every rule a new hold must pass, on the locked voucher and its locked quota row; the
    quota and the split (with a voucher part of at least one fen)."""
    check_enterprise_may_use(voucher.enterprise)
    check_voucher_usable(voucher, now)
    if service_category is not None and service_category not in programme.eligible_categories:
        raise NotEligible(
            f"本券种不支持服务类别 {service_category} / the programme does not fund "
            f"{service_category} services"
        )
    year = clock.local_date(now).year
    # A group under one controller shares one cap when the programme says so (group_cap);
    # the members' quota rows, this one's among them, are locked in id order (vouchers.quota).
    group = lock_group_quotas(session, voucher.enterprise_id, year, programme)
    quota = next(q for q in group if q.enterprise_id == voucher.enterprise_id)
    split = rules.split_order(
        price_fen=price_fen,
        requested_fen=requested_fen,
        ceiling_bps=programme.ceiling_bps,
        balance_fen=voucher.balance_fen,
        cap_remaining_fen=min(quota.remaining_fen, group_remaining(group)),
    )
    if split.voucher_fen == 0:
        if split.limited_by is rules.Limit.CAP:
            raise CapExceeded(
                f"本年度可用额度已用完（上限 {quota.cap_fen} 分） / the enterprise's annual cap "
                f"of {quota.cap_fen} fen is used up for {quota.year}",
                extra={
                    "cap_fen": quota.cap_fen,
                    "remaining_fen": 0,
                    "group_enterprise_ids": [q.enterprise_id for q in group],
                },
            )
        raise AmountInvalid(
            "订单价格过低，按抵扣比例计算的券额不足1分 / the price is too small for the voucher to"
            " cover a whole fen",
            field="price_fen",
        )
    return quota, split


def _insert_hold(session: Session, **values: object) -> Hold | None:
    """INSERT the hold unless its idempotency key exists (then None): one round trip."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        module.insert(Hold)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Hold)
    )
    return session.scalars(stmt).one_or_none()


def _same_hold(hold: Hold, voucher_id: int, order_ref: str, requested: int, price: int) -> Hold:
    if (hold.voucher_id, hold.order_ref, hold.requested_fen, hold.price_fen) != (
        voucher_id,
        order_ref,
        requested,
        price,
    ):
        raise IdempotencyConflict(
            "该幂等键已用于另一笔冻结 / this idempotency key was used for a different hold"
        )
    return hold


def preview_split(
    session: Session, voucher: Voucher, requested_fen: int, price_fen: int, now: datetime
) -> rules.Split:
    """What :func:`place_hold` would take right now (no lock, nothing written)."""
    rules.validate_amount(requested_fen, field="requested_fen")
    rules.validate_amount(price_fen, field="price_fen")
    programme = voucher.programme
    quota = read_quota(session, voucher.enterprise_id, clock.local_date(now).year, programme)
    return rules.split_order(
        price_fen=price_fen,
        requested_fen=requested_fen,
        ceiling_bps=programme.ceiling_bps,
        balance_fen=voucher.balance_fen if voucher.status.is_live else 0,
        cap_remaining_fen=quota.remaining_fen,
    )


@dataclass(frozen=True, slots=True)
class Preview:
    """What a hold on ``voucher`` would take for an order, before anything moves."""

    voucher: Voucher
    #: The split place_hold would make now (voucher part 0 when the voucher cannot be used).
    split: rules.Split
    cap_remaining_fen: int
    #: The code of the error place_hold would raise (None when it would succeed).
    refusal: str | None

    @property
    def remaining_after_fen(self) -> int:
        """The enterprise's annual allowance left once this voucher part is held."""
        return self.cap_remaining_fen - self.split.voucher_fen


def preview_hold(
    session: Session,
    voucher: Voucher,
    *,
    price_fen: int,
    requested_fen: int,
    service_category: str | None = None,
    now: datetime | None = None,
) -> Preview:
    """The split :func:`place_hold` would make, read without locking or writing: the same
    checks and the same rule (``rules.split_order``), so the page shows what will happen."""
    now = now or utcnow()
    programme = voucher.programme
    quota = read_quota(session, voucher.enterprise_id, clock.local_date(now).year, programme)
    refusal: str | None = None
    try:
        check_enterprise_may_use(voucher.enterprise)
        check_voucher_usable(voucher, now)
        if service_category is not None and service_category not in programme.eligible_categories:
            refusal = NotEligible.code
    except DomainError as exc:
        exc.recovered()  # a preview reports why; nothing was attempted
        refusal = exc.code
    usable = refusal is None
    split = rules.split_order(
        price_fen=price_fen,
        requested_fen=requested_fen if usable else 0,
        ceiling_bps=programme.ceiling_bps,
        balance_fen=voucher.balance_fen if usable else 0,
        cap_remaining_fen=quota.remaining_fen,
    )
    return Preview(voucher, split, quota.remaining_fen, refusal)


def previews_for(
    session: Session,
    enterprise_id: int,
    *,
    price_fen: int,
    requested_fen: int | None = None,
    service_category: str | None = None,
) -> list[Preview]:
    """What each of the enterprise's active vouchers with a balance would pay of ``price_fen``
    (:func:`preview_hold`; ``requested_fen`` None asks for the whole price), the most covered
    first, then the one to be used first. The accept form and the service page's estimate."""
    vouchers = session.scalars(
        sa.select(Voucher)
        .where(
            Voucher.enterprise_id == enterprise_id,
            Voucher.status == VoucherStatus.ACTIVE,
            Voucher.balance_fen > 0,
        )
        .order_by(Voucher.use_by, Voucher.id)
    )
    found = [
        preview_hold(
            session,
            voucher,
            price_fen=price_fen,
            requested_fen=price_fen if requested_fen is None else requested_fen,
            service_category=service_category,
        )
        for voucher in vouchers
    ]
    return sorted(found, key=lambda p: -p.split.voucher_fen)


def place_hold(
    session: Session,
    voucher: Voucher | int,
    order_ref: str,
    requested_fen: int,
    price_fen: int,
    idempotency_key: str,
    now: datetime | None = None,
    *,
    service_category: str | None = None,
    actor_id: int | None = None,
) -> Hold:
    """Reserve voucher money for an order (see the module docstring for the rule and errors)."""
    now = now or utcnow()
    rules.validate_amount(requested_fen, field="requested_fen")
    rules.validate_amount(price_fen, field="price_fen")
    key = _check_key(idempotency_key)
    _check_key(order_ref, "order_ref")
    if len(order_ref) > MAX_ORDER_REF:
        raise ValidationFailed(
            "invalid order_ref", {"order_ref": ["1–100 characters / 须为1至100个字符"]}
        )
    # No savepoint: every check below runs before the first write, and an error after it
    # (the ledger refusing a posting) fails the caller's whole transaction anyway.
    # Lock order: voucher, then quota (see vouchers.quota).
    locked = _locked(session, voucher)
    programme: Programme = locked.programme
    try:
        quota, split = _checked_split(
            session, locked, programme, requested_fen, price_fen, now, service_category
        )
        # A co-funded programme: each funder's part, its budget checked (vouchers.funders).
        parts = (
            funders.plan_parts(session, programme, locked.enterprise, split.voucher_fen)
            if programme.co_funded
            else []
        )
    except DomainError as error:
        # A retry of a hold placed before answers with that hold, whatever changed since (the
        # voucher exhausted by it, say); only a key never used gets the refusal.
        existing = session.scalar(sa.select(Hold).where(Hold.idempotency_key == key))
        if existing is None:
            raise
        error.recovered()
        return _same_hold(existing, locked.id, order_ref, requested_fen, price_fen)
    # The key's UNIQUE constraint answers "placed before?": the insert claims it or, on a
    # retry, inserts nothing and the stored hold is returned (before anything was changed).
    hold = _insert_hold(
        session,
        voucher_id=locked.id,
        quota_id=quota.id,
        order_ref=order_ref,
        requested_fen=requested_fen,
        price_fen=price_fen,
        amount_fen=split.voucher_fen,
        idempotency_key=key,
        placed_at=now,
    )
    if hold is None:
        existing = session.scalars(sa.select(Hold).where(Hold.idempotency_key == key)).one()
        return _same_hold(existing, locked.id, order_ref, requested_fen, price_fen)
    amount = split.voucher_fen
    locked.balance_fen -= amount
    locked.held_fen += amount
    if locked.balance_fen == 0:
        rules.VOUCHER.move(locked, VoucherAction.EXHAUST)
    quota.held_fen += amount
    accounts = ledger.voucher_accounts(session, programme.id, locked.id)
    entries = ledger.transfer(accounts.balance, accounts.held, amount)
    if programme.co_funded:
        entries += funders.hold_entries(session, hold, programme.id, parts)
    try:
        ledger.post(
            session,
            f"hold.place:{key}",
            TransactionKind.HOLD,
            entries,
            programme_id=programme.id,
            voucher_id=locked.id,
            hold_id=hold.id,
            actor_id=actor_id,
            memo=f"order {order_ref}",
            now=now,
        )
    except InsufficientFunds:
        # Only a funder's budget can run short here (the voucher row is locked): a racing
        # hold took it between the check and the ledger's conditional UPDATE.
        raise funders.budget_refusal(session, programme.id, parts) from None
    record(
        session,
        "hold.placed",
        actor_id=actor_id,
        subject_type="voucher",
        subject_id=locked.id,
        hold_id=hold.id,
        order_ref=order_ref,
        amount_fen=amount,
        price_fen=price_fen,
        limited_by=split.limited_by.value,
    )
    return hold


def _lock_for_resolution(session: Session, hold: Hold | int) -> tuple[Voucher, Quota, Hold]:
    hold_id = hold if isinstance(hold, int) else hold.id
    current = session.get(Hold, hold_id)
    if current is None:
        raise NotFound("没有该冻结记录 / no such hold")
    voucher = lock_voucher(session, current.voucher_id)
    quota = lock_quota_by_id(session, current.quota_id)
    return voucher, quota, _lock_hold(session, hold_id)


def _replenish(voucher: Voucher, amount: int) -> None:
    """Put ``amount`` back on a live voucher's balance: an exhausted voucher is usable again."""
    voucher.balance_fen += amount
    if rules.VOUCHER.allows(voucher.status, VoucherAction.REPLENISH):
        rules.VOUCHER.move(voucher, VoucherAction.REPLENISH)


def _return_entries(
    session: Session,
    voucher: Voucher,
    source: LedgerAccount,
    amount: int,
    *,
    to_budget: bool = False,
) -> list[Entry]:
    """Entries that give ``amount`` from ``source`` (a voucher account) back: to the voucher's
    balance while it is live (unless ``to_budget``), otherwise to the programme budget."""
    if voucher.status.is_live and not to_budget:
        _replenish(voucher, amount)
        balance = ledger.voucher_accounts(session, voucher.programme_id, voucher.id).balance
        return ledger.transfer(source, balance, amount)
    voucher.returned_fen += amount
    prog = ledger.programme_accounts(session, voucher.programme_id)
    return ledger.transfer(source, prog.issued, amount) + ledger.transfer(
        prog.committed, prog.available, amount
    )


def release_hold(
    session: Session,
    hold: Hold | int,
    idempotency_key: str,
    now: datetime | None = None,
    *,
    reason: str = "cancelled",
    actor_id: int | None = None,
    to_budget: bool = False,
) -> Hold:
    """Release a hold in full: to the live voucher's balance, or to the programme budget when
    the voucher is no longer live or ``to_budget`` is set (the money can no longer be spent
    on this voucher: its order was confirmed after the claim deadline).

    Raises HoldNotOpen (resolved under another key), NotFound."""
    now = now or utcnow()
    key = _check_key(idempotency_key)
    with session.begin_nested():
        voucher, quota, locked = _lock_for_resolution(session, hold)
        if locked.resolution_key == key:
            return locked  # a retry: this key resolved the hold already
        # HoldNotOpen if resolved under another key, before anything changes.
        rules.HOLD.next(locked.status, HoldAction.RELEASE)
        amount = locked.amount_fen
        held_account = ledger.voucher_accounts(session, voucher.programme_id, voucher.id).held
        # The funder leg first: its queries must not autoflush the counters half-moved.
        funder_entries = (
            funders.resolve_entries(session, locked, voucher.programme_id, 0)
            if voucher.programme.co_funded
            else []
        )
        quota.held_fen -= amount
        voucher.held_fen -= amount
        entries = _return_entries(session, voucher, held_account, amount, to_budget=to_budget)
        entries += funder_entries
        # The status moves with the fields CHECK resolution_consistent ties to it, no query
        # (and so no autoflush) in between.
        rules.HOLD.move(locked, HoldAction.RELEASE)
        locked.released_fen = amount
        locked.resolved_at = now
        locked.resolution_key = key
        locked.release_reason = reason[:40]
        session.flush()
        ledger.post(
            session,
            f"hold.release:{key}",
            TransactionKind.RELEASE,
            entries,
            programme_id=voucher.programme_id,
            voucher_id=voucher.id,
            hold_id=locked.id,
            resolves_hold_id=locked.id,
            actor_id=actor_id,
            memo=f"order {locked.order_ref}: {reason}",
            now=now,
        )
        record(
            session,
            "hold.released",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            hold_id=locked.id,
            amount_fen=amount,
            reason=reason,
        )
    return locked


def capture_hold(
    session: Session,
    hold: Hold | int,
    idempotency_key: str,
    now: datetime | None = None,
    *,
    provider_id: int,
    amount_fen: int | None = None,
    actor_id: int | None = None,
) -> Hold:
    """Spend a hold for a completed order; a smaller ``amount_fen`` releases the rest.

    Raises AmountInvalid, HoldNotOpen, ClaimDeadlinePassed, NotFound (hold). ``provider_id`` is
    the order's provider; the ledger's foreign key refuses any other.
    """
    now = now or utcnow()
    key = _check_key(idempotency_key)
    if amount_fen is not None:
        rules.validate_amount(amount_fen)
    with session.begin_nested():
        voucher, quota, locked = _lock_for_resolution(session, hold)
        if locked.resolution_key == key:
            return locked  # a retry: this key resolved the hold already
        # HoldNotOpen if resolved under another key, before the amount and the date are checked.
        rules.HOLD.next(locked.status, HoldAction.CAPTURE)
        if frozen_hold_ids(session, [locked.id]):
            raise HoldFrozen(
                f"订单 {locked.order_ref} 的电子券资金因失信名单冻结，待审核 / the voucher money "
                f"of {locked.order_ref} is frozen by a blacklisting until a reviewer decides",
                extra={"hold_id": locked.id},
            )
        captured = locked.amount_fen if amount_fen is None else amount_fen
        if captured > locked.amount_fen:
            raise AmountInvalid(
                f"核销金额不能超过冻结金额 {locked.amount_fen} 分 / cannot capture more than the "
                f"{locked.amount_fen} fen held",
                field="amount_fen",
            )
        if clock.local_date(now) > voucher.claim_deadline:
            raise ClaimDeadlinePassed(
                f"已超过兑付申请截止日 {voucher.claim_deadline} / the claim deadline "
                f"{voucher.claim_deadline} has passed"
            )
        rest = locked.amount_fen - captured
        prog = ledger.programme_accounts(session, voucher.programme_id)
        held_account = ledger.voucher_accounts(session, voucher.programme_id, voucher.id).held
        payable = ledger.get_account(
            session,
            AccountKind.PROVIDER_PAYABLE,
            programme_id=voucher.programme_id,
            provider_id=provider_id,
        )
        # The funder leg first: its queries must not autoflush the counters half-moved.
        funder_entries = (
            funders.resolve_entries(session, locked, voucher.programme_id, captured)
            if voucher.programme.co_funded
            else []
        )
        quota.held_fen -= locked.amount_fen
        quota.used_fen += captured
        voucher.held_fen -= locked.amount_fen
        voucher.used_fen += captured
        entries = ledger.transfer(held_account, payable, captured) + ledger.transfer(
            prog.committed, prog.spent, captured
        )
        if rest:
            entries += _return_entries(session, voucher, held_account, rest)
        entries += funder_entries
        rules.HOLD.move(locked, HoldAction.CAPTURE)
        locked.captured_fen = captured
        locked.released_fen = rest
        locked.provider_id = provider_id
        locked.resolved_at = now
        locked.resolution_key = key
        session.flush()
        ledger.post(
            session,
            f"hold.capture:{key}",
            TransactionKind.CAPTURE,
            entries,
            programme_id=voucher.programme_id,
            voucher_id=voucher.id,
            hold_id=locked.id,
            resolves_hold_id=locked.id,
            actor_id=actor_id,
            memo=f"order {locked.order_ref}",
            now=now,
        )
        record(
            session,
            "hold.captured",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            hold_id=locked.id,
            amount_fen=captured,
            released_fen=rest,
            provider_id=provider_id,
        )
    return locked


def reverse_capture(
    session: Session,
    hold_id: int,
    amount_fen: int,
    idempotency_key: str,
    now: datetime | None = None,
    *,
    actor_id: int | None = None,
    memo: str = "",
    to_budget: bool = False,
) -> Hold:
    """Return ``amount_fen`` (1 … captured) of a captured hold to its voucher or the budget
    (always the budget with ``to_budget``: a blacklisted enterprise's order released).

    A capture is final for :func:`capture_hold`, but the SME may dispute a confirmed
    (captured) order until its confirmation deadline, and an upheld dispute must then restore
    (part of) the voucher. This is the exact inverse of the captured part of
    :func:`capture_hold`, with the same locks in the same order (voucher, quota, hold) and one
    balanced posting keyed ``hold.reverse:<idempotency_key>``:

    * ``provider_payable → voucher_balance`` and ``budget_spent → budget_committed`` while the
      voucher is live (the amount is spendable again), or
    * ``provider_payable → vouchers_issued`` and ``budget_spent → budget_available`` once the
      voucher has expired or was revoked (back to the programme budget, as a release after
      expiry does);

    and the cached counters move with it: the hold's ``captured_fen`` down and
    ``released_fen`` up (a hold whose whole capture is reversed becomes *released*, reason
    ``dispute_upheld``), the voucher's and the enterprise's annual ``used_fen`` down. The
    posting does not *resolve* the hold again (a hold is still resolved exactly once), so
    ``flask ledger verify`` holds after every reversal. Idempotent on its key.

    Raises NotFound, HoldNotOpen (the hold is not captured), AmountInvalid (more than was
    captured), InsufficientFunds (the provider was already paid out that money).
    """
    now = now or utcnow()
    key = f"hold.reverse:{idempotency_key}"
    with session.begin_nested():
        voucher, quota, locked = _lock_for_resolution(session, hold_id)
        done = session.scalar(
            sa.select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)
        )
        if done is not None:
            return locked
        # Giving back part of a capture, or all of it, needs a captured hold: HoldNotOpen.
        rules.HOLD.next(locked.status, HoldAction.REVERSE_CAPTURE)
        provider_id = locked.provider_id
        assert provider_id is not None  # a captured hold has one (CHECK capture_has_provider)
        if isinstance(amount_fen, bool) or not 0 < amount_fen <= locked.captured_fen:
            raise AmountInvalid(
                f"冲回金额须为1至{locked.captured_fen}分 / the amount to give back must be 1–"
                f"{locked.captured_fen} fen",
                field="amount_fen",
            )
        programme_id = voucher.programme_id
        prog = ledger.programme_accounts(session, programme_id)
        payable = ledger.get_account(
            session,
            AccountKind.PROVIDER_PAYABLE,
            programme_id=programme_id,
            provider_id=provider_id,
        )
        # The funder leg first: its queries must not autoflush the counters half-moved.
        funder_entries = (
            funders.reversal_entries(session, locked, programme_id, amount_fen)
            if voucher.programme.co_funded
            else []
        )
        if voucher.status.is_live and not to_budget:
            balance = ledger.voucher_accounts(session, programme_id, voucher.id).balance
            entries = ledger.transfer(payable, balance, amount_fen) + ledger.transfer(
                prog.spent, prog.committed, amount_fen
            )
            _replenish(voucher, amount_fen)
        else:
            entries = ledger.transfer(payable, prog.issued, amount_fen) + ledger.transfer(
                prog.spent, prog.available, amount_fen
            )
            voucher.returned_fen += amount_fen
        entries += funder_entries
        voucher.used_fen -= amount_fen
        quota.used_fen -= amount_fen
        locked.captured_fen -= amount_fen
        locked.released_fen += amount_fen
        if locked.captured_fen == 0:
            rules.HOLD.move(locked, HoldAction.REVERSE_CAPTURE)
            locked.release_reason = REVERSAL_REASON
        ledger.post(
            session,
            key,
            TransactionKind.RELEASE,
            entries,
            programme_id=programme_id,
            voucher_id=voucher.id,
            hold_id=locked.id,
            actor_id=actor_id,
            memo=memo or f"order {locked.order_ref}: capture reversed, dispute upheld",
            now=now,
        )
        session.flush()
        record(
            session,
            "hold.capture_reversed",
            actor_id=actor_id,
            subject_type="voucher",
            subject_id=voucher.id,
            hold_id=locked.id,
            amount_fen=amount_fen,
            captured_fen=locked.captured_fen,
        )
    return locked
