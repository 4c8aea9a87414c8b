"""Settlement over the JSON API: claims (providers submit; reviewers, then finance decide) and
payout batches (finance builds, exports, sends and confirms; auditors read).

Object-level checks: a provider sees and acts on its own claims only (another provider's
claim is 404); administrators see every claim; payout batches belong to finance and auditors.
Money-moving POSTs (finance approval, batches, sent, confirmations) require an
Idempotency-Key; decisions honour ``If-Match`` / ``version`` (412 when the claim changed).
Errors carry stable codes: ``not_claimable``, ``order_disputed``, ``claim_deadline_passed``,
``invoice_already_claimed``, ``invoice_amount_mismatch`` …, ``separation_of_duties``,
``claim_state_conflict``, ``nothing_to_pay``, ``confirmation_conflict``,
``treasury_account_missing``, ``payer_required``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from marketplace import masking
from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint, expected_version
from marketplace.api.orders import order_files, upload_of
from marketplace.clock import local_date
from marketplace.config import current_settings
from marketplace.db import db_session, utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.pagination import Page, paginate
from marketplace.settlement import claims, payout_files, payouts, reversals
from marketplace.settlement.enums import ClaimAction
from marketplace.settlement.models import Claim, PayoutBatch
from marketplace.settlement.rules import REVIEW_ACTIONS
from marketplace.settlement.schemas import (
    ClaimableOrderOut,
    ClaimApproveIn,
    ClaimCreateIn,
    ClaimDetailOut,
    ClaimLinesIn,
    ClaimOut,
    ClaimQuery,
    ClaimReasonIn,
    PayoutBatchCreatedOut,
    PayoutBatchCreateIn,
    PayoutBatchDetailOut,
    PayoutBatchOut,
    PayoutBatchQuery,
    PayoutConfirmationCsvIn,
    PayoutConfirmationIn,
    PayoutImportResultOut,
    PayoutPaymentFileOut,
    PayoutQueueLineOut,
    RedLetterIn,
    RedLetterOut,
    batch_view,
    claim_view,
    claimable_view,
    queue_view,
)
from providers.models import Provider
from providers.personal_data import record_export

CLAIM_READERS = (Role.PROVIDER, *sorted(ADMIN_ROLES))
PAYOUT_READERS = (Role.FINANCE, Role.AUDITOR)
TAGS = ["settlement"]


def _own_provider() -> int | None:
    """The caller's provider id when the caller is a provider (None for administrators)."""
    user = api_user()
    return int(user.provider_id) if user.role is Role.PROVIDER else None


def _payout_detail(batch: PayoutBatch) -> dict[str, Any]:
    """A batch with its lines, as the payout screen shows it: finance sees each provider's
    account whole (to pay it), every other reader masked."""
    if api_user().role is Role.FINANCE:
        masking.show_in_full("bank_account")
    return batch_view(batch, detail=True)


def _detail(claim: Claim) -> dict[str, Any]:
    session = db_session()
    session.refresh(claim)
    return claim_view(claim, claims.history(session, claim.id))


# --------------------------------------------------------------------------- claims


@endpoint(
    bp,
    "/settlement/claimable-orders",
    "GET",
    roles=[Role.PROVIDER],
    response=ClaimableOrderOut,
    many=True,
    tags=TAGS,
    summary="Your confirmed orders not yet claimed, with the pre-check each would get today",
)
def settlement_claimable_orders() -> list[dict[str, Any]]:
    provider_id = _own_provider()
    assert provider_id is not None
    items = claims.claimable_orders(
        db_session(),
        provider_id,
        today=local_date(utcnow()),
        cooling_off_days=current_settings().settlement_cooling_off_days,
    )
    return [claimable_view(item) for item in items]


@endpoint(
    bp,
    "/claims",
    "POST",
    roles=[Role.PROVIDER],
    body=ClaimCreateIn,
    response=ClaimDetailOut,
    status=201,
    tags=TAGS,
    errors=[404, 409],
    summary="Submit a settlement claim for confirmed orders (the pre-check runs at once)",
    description=(
        "Refused outright (nothing is saved): an order that is not yours (404), not confirmed "
        "or in its cooling-off period (not_claimable), in dispute (order_disputed), past the "
        "programme's claim deadline (claim_deadline_passed) or whose invoice was ever claimed "
        "(invoice_already_claimed). Other failing checks are marked on the line's checklist; "
        "such a line cannot be approved."
    ),
)
def settlement_create_claim(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    provider_id = _own_provider()
    assert provider_id is not None
    claim = claims.create_claim(
        db_session(),
        provider_id,
        body["order_ids"],
        actor_id=api_user().id,
        note=body["note"],
        cooling_off_days=current_settings().settlement_cooling_off_days,
    )
    return _detail(claim), 201


@endpoint(
    bp,
    "/claims",
    "GET",
    roles=CLAIM_READERS,
    query=ClaimQuery,
    response=ClaimOut,
    paginated=True,
    tags=TAGS,
    summary="Claims, newest first (providers: their own)",
)
def settlement_list_claims(query: dict[str, Any]) -> Page:
    session = db_session()
    stmt = sa.select(Claim)
    own = _own_provider()
    if own is not None:
        stmt = stmt.where(Claim.provider_id == own)
    elif query["provider_id"] is not None:
        stmt = stmt.where(Claim.provider_id == query["provider_id"])
    if query["status"] is not None:
        stmt = stmt.where(Claim.status == query["status"])
    page = paginate(
        session,
        stmt,
        sort_column=Claim.id,
        id_column=Claim.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )
    return Page(items=[claim_view(c) for c in page.items], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/claims/<int:claim_id>",
    "GET",
    roles=CLAIM_READERS,
    response=ClaimDetailOut,
    tags=TAGS,
    summary="One claim with each line's checklist, decisions and history",
)
def settlement_get_claim(claim_id: int) -> dict[str, Any]:
    return _detail(claims.get_claim(db_session(), claim_id, provider_id=_own_provider()))


@endpoint(
    bp,
    "/claims/<int:claim_id>/resubmit",
    "POST",
    roles=[Role.PROVIDER],
    body=ClaimLinesIn,
    response=ClaimDetailOut,
    tags=TAGS,
    errors=[409, 412],
    summary="Resubmit lines sent back for changes (the pre-check runs again)",
)
def settlement_resubmit_claim(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    provider_id = _own_provider()
    assert provider_id is not None
    claim = claims.resubmit(
        db_session(),
        claim_id,
        provider_id,
        actor_id=api_user().id,
        line_ids=body["line_ids"],
        expected_version=expected_version(body),
    )
    return _detail(claim)


def _decision(
    claim_id: int, action: ClaimAction, body: dict[str, Any], reason: str | None
) -> dict[str, Any]:
    decide = claims.review if action in REVIEW_ACTIONS else claims.finance_decide
    claim = decide(
        db_session(),
        claim_id,
        action,
        actor_id=api_user().id,
        reason=reason,
        line_ids=body["line_ids"],
        expected_version=expected_version(body),
    )
    return _detail(claim)


_REVIEW_ERRORS: Sequence[int] = [409, 412]
_FINANCE_ERRORS: Sequence[int] = [409, 412]


@endpoint(
    bp,
    "/claims/<int:claim_id>/review/approve",
    "POST",
    roles=[Role.REVIEWER],
    body=ClaimApproveIn,
    response=ClaimDetailOut,
    tags=TAGS,
    errors=_REVIEW_ERRORS,
    summary="Reviewer: approve lines (all awaiting review when line_ids is omitted)",
    description="Refused with the failing rule's code when a line fails the pre-check.",
)
def settlement_review_approve(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _decision(claim_id, ClaimAction.APPROVE, body, body["note"])


@endpoint(
    bp,
    "/claims/<int:claim_id>/review/request-changes",
    "POST",
    roles=[Role.REVIEWER],
    body=ClaimReasonIn,
    response=ClaimDetailOut,
    tags=TAGS,
    errors=_REVIEW_ERRORS,
    summary="Reviewer: send lines back to the provider for changes (reason required)",
)
def settlement_review_request_changes(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _decision(claim_id, ClaimAction.REQUEST_CHANGES, body, body["reason"])


@endpoint(
    bp,
    "/claims/<int:claim_id>/review/reject",
    "POST",
    roles=[Role.REVIEWER],
    body=ClaimReasonIn,
    response=ClaimDetailOut,
    tags=TAGS,
    errors=_REVIEW_ERRORS,
    summary="Reviewer: reject lines (reason required; final for that order and invoice)",
)
def settlement_review_reject(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _decision(claim_id, ClaimAction.REJECT, body, body["reason"])


@endpoint(
    bp,
    "/claims/<int:claim_id>/finance/approve",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    body=ClaimApproveIn,
    response=ClaimDetailOut,
    idempotency_required=True,
    tags=TAGS,
    errors=_FINANCE_ERRORS,
    summary="Finance: approve reviewed lines for payment (never the line's own reviewer)",
    description="A finance officer who reviewed a line gets 403 separation_of_duties.",
)
def settlement_finance_approve(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _decision(claim_id, ClaimAction.FINANCE_APPROVE, body, body["note"])


@endpoint(
    bp,
    "/claims/<int:claim_id>/finance/return",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    body=ClaimReasonIn,
    response=ClaimDetailOut,
    tags=TAGS,
    errors=_FINANCE_ERRORS,
    summary="Finance: return reviewed lines to the provider for changes (reason required)",
)
def settlement_finance_return(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _decision(claim_id, ClaimAction.FINANCE_RETURN, body, body["reason"])


@endpoint(
    bp,
    "/claims/<int:claim_id>/finance/reject",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    body=ClaimReasonIn,
    response=ClaimDetailOut,
    tags=TAGS,
    errors=_FINANCE_ERRORS,
    summary="Finance: reject reviewed lines (reason required)",
)
def settlement_finance_reject(claim_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _decision(claim_id, ClaimAction.FINANCE_REJECT, body, body["reason"])


# --------------------------------------------------------------------------- payouts


@endpoint(
    bp,
    "/payout-queue",
    "GET",
    roles=PAYOUT_READERS,
    response=PayoutQueueLineOut,
    many=True,
    tags=TAGS,
    summary="Approved claim lines waiting for a payout batch, one row per paying treasury's part",
)
def settlement_payout_queue() -> list[dict[str, Any]]:
    session = db_session()
    due = payouts.payout_due(session)
    accounts = {
        provider.id: bool(provider.bank_account_number)
        for provider in session.scalars(
            sa.select(Provider).where(Provider.id.in_({d.line.provider_id for d in due}))
        )
    }
    return [queue_view(d, accounts.get(d.line.provider_id, False)) for d in due]


@endpoint(
    bp,
    "/payout-batches",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    body=PayoutBatchCreateIn,
    response=PayoutBatchCreatedOut,
    status=201,
    idempotency_required=True,
    tags=TAGS,
    errors=[404, 409],
    summary="Build one paying treasury's payout batch: one bank payment per provider from "
    "approved claim lines (a co-funded line: that treasury's part)",
    description="A batch belongs to one treasury (funder_id; 0 for programmes naming no funder). "
    "Omit funder_id when one treasury pays the lines; payer_required (422) when several do.",
)
def settlement_create_batch(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    result = payouts.create_batch(
        db_session(),
        actor_id=api_user().id,
        funder_id=body["funder_id"],
        claim_line_ids=body["claim_line_ids"],
        second_approval_above_fen=current_settings().payout_second_approval_above_fen,
    )
    view = _payout_detail(result.batch)
    view["skipped_providers"] = [{"provider_id": pid, "name": name} for pid, name in result.skipped]
    return view, 201


@endpoint(
    bp,
    "/payout-batches",
    "GET",
    roles=PAYOUT_READERS,
    query=PayoutBatchQuery,
    response=PayoutBatchOut,
    paginated=True,
    tags=TAGS,
    summary="Payout batches, newest first",
)
def settlement_list_batches(query: dict[str, Any]) -> Page:
    stmt = sa.select(PayoutBatch)
    if query["status"] is not None:
        stmt = stmt.where(PayoutBatch.status == query["status"])
    page = paginate(
        db_session(),
        stmt,
        sort_column=PayoutBatch.id,
        id_column=PayoutBatch.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )
    return Page(items=[batch_view(b) for b in page.items], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>",
    "GET",
    roles=PAYOUT_READERS,
    response=PayoutBatchDetailOut,
    tags=TAGS,
    summary="One payout batch with its payment lines and their bank outcome",
)
def settlement_get_batch(batch_id: int) -> dict[str, Any]:
    return _payout_detail(payouts.get_batch(db_session(), batch_id))


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>/payment-file",
    "GET",
    roles=PAYOUT_READERS,
    response=PayoutPaymentFileOut,
    tags=TAGS,
    summary="The bank payment file (CSV text inside JSON; the admin page downloads it as a file)",
)
def settlement_payment_file(batch_id: int) -> dict[str, Any]:
    session = db_session()
    batch = payouts.get_batch(session, batch_id)
    finance = api_user().role is Role.FINANCE
    record_export(
        session, api_user().id, "payment_file", subject_type="payout_batch", subject_id=batch.id
    )
    return {
        "filename": payout_files.payment_filename(batch),
        "content_type": "text/csv; charset=utf-8",
        "content": payout_files.payment_file(batch, whole_accounts=finance),
    }


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>/confirmation-template",
    "GET",
    roles=PAYOUT_READERS,
    response=PayoutPaymentFileOut,
    tags=TAGS,
    summary="A bank confirmation file to complete: the lines awaiting the bank, marked paid today",
    description="Fill in each bank_transaction_id from the bank's statement (or mark a row "
    "failed with a reason), then import it.",
)
def settlement_confirmation_template(batch_id: int) -> dict[str, Any]:
    batch = payouts.get_batch(db_session(), batch_id)
    return {
        "filename": payout_files.confirmation_template_filename(batch),
        "content_type": "text/csv; charset=utf-8",
        "content": payout_files.confirmation_template(batch, local_date(utcnow())),
    }


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>/sent",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    response=PayoutBatchDetailOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[412],
    summary="Record that the payment file went to the bank (repeating it changes nothing)",
    description="Send the version you read as If-Match; 412 if the batch changed since.",
)
def settlement_mark_sent(batch_id: int) -> dict[str, Any]:
    batch = payouts.mark_sent(
        db_session(), batch_id, actor_id=api_user().id, expected_version=expected_version({})
    )
    return _payout_detail(batch)


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>/approval",
    "POST",
    roles=[Role.FINANCE],
    response=PayoutBatchDetailOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[412],
    summary="Second finance approval of a batch above the second-approval amount",
    description="By a finance officer other than the one who built it; the batch is then "
    "sent by a third. Send the version you read as If-Match; 412 if the batch changed since.",
)
def settlement_approve_batch(batch_id: int) -> dict[str, Any]:
    batch = payouts.approve_batch(
        db_session(), batch_id, actor_id=api_user().id, expected_version=expected_version({})
    )
    return _payout_detail(batch)


def _import(batch_id: int, body: dict[str, Any], source: str) -> dict[str, Any]:
    session = db_session()
    payouts.ensure_confirmable(payouts.get_batch(session, batch_id))
    rows = (
        payout_files.parse_confirmation_csv(body["csv"])
        if source == "csv"
        else payout_files.rows_from_json(body["paid"], body["failed"])
    )
    result = payouts.import_confirmation(
        session, batch_id, rows, actor_id=api_user().id, source=source
    )
    return {
        "applied": result.applied,
        "unchanged": result.unchanged,
        "batch": _payout_detail(result.batch),
    }


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>/confirmation",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    body=PayoutConfirmationIn,
    response=PayoutImportResultOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[409],
    summary="Import the bank's confirmation as JSON rows (same rows again: no effect)",
    description=(
        "paid: payment lines the bank paid (with its transaction id and value date); failed: "
        "lines it could not pay (they return to the payout queue). Rows that repeat what was "
        "recorded change nothing; a row that contradicts an earlier import refuses the whole "
        "import (confirmation_conflict); rows naming no line of the batch or contradicting "
        "each other refuse it too (confirmation_mismatch)."
    ),
)
def settlement_import_confirmation(batch_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _import(batch_id, body, "json")


@endpoint(
    bp,
    "/payout-batches/<int:batch_id>/confirmation-csv",
    "POST",
    step_up=True,
    roles=[Role.FINANCE],
    body=PayoutConfirmationCsvIn,
    response=PayoutImportResultOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[409],
    summary="Import the bank's confirmation file (CSV text) as uploaded from the bank",
)
def settlement_import_confirmation_csv(batch_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return _import(batch_id, body, "csv")


@endpoint(
    bp,
    "/invoices/red-letter",
    "POST",
    roles=[r for r in Role if r is not Role.AUDITOR],
    body=RedLetterIn,
    response=RedLetterOut,
    status=201,
    tags=["invoices"],
    errors=[409, 413, 422],
    summary="Record a red-letter invoice (红字发票): the invoice it reverses pays for nothing",
    description="Anyone who received it may bring it. Read from its files like any invoice "
    "(422 invoice_file_unreadable / invoice_file_refused); 409 not_red_letter for a normal "
    "invoice, invoice_reused / invoice_file_reused when its number or file is known. The "
    "reversed invoice's claim line is frozen; a paid one is flagged for recovery.",
)
def record_red_letter(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    result = reversals.record_red_letter(
        db_session(),
        order_files(),
        [upload_of(f) for f in body["invoice_files"]],
        actor_id=api_user().id,
    )
    red, line = result.red_letter, result.line
    return {
        "number": red.number,
        "reverses_number": red.reverses_number,
        "issued_on": red.issued_on,
        "total_fen": red.total_fen,
        "tax_fen": red.tax_fen,
        "order_id": red.invoice.order_id if red.invoice is not None else None,
        "claim_line_id": line.id if line else None,
        "claim_line_status": line.status.value if line else None,
        "frozen": line is not None,
        "recovery_fen": result.recovery.amount_fen if result.recovery else 0,
    }, 201
