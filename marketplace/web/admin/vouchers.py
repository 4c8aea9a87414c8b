"""Voucher administration: programmes (sysadmin), application review and bulk issuance
(reviewers), budgets, vouchers and revocation, the ledger check. Every administrator role may
read; the admin blueprint makes auditors read-only, and actions name the roles allowed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace import exports
from marketplace.clock import beijing_text
from marketplace.db import db_session
from marketplace.enums import Role, ServiceCategory
from marketplace.errors import DomainError, NotFound
from marketplace.exports import Format
from marketplace.i18n import _
from marketplace.jobs import tracked
from marketplace.money import format_fen
from marketplace.parsing import ascii_int
from marketplace.settlement.ledger_checks import verify_books
from marketplace.web.admin.views import bp
from marketplace.web.admin.voucher_forms import (
    ApproveForm,
    BulkIssueForm,
    ClarifyForm,
    ProgrammeForm,
    RejectForm,
    RevokeForm,
)
from marketplace.web.forms import fen_of, show_error
from marketplace.web.permissions import roles_required
from marketplace.web.templating import page_lang
from vouchers import applications, common, expiry, issuance, programmes
from vouchers.enums import ApplicationStatus, CapScope, FundingBody, ProgrammeKind, VoucherStatus
from vouchers.models import Application, Hold, IssuanceBatch, Programme, RecoveryFlag, Voucher

#: Reviewers decide; system administrators manage programmes and only read the queues.
REVIEWERS = (Role.REVIEWER,)
PAGE = 50


@bp.context_processor
def _voucher_vocabulary() -> dict[str, Any]:
    return {"service_categories": {c.value: c for c in ServiceCategory}}


#: The services' names for the programme form's fields that are typed differently.
PROGRAMME_FIELDS = {
    "ceiling_bps": "ceiling_percent",
    "low_budget_alert_bps": "low_budget_alert_percent",
}


def _flash_error(exc: DomainError, form: Any = None) -> None:
    show_error(exc, form, PROGRAMME_FIELDS)


# --------------------------------------------------------------------------- programmes


@bp.get("/programmes")
def voucher_programmes() -> ResponseReturnValue:
    return render_template(
        "admin/vouchers/programmes.html", budgets=programmes.budgets(db_session())
    )


def _programme_input(form: ProgrammeForm) -> programmes.ProgrammeInput:
    return programmes.ProgrammeInput(
        kind=ProgrammeKind(form.kind.data),
        year=int(form.year.data or 0),
        name=form.name.data or "",
        funding_body=FundingBody(form.funding_body.data),
        total_budget_fen=fen_of(form.total_budget),
        cap_scope=CapScope(form.cap_scope.data),
        group_cap=bool(form.group_cap.data),
        annual_cap_fen=fen_of(form.annual_cap),
        ceiling_bps=fen_of(form.ceiling_percent),
        eligible_categories=list(form.eligible_categories.data or []),
        eligible_size_classes=list(form.eligible_size_classes.data or []),
        region_prefix=form.region_prefix.data or "",
        applications_open_on=form.applications_open_on.data,
        applications_close_on=form.applications_close_on.data,
        use_by=form.use_by.data,
        claim_deadline=form.claim_deadline.data,
        low_budget_alert_bps=fen_of(form.low_budget_alert_percent),
        notice_days=int(form.notice_days.data or 0),
    )


@bp.route("/programmes/new", methods=["GET", "POST"])
@roles_required(Role.SYSADMIN)
def voucher_programme_new() -> ResponseReturnValue:
    form = ProgrammeForm()
    if form.validate_on_submit():
        try:
            programme = programmes.create_programme(
                db_session(), _programme_input(form), actor_id=current_user.id
            )
        except DomainError as exc:
            _flash_error(exc, form)
            page = render_template("admin/vouchers/programme_form.html", form=form, programme=None)
            return page, exc.status
        flash(_("Programme created and its budget granted."), "success")
        return redirect(url_for("admin.voucher_programme", programme_id=programme.id))
    status = 400 if form.errors else 200
    return render_template("admin/vouchers/programme_form.html", form=form, programme=None), status


@bp.route("/programmes/<int:programme_id>/edit", methods=["GET", "POST"])
@roles_required(Role.SYSADMIN)
def voucher_programme_edit(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    form = ProgrammeForm()
    locked = programmes.has_vouchers(session, programme.id)
    if request.method == "GET":
        _fill(form, programme)
    elif form.validate_on_submit():
        version = form.version.data or ""
        try:
            programmes.update_programme(
                session,
                programme.id,
                _programme_input(form),
                expected_version=ascii_int(version) or -1,
                actor_id=current_user.id,
            )
        except DomainError as exc:
            _flash_error(exc, form)
            page = render_template(
                "admin/vouchers/programme_form.html", form=form, programme=programme, locked=locked
            )
            return page, exc.status
        flash(_("Programme saved."), "success")
        return redirect(url_for("admin.voucher_programme", programme_id=programme.id))
    status = 400 if form.errors else 200
    page = render_template(
        "admin/vouchers/programme_form.html", form=form, programme=programme, locked=locked
    )
    return page, status


def _fill(form: ProgrammeForm, programme: Programme) -> None:
    # Amounts as one types them: yuan, and percentages (basis points) read the same way.
    form.kind.data = programme.kind.value
    form.year.data = programme.year
    form.name.data = programme.name
    form.funding_body.data = programme.funding_body.value
    form.total_budget.data = format_fen(programme.total_budget_fen, symbol=False, grouping=False)
    form.cap_scope.data = programme.cap_scope.value
    form.group_cap.data = programme.group_cap
    form.annual_cap.data = format_fen(programme.annual_cap_fen, symbol=False, grouping=False)
    form.ceiling_percent.data = format_fen(programme.ceiling_bps, symbol=False, grouping=False)
    form.eligible_categories.data = list(programme.eligible_categories)
    form.eligible_size_classes.data = list(programme.eligible_size_classes)
    form.region_prefix.data = programme.region_prefix
    form.applications_open_on.data = programme.applications_open_on
    form.applications_close_on.data = programme.applications_close_on
    form.use_by.data = programme.use_by
    form.claim_deadline.data = programme.claim_deadline
    form.low_budget_alert_percent.data = format_fen(
        programme.low_budget_alert_bps, symbol=False, grouping=False
    )
    form.notice_days.data = programme.notice_days
    form.version.data = str(programme.version)


@bp.get("/programmes/<int:programme_id>")
def voucher_programme(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    batches = session.scalars(
        sa.select(IssuanceBatch)
        .where(IssuanceBatch.programme_id == programme.id)
        .order_by(IssuanceBatch.id.desc())
    )
    return render_template(
        "admin/vouchers/programme.html",
        programme=programme,
        budget=programmes.budgets(session, [programme.id])[0],
        locked=programmes.has_vouchers(session, programme.id),
        batches=list(batches),
        form=BulkIssueForm(),
    )


@bp.post("/programmes/<int:programme_id>/bulk-issuances")
@roles_required(*REVIEWERS)
def voucher_bulk_issue(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    form = BulkIssueForm()

    def again(status: int) -> ResponseReturnValue:
        page = render_template(
            "admin/vouchers/programme.html",
            programme=programme,
            budget=programmes.budgets(session, [programme.id])[0],
            locked=programmes.has_vouchers(session, programme.id),
            batches=[],
            form=form,
        )
        return page, status

    if not form.validate_on_submit():
        return again(400)
    upload = form.file.data
    data = upload.read()
    filename = upload.filename or "upload.csv"
    try:
        # Read at once, so an unreadable file is said on this page, not in the job.
        rows = issuance.parse_upload(data, filename)
    except DomainError as exc:
        _flash_error(exc)
        return again(exc.status)
    job = tracked.start(
        session,
        owner_id=current_user.id,
        kind="bulk_issuance",
        title=_(
            "Bulk issuance of %(rows)d row(s) into %(programme)s",
            rows=len(rows),
            programme=programme.name,
        ),
        handler=issuance.JOB_HANDLER,
        params={"programme_id": programme.id},
        input_name=filename,
        input_data=data,
    )
    return redirect(url_for("jobs.job_page", job_id=job.id))


@bp.get("/bulk-issuance-template.csv", defaults={"kind": Format.CSV})
@bp.get("/bulk-issuance-template.xlsx", defaults={"kind": Format.XLSX})
def voucher_bulk_template(kind: Format) -> ResponseReturnValue:
    """The bulk issuance file to fill in: the columns and two sample rows."""
    return exports.download(
        "bulk-issuance-template", kind, issuance.TEMPLATE_HEADER, issuance.TEMPLATE_ROWS
    )


@bp.get("/issuance-batches/<int:batch_id>")
def voucher_batch(batch_id: int) -> ResponseReturnValue:
    batch = common.fetch(db_session(), IssuanceBatch, batch_id)
    if batch is None:
        abort(404)
    return render_template("admin/vouchers/batch.html", batch=batch)


@bp.get("/budget")
def voucher_budget() -> ResponseReturnValue:
    return render_template("admin/vouchers/budget.html", budgets=programmes.budgets(db_session()))


# --------------------------------------------------------------------------- applications


@bp.get("/applications")
def voucher_applications() -> ResponseReturnValue:
    wanted = request.args.get("status", ApplicationStatus.SUBMITTED.value)
    stmt = sa.select(Application).order_by(Application.id.desc()).limit(PAGE)
    status = None
    if wanted != "all":
        try:
            status = ApplicationStatus(wanted)
        except ValueError:
            abort(404)
        stmt = stmt.where(Application.status == status)
    return render_template(
        "admin/vouchers/applications.html",
        applications=list(db_session().scalars(stmt)),
        status=status,
        statuses=list(ApplicationStatus),
    )


def _review_page(application: Application, **forms: Any) -> str:
    session = db_session()
    budget = programmes.budgets(session, [application.programme_id])[0]
    return render_template(
        "admin/vouchers/application.html",
        application=application,
        budget=budget,
        approve_form=forms.get("approve_form") or ApproveForm(),
        clarify_form=forms.get("clarify_form") or ClarifyForm(),
        reject_form=forms.get("reject_form") or RejectForm(),
    )


@bp.get("/applications/<int:application_id>")
def voucher_application(application_id: int) -> ResponseReturnValue:
    return _review_page(applications.get_application(db_session(), application_id))


@bp.post("/applications/<int:application_id>/approve")
@roles_required(*REVIEWERS)
def voucher_application_approve(application_id: int) -> ResponseReturnValue:
    session = db_session()
    application = applications.get_application(session, application_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _review_page(application, approve_form=form), 400
    try:
        voucher = applications.approve(
            session,
            application.id,
            amount_fen=form.amount.fen,
            note=form.note.data,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        _flash_error(exc, form)
        return _review_page(application, approve_form=form), exc.status
    flash(_("Approved: voucher %(serial)s issued.", serial=voucher.serial), "success")
    return redirect(url_for("admin.voucher_application", application_id=application.id))


@bp.post("/applications/<int:application_id>/clarify")
@roles_required(*REVIEWERS)
def voucher_application_clarify(application_id: int) -> ResponseReturnValue:
    session = db_session()
    application = applications.get_application(session, application_id)
    form = ClarifyForm()
    if not form.validate_on_submit():
        return _review_page(application, clarify_form=form), 400
    try:
        applications.request_clarification(
            session, application.id, question=form.question.data or "", actor_id=current_user.id
        )
    except DomainError as exc:
        _flash_error(exc, form)
        return _review_page(application, clarify_form=form), exc.status
    flash(_("Clarification requested from the enterprise."), "success")
    return redirect(url_for("admin.voucher_application", application_id=application.id))


@bp.post("/applications/<int:application_id>/reject")
@roles_required(*REVIEWERS)
def voucher_application_reject(application_id: int) -> ResponseReturnValue:
    session = db_session()
    application = applications.get_application(session, application_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _review_page(application, reject_form=form), 400
    try:
        applications.reject(
            session, application.id, reason=form.reason.data or "", actor_id=current_user.id
        )
    except DomainError as exc:
        _flash_error(exc, form)
        return _review_page(application, reject_form=form), exc.status
    flash(_("Application rejected."), "success")
    return redirect(url_for("admin.voucher_application", application_id=application.id))


# --------------------------------------------------------------------------- vouchers


def _voucher_filters() -> tuple[sa.Select[Voucher], VoucherStatus | None, str]:
    """The voucher list's query under the screen's filters (the page and its exports)."""
    stmt = sa.select(Voucher)
    wanted = request.args.get("status", "")
    status = None
    if wanted:
        try:
            status = VoucherStatus(wanted)
        except ValueError:
            abort(404)
        stmt = stmt.where(Voucher.status == status)
    serial = request.args.get("serial", "").replace("\x00", "").strip().upper()
    if serial:
        stmt = stmt.where(Voucher.serial.contains(serial))
    return stmt, status, serial


@bp.get("/vouchers")
def voucher_list() -> ResponseReturnValue:
    stmt, status, serial = _voucher_filters()
    return render_template(
        "admin/vouchers/vouchers.html",
        vouchers=list(db_session().scalars(stmt.order_by(Voucher.id.desc()).limit(PAGE))),
        status=status,
        statuses=list(VoucherStatus),
        serial=serial,
    )


VOUCHER_HEADER = {
    "zh": [
        "券号",
        "企业",
        "统一社会信用代码",
        "项目",
        "状态",
        "面值",
        "余额",
        "冻结中",
        "已使用",
        "已退回",
        "生效日",
        "使用截止日",
        "发放时间（北京时间）",
    ],
    "en": [
        "serial",
        "enterprise",
        "credit code",
        "programme",
        "status",
        "face value",
        "balance",
        "held",
        "used",
        "returned",
        "valid from",
        "use by",
        "issued at (Beijing)",
    ],
}


@bp.get("/vouchers.csv", defaults={"kind": Format.CSV})
@bp.get("/vouchers.xlsx", defaults={"kind": Format.XLSX})
def voucher_list_file(kind: Format) -> ResponseReturnValue:
    """The voucher list under the screen's filters, every match (streamed, constant memory)."""
    stmt, _status, _serial = _voucher_filters()
    lang = page_lang()
    rows: Iterable[exports.Row] = (
        [
            v.serial,
            v.enterprise.name,
            v.enterprise.credit_code,
            v.programme.name,
            v.status.en if lang == "en" else v.status.zh,
            format_fen(v.face_value_fen),
            format_fen(v.balance_fen),
            format_fen(v.held_fen),
            format_fen(v.used_fen),
            format_fen(v.returned_fen),
            v.valid_from,
            v.use_by,
            beijing_text(v.issued_at),
        ]
        for v in db_session().scalars(stmt.order_by(Voucher.id).execution_options(yield_per=1_000))
    )
    return exports.download(
        "vouchers",
        kind,
        VOUCHER_HEADER[lang],
        rows,
        total=lambda: exports.count(db_session(), stmt),
    )


def _voucher_page(voucher: Voucher, form: RevokeForm | None = None) -> str:
    session = db_session()
    return render_template(
        "admin/vouchers/voucher.html",
        voucher=voucher,
        holds=list(
            session.scalars(
                sa.select(Hold).where(Hold.voucher_id == voucher.id).order_by(Hold.id.desc())
            )
        ),
        recovery=session.scalar(
            sa.select(RecoveryFlag).where(RecoveryFlag.voucher_id == voucher.id)
        ),
        form=form or RevokeForm(),
    )


def _voucher(voucher_id: int) -> Voucher:
    voucher = common.fetch(db_session(), Voucher, voucher_id)
    if voucher is None:
        raise NotFound(_("No such voucher."))
    return voucher


@bp.get("/vouchers/<int:voucher_id>")
def voucher_detail(voucher_id: int) -> ResponseReturnValue:
    return _voucher_page(_voucher(voucher_id))


@bp.post("/vouchers/<int:voucher_id>/revoke")
@roles_required(*REVIEWERS)
def voucher_revoke(voucher_id: int) -> ResponseReturnValue:
    voucher = _voucher(voucher_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        return _voucher_page(voucher, form), 400
    try:
        expiry.revoke_voucher(
            db_session(),
            voucher.id,
            reason=form.reason.data or "",
            actor_id=current_user.id,
            idempotency_key=f"web:{current_user.id}:{form.idempotency_key.data}",
        )
    except DomainError as exc:
        _flash_error(exc, form)
        return _voucher_page(voucher, form), exc.status
    flash(_("Voucher revoked; its balance went back to the programme budget."), "success")
    return redirect(url_for("admin.voucher_detail", voucher_id=voucher.id))


def _ledger_check_labels() -> dict[str, tuple[str, str]]:
    """Each ledger check's name and what it covers, in the page's language; the report keeps
    the stable names and English descriptions the CLI and the API print."""
    return {
        "transactions_balanced": (
            _("Every posting balances"),
            _("Every transaction: debits equal credits, with at least two entries."),
        ),
        "ledger_balanced": (
            _("The ledger balances"),
            _("All entries together: debits equal credits."),
        ),
        "cached_balances": (
            _("Cached balances"),
            _("Every account's cached balance equals the one recomputed from its entries."),
        ),
        "no_negative_balance": (_("No negative balance"), _("No account balance is below zero.")),
        "spent_within_budget": (
            _("Within budget"),
            _("Per programme: granted = available + committed + spent = budget."),
        ),
        "legs_agree": (
            _("Budget and voucher legs agree"),
            _("Per programme: committed = voucher balances + holds; spent = payable + paid out."),
        ),
        "vouchers_match_ledger": (
            _("Vouchers match the ledger"),
            _("Each voucher's balance and holds match its ledger accounts."),
        ),
        "caps_respected": (
            _("Annual caps respected"),
            _("Per enterprise and year: used + held stays within the cap and matches the holds."),
        ),
        "holds_resolved_once": (
            _("Holds resolved once"),
            _("Each hold is resolved at most once; open holds never."),
        ),
        "provider_payable": (
            _("Payable to providers"),
            _(
                "Per programme and provider: payable = captured voucher parts − reversals − paid out."
            ),
        ),
        "funder_parts": (
            _("Funders' parts add up"),
            _(
                "Per order of a co-funded programme: the funders' parts add up to the voucher "
                "part, held, captured and released, to the fen."
            ),
        ),
        "funder_budgets": (
            _("Funders' budgets"),
            _(
                "Per programme and funder: granted = its budget; held, and spent with paid out, "
                "= its parts; available = the rest."
            ),
        ),
        "provider_paid": (
            _("Paid to providers"),
            _("Paid out = the payment lines the bank confirmed as paid; each line = its items."),
        ),
        "funder_paid": (
            _("Paid by each treasury"),
            _(
                "Per co-funded programme and funder: paid out = its parts in the payment lines "
                "the bank confirmed as paid."
            ),
        ),
        "payout_parts": (
            _("Claim lines paid once per treasury"),
            _(
                "Per claim line: at most one pending or paid payment per paying treasury, "
                "within its voucher part; a paid line's parts equal it, to the fen."
            ),
        ),
    }


@bp.get("/ledger/verify")
def voucher_ledger_verify() -> ResponseReturnValue:
    report = verify_books(db_session())
    return render_template(
        "admin/vouchers/ledger.html", report=report, labels=_ledger_check_labels()
    )
