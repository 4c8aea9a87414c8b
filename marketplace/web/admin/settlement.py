"""Administration of settlement: the reviewers' claim queue, finance approval, payout batches.

Claims: every administrator role reads; reviewers decide the first step, finance officers the
second (never on a line they reviewed: the service refuses it). Payouts: finance officers act,
auditors read; other roles have no business with bank files (403). Auditors never post (the
admin blueprint refuses their POSTs and the forms are not shown to them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace import exports, masking
from marketplace.clock import beijing_text, local_date
from marketplace.config import current_settings
from marketplace.db import db_session, utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.exports import Format
from marketplace.i18n import _
from marketplace.money import format_fen
from marketplace.parsing import form_version
from marketplace.risk.models import OrderRisk
from marketplace.risk.services import claim_scores, risks_of
from marketplace.settlement import claims, payout_files, payouts
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    ClaimStatus,
    PayoutBatchStatus,
)
from marketplace.settlement.models import Claim, ClaimLine, PayoutBatch
from marketplace.web.admin.views import bp
from marketplace.web.forms import label_of, show_error
from marketplace.web.permissions import fresh_second_factor, roles_required
from marketplace.web.settlement.forms import (
    ApproveBatchForm,
    BatchForm,
    ConfirmationForm,
    DecisionForm,
    SentForm,
)
from marketplace.web.settlement.views import RULES
from marketplace.web.templating import page_lang
from providers.personal_data import record_export

PAGE_SIZE = 50
PAYOUT_READERS = (Role.FINANCE, Role.AUDITOR)
REVIEW_DECISIONS = (ClaimAction.APPROVE, ClaimAction.REQUEST_CHANGES, ClaimAction.REJECT)
FINANCE_DECISIONS = (
    ClaimAction.FINANCE_APPROVE,
    ClaimAction.FINANCE_RETURN,
    ClaimAction.FINANCE_REJECT,
)
_DEFAULT_QUEUE = {Role.REVIEWER: ClaimStatus.IN_REVIEW, Role.FINANCE: ClaimStatus.AWAITING_FINANCE}


def _decision_form(actions: tuple[ClaimAction, ...], **kwargs: Any) -> DecisionForm:
    form = DecisionForm(**kwargs)
    form.decision.choices = [(a.value, label_of(a)) for a in actions]
    return form


# --------------------------------------------------------------------------- claims


@bp.get("/settlement/claims")
def settlement_claims() -> ResponseReturnValue:
    default = _DEFAULT_QUEUE.get(current_user.role)
    status = request.args.get("status", default.value if default else "")
    stmt = sa.select(Claim).order_by(Claim.id)
    if status in {s.value for s in ClaimStatus}:
        stmt = stmt.where(Claim.status == ClaimStatus(status))
    after = request.args.get("after", type=int)
    if after:
        stmt = stmt.where(Claim.id > after)
    rows = list(db_session().scalars(stmt.limit(PAGE_SIZE + 1)))
    newer = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    shown = rows[:PAGE_SIZE]
    return render_template(
        "admin/settlement/claims.html",
        claims=shown,
        # Each claim's risk score (its riskiest order's), so the riskiest is reviewed first.
        scores=claim_scores(db_session(), [c.id for c in shown]),
        newer=newer,
        statuses=list(ClaimStatus),
        status=status,
    )


def _risk_rows(session: Any, claim: Claim) -> list[tuple[int, OrderRisk | None]]:
    """Each order of the claim with its risk, for the reviewer (issue 11)."""
    order_ids = sorted({line.order_id for line in claim.lines})
    found = risks_of(session, order_ids)
    return [(order_id, found.get(order_id)) for order_id in order_ids]


def _claim_page(
    claim: Claim,
    *,
    review_form: DecisionForm | None = None,
    finance_form: DecisionForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db_session()
    role = current_user.role
    pending = [ln for ln in claim.lines if ln.status is ClaimLineStatus.PENDING_REVIEW]
    reviewed = [ln for ln in claim.lines if ln.status is ClaimLineStatus.REVIEWED]
    return (
        render_template(
            "admin/settlement/claim.html",
            claim=claim,
            events=claims.history(session, claim.id),
            rules=RULES,
            checklists={ln.id: claims.current_checklist(session, ln) for ln in claim.lines},
            pending=pending,
            reviewed=reviewed,
            risk_rows=_risk_rows(session, claim),
            claim_score=claim_scores(session, [claim.id]).get(claim.id),
            can_review=role is Role.REVIEWER and bool(pending),
            can_finance=role is Role.FINANCE and bool(reviewed),
            review_form=review_form or _decision_form(REVIEW_DECISIONS, version=str(claim.version)),
            finance_form=finance_form
            or _decision_form(FINANCE_DECISIONS, version=str(claim.version)),
        ),
        status,
    )


@bp.get("/settlement/claims/<int:claim_id>")
def settlement_claim(claim_id: int) -> ResponseReturnValue:
    return _claim_page(claims.get_claim(db_session(), claim_id))


def _decide(claim_id: int, actions: tuple[ClaimAction, ...], finance: bool) -> ResponseReturnValue:
    session = db_session()
    claim = claims.get_claim(session, claim_id)
    form = _decision_form(actions)
    forms = {"finance_form" if finance else "review_form": form}
    if not form.validate_on_submit():
        return _claim_page(claim, status=400, **forms)
    action = ClaimAction(form.decision.data)
    decide = claims.finance_decide if finance else claims.review
    try:
        decide(
            session,
            claim_id,
            action,
            actor_id=current_user.id,
            reason=form.reason.data,
            line_ids=form.line_ids.data or None,
            expected_version=form_version(form.version.data),
        )
    except DomainError as exc:
        show_error(exc, form)
        return _claim_page(claims.get_claim(session, claim_id), status=exc.status, **forms)
    flash(_("Decision recorded: %(decision)s.", decision=label_of(action)), "success")
    return redirect(url_for("admin.settlement_claim", claim_id=claim_id))


@bp.post("/settlement/claims/<int:claim_id>/review")
@roles_required(Role.REVIEWER)
def settlement_review(claim_id: int) -> ResponseReturnValue:
    return _decide(claim_id, REVIEW_DECISIONS, finance=False)


@bp.post("/settlement/claims/<int:claim_id>/finance")
@roles_required(Role.FINANCE)
@fresh_second_factor
def settlement_finance(claim_id: int) -> ResponseReturnValue:
    return _decide(claim_id, FINANCE_DECISIONS, finance=True)


# --------------------------------------------------------------------------- payouts


def _payouts_page(status: int = 200) -> ResponseReturnValue:
    session = db_session()
    stmt = sa.select(PayoutBatch).order_by(PayoutBatch.id.desc())
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(PayoutBatch.id < before)
    rows = list(session.scalars(stmt.limit(PAGE_SIZE + 1)))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    queue = payouts.payout_due(session)
    # The queue per paying treasury: what each treasury's next batch would pay.
    by_payer: dict[str, int] = {}
    for due in queue:
        name = due.funder.name if due.funder else _("Programme budget")
        by_payer[name] = by_payer.get(name, 0) + due.part.amount_fen
    return (
        render_template(
            "admin/settlement/payouts.html",
            batches=rows[:PAGE_SIZE],
            older=older,
            queue=queue,
            queue_by_payer=sorted(by_payer.items()),
            payer_totals=payouts.totals_by_payer(session),
            queue_fen=sum(due.part.amount_fen for due in queue),
            form=BatchForm(),
            can_act=current_user.role is Role.FINANCE,
        ),
        status,
    )


@bp.get("/settlement/payouts")
@roles_required(*PAYOUT_READERS)
def settlement_payouts() -> ResponseReturnValue:
    return _payouts_page()


@bp.post("/settlement/payouts")
@roles_required(Role.FINANCE)
@fresh_second_factor
def settlement_create_batch() -> ResponseReturnValue:
    session = db_session()
    if not BatchForm().validate_on_submit():
        return _payouts_page(400)
    try:
        # One batch per paying treasury with lines due (four eyes on each).
        result = payouts.create_batches(
            session,
            actor_id=current_user.id,
            second_approval_above_fen=current_settings().payout_second_approval_above_fen,
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _payouts_page(exc.status)
    for _provider_id, name in result.skipped:
        flash(_("%(name)s was left out: no settlement bank account on file.", name=name), "warning")
    for _funder_id, name in result.skipped_funders:
        flash(_("%(name)s was left out: no treasury account to pay from.", name=name), "warning")
    for batch in result.batches:
        flash(_("Payout batch %(ref)s built.", ref=batch.reference), "success")
    if len(result.batches) > 1:
        return redirect(url_for("admin.settlement_payouts"))
    return redirect(url_for("admin.settlement_batch", batch_id=result.batches[0].id))


def _batch_page(
    batch: PayoutBatch, *, upload_form: ConfirmationForm | None = None, status: int = 200
) -> ResponseReturnValue:
    can_act = current_user.role is Role.FINANCE
    if can_act:  # the payout screen: finance sees the accounts it pays whole
        masking.show_in_full("bank_account")
    # Four eyes: the builder only reads; the second approver does not also send.
    builder = batch.four_eyes and batch.created_by_id == current_user.id
    draft = batch.status is PayoutBatchStatus.DRAFT
    return (
        render_template(
            "admin/settlement/batch.html",
            batch=batch,
            sent_form=SentForm(version=str(batch.version)),
            approve_form=ApproveBatchForm(version=str(batch.version)),
            upload_form=upload_form or ConfirmationForm(),
            is_builder=builder,
            can_approve=can_act and draft and not builder and batch.awaiting_second_approval,
            can_send=can_act
            and draft
            and not builder
            and not batch.awaiting_second_approval
            and batch.approved_by_id != current_user.id,
            can_confirm=can_act and not draft and not builder,
        ),
        status,
    )


@bp.get("/settlement/payouts/<int:batch_id>")
@roles_required(*PAYOUT_READERS)
def settlement_batch(batch_id: int) -> ResponseReturnValue:
    return _batch_page(payouts.get_batch(db_session(), batch_id))


@bp.get("/settlement/payouts/<int:batch_id>/payment-file.csv")
@roles_required(*PAYOUT_READERS)
def settlement_payment_file(batch_id: int) -> ResponseReturnValue:
    session = db_session()
    batch = payouts.get_batch(session, batch_id)
    record_export(
        session, current_user.id, "payment_file", subject_type="payout_batch", subject_id=batch.id
    )
    return _csv_download(
        payout_files.payment_file(batch, whole_accounts=current_user.role is Role.FINANCE),
        payout_files.payment_filename(batch),
    )


@bp.get("/settlement/payouts/<int:batch_id>/confirmation-template.csv")
@roles_required(*PAYOUT_READERS)
def settlement_confirmation_template(batch_id: int) -> ResponseReturnValue:
    batch = payouts.get_batch(db_session(), batch_id)
    return _csv_download(
        payout_files.confirmation_template(batch, local_date(utcnow())),
        payout_files.confirmation_template_filename(batch),
    )


def _csv_download(content: str, filename: str) -> Response:
    return Response(
        content.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/settlement/payouts/<int:batch_id>/sent")
@roles_required(Role.FINANCE)
@fresh_second_factor
def settlement_mark_sent(batch_id: int) -> ResponseReturnValue:
    session = db_session()
    batch = payouts.get_batch(session, batch_id)
    form = SentForm()
    if not form.validate_on_submit():
        return _batch_page(batch, status=400)
    try:
        payouts.mark_sent(
            session,
            batch_id,
            actor_id=current_user.id,
            expected_version=form_version(form.version.data),
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _batch_page(payouts.get_batch(session, batch_id), status=exc.status)
    flash(_("The batch is marked as sent to the bank."), "success")
    return redirect(url_for("admin.settlement_batch", batch_id=batch_id))


@bp.post("/settlement/payouts/<int:batch_id>/approval")
@roles_required(Role.FINANCE)
def settlement_approve_batch(batch_id: int) -> ResponseReturnValue:
    session = db_session()
    batch = payouts.get_batch(session, batch_id)
    form = ApproveBatchForm()
    if not form.validate_on_submit():
        return _batch_page(batch, status=400)
    try:
        payouts.approve_batch(
            session,
            batch_id,
            actor_id=current_user.id,
            expected_version=form_version(form.version.data),
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _batch_page(payouts.get_batch(session, batch_id), status=exc.status)
    flash(_("The batch is approved; another finance officer sends it to the bank."), "success")
    return redirect(url_for("admin.settlement_batch", batch_id=batch_id))


@bp.post("/settlement/payouts/<int:batch_id>/confirmation")
@roles_required(Role.FINANCE)
@fresh_second_factor
def settlement_confirmation(batch_id: int) -> ResponseReturnValue:
    session = db_session()
    batch = payouts.get_batch(session, batch_id)
    form = ConfirmationForm()
    if not form.validate_on_submit():
        return _batch_page(batch, upload_form=form, status=400)
    try:
        payouts.ensure_confirmable(batch)
        rows = payout_files.parse_confirmation_csv(form.file.data.read())
        result = payouts.import_confirmation(
            session, batch_id, rows, actor_id=current_user.id, source="csv"
        )
    except DomainError as exc:
        details = [m for msgs in getattr(exc, "errors", {}).values() for m in msgs]
        details += [f"{where}: {'; '.join(m)}" for where, m in exc.extra.get("rows", {}).items()]
        form.file.errors = [*form.file.errors, exc.message, *details]
        flash(exc.message, "error")
        return _batch_page(
            payouts.get_batch(session, batch_id), upload_form=form, status=exc.status
        )
    flash(
        _(
            "Confirmation imported: %(applied)s line(s) recorded, %(unchanged)s already recorded.",
            applied=len(result.applied),
            unchanged=len(result.unchanged),
        ),
        # A file that recorded nothing new is not a success, whatever else it says.
        "success" if result.applied else "warning",
    )
    return redirect(url_for("admin.settlement_batch", batch_id=batch_id))


# --------------------------------------------------------------------------- exports

CLAIM_HEADER = {
    "zh": ["兑付申请", "服务机构", "状态", "提交时间（北京时间）", "明细数", "申请金额"],
    "en": ["claim", "provider", "status", "submitted at (Beijing)", "lines", "amount claimed"],
}
PAYOUT_HEADER = {
    "zh": ["批次", "状态", "创建时间（北京时间）", "发送时间（北京时间）", "明细数", "金额"],
    "en": ["batch", "status", "created at (Beijing)", "sent at (Beijing)", "lines", "amount"],
}


@bp.get("/settlement/claims.csv", defaults={"kind": Format.CSV})
@bp.get("/settlement/claims.xlsx", defaults={"kind": Format.XLSX})
def settlement_claims_file(kind: Format) -> ResponseReturnValue:
    """The claims under the screen's status filter, every match (streamed)."""
    status = request.args.get("status", "")
    stmt = sa.select(Claim).order_by(Claim.id)
    if status in {s.value for s in ClaimStatus}:
        stmt = stmt.where(Claim.status == ClaimStatus(status))
    lang = page_lang()
    totals = (
        sa.select(ClaimLine.claim_id, sa.func.count(), sa.func.sum(ClaimLine.amount_fen))
        .group_by(ClaimLine.claim_id)
        .subquery()
    )
    rows: Iterable[exports.Row] = (
        [
            claim.reference,
            claim.provider.name,
            claim.status.en if lang == "en" else claim.status.zh,
            beijing_text(claim.submitted_at),
            int(count or 0),
            format_fen(int(amount or 0)),
        ]
        for claim, count, amount in db_session().execute(
            sa.select(Claim, totals.c[1], totals.c[2])
            .outerjoin(totals, totals.c.claim_id == Claim.id)
            .where(Claim.id.in_(stmt.with_only_columns(Claim.id)))
            .order_by(Claim.id)
            .execution_options(yield_per=1_000)
        )
    )
    return exports.download("claims", kind, CLAIM_HEADER[lang], rows)


@bp.get("/settlement/payouts.csv", defaults={"kind": Format.CSV})
@bp.get("/settlement/payouts.xlsx", defaults={"kind": Format.XLSX})
@roles_required(*PAYOUT_READERS)
def settlement_payouts_file(kind: Format) -> ResponseReturnValue:
    """Every payout batch (the payouts screen has no filter), streamed."""
    lang = page_lang()
    rows: Iterable[exports.Row] = (
        [
            batch.reference,
            batch.status.en if lang == "en" else batch.status.zh,
            beijing_text(batch.created_at),
            beijing_text(batch.sent_at),
            batch.line_count,
            format_fen(batch.total_fen),
        ]
        for batch in db_session().scalars(
            sa.select(PayoutBatch).order_by(PayoutBatch.id).execution_options(yield_per=1_000)
        )
    )
    return exports.download("payouts", kind, PAYOUT_HEADER[lang], rows)
