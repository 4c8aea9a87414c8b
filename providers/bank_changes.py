"""Changes of an admitted provider's settlement bank account, under maker-checker.

Before admission the provider edits its account directly: the whole file is reviewed at
admission. Afterwards a new account is only a request (:class:`BankAccountChange`): a finance
officer other than the requester approves it — then, and only then, it is copied to
``providers.bank_*``, the values payout batches copy when they are built — or rejects it with
a reason (approval too: how the account was checked). Every step leaves an audit event, and the
provider is told the decision by e-mail. The steps shared with the reviewers' maker-checker
(locking, who may decide, the e-mail) are in :mod:`providers.reviews`.

Lock order: provider (``FOR NO KEY UPDATE``) → change row, the same in every function here.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.enums import Role
from marketplace.errors import ValidationFailed
from providers.enums import BankChangeStatus, ReviewAction
from providers.errors import BankChangeSelfApproval
from providers.models import BankAccountChange, Provider
from providers.notices import tell_provider
from providers.reviews import Checker, decidable, stamp, supersede
from providers.rules import BANK_CHANGE, clean_reason
from providers.services import BANK_FIELDS, ensure_account_name, index_provider

DECISION_TEMPLATE = "provider_bank_change_decision"


def account_tail(number: str | None) -> str:
    """The last four digits, as shown in audit events and e-mails (…1234)."""
    return f"…{number[-4:]}" if number else "—"


def pending_change(session: Session, provider_id: int) -> BankAccountChange | None:
    """The provider's request awaiting a decision, if any (at most one)."""
    return session.scalar(
        sa.select(BankAccountChange).where(
            BankAccountChange.provider_id == provider_id,
            BankAccountChange.status == BankChangeStatus.PENDING,
        )
    )


def changes_of(session: Session, provider_id: int) -> list[BankAccountChange]:
    """The provider's requests, newest first."""
    return list(
        session.scalars(
            sa.select(BankAccountChange)
            .where(BankAccountChange.provider_id == provider_id)
            .order_by(BankAccountChange.id.desc())
        )
    )


def request_change(
    session: Session,
    provider: Provider,
    given: Mapping[str, str | None],
    *,
    actor_id: int | None,
) -> BankAccountChange | None:
    """Ask for the live account with ``given`` fields replaced (cleaned values, from
    ``services.update_profile``, which holds the provider's lock). Returns the new request, or
    None when nothing would change: the proposal equals the live account or the request
    already pending. A different pending request is superseded.

    Raises ValidationFailed (a field left empty), BankAccountNameMismatch.
    """
    proposal = {name: given.get(name, getattr(provider, name)) for name in BANK_FIELDS}
    if all(proposal[name] == getattr(provider, name) for name in BANK_FIELDS):
        return None
    empty = [name for name in BANK_FIELDS if not proposal[name]]
    if empty:
        raise ValidationFailed(
            "入库后结算账户须完整填写 / an admitted institution's settlement account must be "
            "complete",
            {name: ["必填 / required"] for name in empty},
        )
    ensure_account_name(provider, proposal["bank_account_name"])
    current = pending_change(session, provider.id)
    if current is not None:
        if all(getattr(current, name) == proposal[name] for name in BANK_FIELDS):
            return None
        supersede(current, CHECKER)
        # Free the one-pending-per-provider index before the new request is inserted.
        session.flush()
        record(
            session,
            "provider.bank_change_superseded",
            actor_id=actor_id,
            subject_type="provider",
            subject_id=provider.id,
            change_id=current.id,
        )
    change = BankAccountChange(
        provider_id=provider.id,
        bank_account_name=proposal["bank_account_name"],
        bank_name=proposal["bank_name"],
        bank_account_number=proposal["bank_account_number"],
        requested_by_id=actor_id,
    )
    session.add(change)
    session.flush()
    record(
        session,
        "provider.bank_change_requested",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        change_id=change.id,
        bank_name=change.bank_name,
        account=account_tail(change.bank_account_number),
        live_account=account_tail(provider.bank_account_number),
    )
    return change


#: Finance decides, never whoever asked (the shared steps are in providers.reviews).
CHECKER = Checker(
    model=BankAccountChange,
    machine=BANK_CHANGE,
    decider=Role.FINANCE,
    not_found="no such bank account change / 账户变更申请不存在",
    wrong_role="结算账户变更须由财务人员审批 / only a finance officer may decide a bank account change",
    self_review=lambda: BankChangeSelfApproval(
        "申请人不能审批自己的账户变更 / whoever asked for the change cannot decide it"
    ),
)


def _decidable(
    session: Session, change_id: int, actor_id: int | None, action: ReviewAction
) -> tuple[Provider, BankAccountChange]:
    """The locked provider and pending change, once the actor may take ``action`` on it.

    Raises NotFound, PermissionDenied (not a finance officer), BankChangeSelfApproval,
    BankChangeNotPending.
    """
    provider, change = decidable(session, CHECKER, change_id, actor_id, action)
    return provider, change


def _tell_provider(session: Session, provider: Provider, change: BankAccountChange) -> None:
    tell_provider(
        session,
        provider,
        DECISION_TEMPLATE,
        approved=change.status is BankChangeStatus.APPROVED,
        bank_name=change.bank_name,
        account=account_tail(change.bank_account_number),
        reason=change.decision_reason or "",
    )


def approve(
    session: Session, change_id: int, *, actor_id: int | None, reason: str
) -> BankAccountChange:
    """A finance officer approves, saying how the account was checked (e.g. the account
    opening licence): the account becomes the live one payouts use.

    Raises NotFound, PermissionDenied, BankChangeSelfApproval, BankChangeNotPending,
    BankAccountNameMismatch (the registered name changed since), ReasonRequired.
    """
    provider, change = _decidable(session, change_id, actor_id, ReviewAction.APPROVE)
    text = clean_reason(reason, required=True)
    ensure_account_name(provider, change.bank_account_name)
    previous = account_tail(provider.bank_account_number)
    for name in BANK_FIELDS:
        setattr(provider, name, getattr(change, name))
    provider.version += 1
    stamp(change, CHECKER, ReviewAction.APPROVE, actor_id, text)
    session.flush()
    index_provider(session, provider)
    record(
        session,
        "provider.bank_change_approved",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        change_id=change.id,
        previous_account=previous,
        account=account_tail(change.bank_account_number),
        reason=text,
    )
    _tell_provider(session, provider, change)
    return change


def reject(
    session: Session, change_id: int, *, actor_id: int | None, reason: str
) -> BankAccountChange:
    """A finance officer refuses, with a reason; the live account stays as it was.

    Raises NotFound, PermissionDenied, BankChangeSelfApproval, BankChangeNotPending,
    ReasonRequired.
    """
    provider, change = _decidable(session, change_id, actor_id, ReviewAction.REJECT)
    text = clean_reason(reason, required=True)
    stamp(change, CHECKER, ReviewAction.REJECT, actor_id, text)
    session.flush()
    record(
        session,
        "provider.bank_change_rejected",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        change_id=change.id,
        reason=text,
    )
    _tell_provider(session, provider, change)
    return change
