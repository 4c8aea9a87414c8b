"""Administration of providers: the review queue, public notice and objections, admission,
suspension, per-programme participation, assessments, the documents behind them, and the
reviewers' decisions on what a provider changes after its review (documents, qualification
numbers, withdrawals of related-party declarations).

Every administrator may read; reviewers decide (auditors are read-only at the blueprint;
system administrators read only; finance officers decide settlement bank-account changes and
nothing else here).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace import clock
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError, ValidationFailed
from marketplace.i18n import _, _l
from marketplace.web.admin.views import bp
from marketplace.web.forms import enum_choices, lazy_label
from marketplace.web.permissions import fresh_second_factor, roles_required
from marketplace.web.provider.forms import ReasonForm, SafeForm
from marketplace.web.provider.views import send_document
from providers import admission, bank_changes, credit, documents, evidence, related, services
from providers.documents import DocumentStorage
from providers.enums import (
    AssessorKind,
    BankChangeStatus,
    ObjectionStatus,
    ParticipationStatus,
    ProviderStatus,
    ReviewStatus,
)
from providers.models import (
    BankAccountChange,
    Objection,
    Provider,
    ProviderDocument,
    QualificationChange,
    RelatedPartyWithdrawal,
)
from providers.presenters import commitment_view, provider_file

#: Reviewers decide admission; system administrators only read (separation of duties).
DECIDERS = (Role.REVIEWER,)
QUEUES: dict[str, tuple[Any, ...]] = {
    "review": (Provider.status == ProviderStatus.PENDING, Provider.submitted_at.is_not(None)),
    "drafts": (Provider.status == ProviderStatus.PENDING, Provider.submitted_at.is_(None)),
    "in_notice": (Provider.status == ProviderStatus.IN_NOTICE,),
    "admitted": (Provider.status == ProviderStatus.ADMITTED,),
    "suspended": (Provider.status == ProviderStatus.SUSPENDED,),
    "rejected": (Provider.status == ProviderStatus.REJECTED,),
    "revoked": (Provider.status == ProviderStatus.REVOKED,),
    "bank_changes": (
        sa.exists().where(
            BankAccountChange.provider_id == Provider.id,
            BankAccountChange.status == BankChangeStatus.PENDING,
        ),
    ),
    # What a provider changed after its application was reviewed, awaiting a reviewer (the
    # documents of an application still to be reviewed are decided with it: "review").
    "evidence": (
        sa.or_(
            sa.and_(
                Provider.status.in_(evidence.REVIEWED_STATUSES),
                sa.exists().where(
                    ProviderDocument.provider_id == Provider.id,
                    ProviderDocument.review_status == ReviewStatus.PENDING,
                ),
            ),
            sa.exists().where(
                QualificationChange.provider_id == Provider.id,
                QualificationChange.status == ReviewStatus.PENDING,
            ),
            sa.exists().where(
                RelatedPartyWithdrawal.provider_id == Provider.id,
                RelatedPartyWithdrawal.status == ReviewStatus.PENDING,
            ),
        ),
    ),
}
#: Settlement bank-account changes are approved by finance (maker-checker, never a reviewer).
BANK_DECIDERS = (Role.FINANCE,)


class AssessmentForm(SafeForm):
    assessor_kind = SelectField(_l("Assessed by"), choices=enum_choices(AssessorKind))
    evaluator_name = StringField(
        _l("Evaluator (office or institution)"), validators=[DataRequired(), Length(max=200)]
    )
    score = IntegerField(_l("Score (0–100)"), validators=[InputRequired(), NumberRange(0, 100)])
    period = StringField(_l("Period (e.g. 2026)"), validators=[DataRequired(), Length(max=20)])
    comment = TextAreaField(_l("Findings"), validators=[DataRequired(), Length(max=5000)])
    report_ref = StringField(_l("Report number"), validators=[Optional(), Length(max=100)])


class ParticipationForm(SafeForm):
    status = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice(s.value, lazy_label(s))
            for s in (
                ParticipationStatus.ADMITTED,
                ParticipationStatus.REJECTED,
                ParticipationStatus.WITHDRAWN,
            )
        ],
    )
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


def _storage() -> DocumentStorage:
    return DocumentStorage.from_settings(current_settings())


def _back(provider_id: int) -> ResponseReturnValue:
    return redirect(url_for("admin.provider_detail", provider_id=provider_id))


def _refused(exc: DomainError, provider_id: int) -> ResponseReturnValue:
    flash(exc.message, "error")
    if isinstance(exc, ValidationFailed):
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
    return _back(provider_id)


@bp.get("/providers")
def providers_queue() -> ResponseReturnValue:
    queue = request.args.get("queue", "review")
    if queue not in QUEUES:
        queue = "review"
    session = db_session()
    rows = session.scalars(
        sa.select(Provider).where(*QUEUES[queue]).order_by(Provider.id.desc()).limit(200)
    )
    counts = {
        name: session.scalar(sa.select(sa.func.count()).select_from(Provider).where(*where))
        for name, where in QUEUES.items()
    }
    open_objections = session.scalar(
        sa.select(sa.func.count()).where(Objection.status == ObjectionStatus.OPEN)
    )
    return render_template(
        "admin/providers/queue.html",
        providers=list(rows),
        queue=queue,
        counts=counts,
        open_objections=open_objections,
    )


@bp.get("/providers/<int:provider_id>")
def provider_detail(provider_id: int) -> ResponseReturnValue:
    session = db_session()
    provider = services.get_provider(session, provider_id)
    return render_template(
        "admin/providers/detail.html",
        file=provider_file(session, provider, clock.today()),
        documents=documents.documents_of(session, provider.id),
        commitment=commitment_view(session, provider.id),
        objections=admission.objections_of(session, provider.id),
        assessments=credit.assessments_of(session, provider.id),
        credit=credit.credit_breakdown(session, provider.id),
        events=credit.credit_events_of(session, provider.id),
        related_parties=related.related_parties_of(session, provider.id),
        bank_changes=bank_changes.changes_of(session, provider.id),
        qualification_changes=evidence.qualification_changes_of(session, provider.id),
        withdrawals=related.withdrawals_of(session, provider.id),
        documents_reviewed_alone=evidence.awaits_own_review(provider),
        notice_round=admission.current_notice_round(session, provider.id),
        today=clock.today(),
        can_decide=current_user.role in DECIDERS,
        can_decide_bank=current_user.role in BANK_DECIDERS,
        reason_form=ReasonForm(),
        assessment_form=AssessmentForm(),
        participation_form=ParticipationForm(),
        plain_form=FlaskForm(),
    )


@bp.get("/providers/<int:provider_id>/documents/<int:document_id>")
def provider_document(provider_id: int, document_id: int) -> ResponseReturnValue:
    document = documents.get_document(db_session(), provider_id, document_id)
    return send_document(_storage(), document)


_ACTIONS = {"pass-to-notice", "admit", "reject", "suspend", "reinstate", "revoke"}


@bp.post("/providers/<int:provider_id>/<action>")
@roles_required(*DECIDERS)
def provider_action(provider_id: int, action: str) -> ResponseReturnValue:
    if action not in _ACTIONS:
        return _back(provider_id)
    session = db_session()
    provider = services.get_provider(session, provider_id)
    reason = ReasonForm().reason.data or ""
    today = clock.today()
    actor = current_user.id
    try:
        if action == "pass-to-notice":
            admission.pass_to_notice(session, provider, actor_id=actor, today=today)
            flash(_("Passed to public notice."), "success")
        elif action == "admit":
            admission.admit(session, provider, actor_id=actor, today=today)
            flash(_("Provider admitted."), "success")
        elif action == "reject":
            admission.reject(session, provider, reason=reason, actor_id=actor)
            flash(_("Application rejected."), "success")
        elif action == "suspend":
            admission.suspend(session, provider, reason=reason, actor_id=actor)
            flash(_("Provider suspended."), "success")
        elif action == "reinstate":
            admission.reinstate(session, provider, reason=reason, actor_id=actor, today=today)
            flash(_("Provider reinstated."), "success")
        else:
            admission.revoke(session, provider, reason=reason, actor_id=actor)
            flash(_("Admission revoked."), "success")
    except DomainError as exc:
        return _refused(exc, provider_id)
    return _back(provider_id)


@bp.post("/providers/<int:provider_id>/bank-changes/<int:change_id>/<decision>")
@roles_required(*BANK_DECIDERS)
@fresh_second_factor
def decide_bank_change(provider_id: int, change_id: int, decision: str) -> ResponseReturnValue:
    session = db_session()
    change = session.get(BankAccountChange, change_id)
    if change is None or change.provider_id != provider_id or decision not in {"approve", "reject"}:
        return _back(provider_id)
    reason = ReasonForm().reason.data or ""
    try:
        if decision == "approve":
            bank_changes.approve(session, change_id, actor_id=current_user.id, reason=reason)
            flash(_("Bank account change approved; payments now go to the new account."), "success")
        else:
            bank_changes.reject(session, change_id, actor_id=current_user.id, reason=reason)
            flash(_("Bank account change rejected."), "success")
    except DomainError as exc:
        return _refused(exc, provider_id)
    return _back(provider_id)


_DECISIONS = {"approve", "reject"}


def _decide_evidence(
    provider_id: int, decision: str, approve: Any, reject: Any, row_id: int
) -> ResponseReturnValue:
    reason = ReasonForm().reason.data or ""
    try:
        if decision == "approve":
            approve(db_session(), row_id, actor_id=current_user.id, reason=reason or None)
            flash(_("Accepted; it takes effect now."), "success")
        else:
            reject(db_session(), row_id, actor_id=current_user.id, reason=reason)
            flash(_("Rejected; what was in force before stays in force."), "success")
    except DomainError as exc:
        return _refused(exc, provider_id)
    return _back(provider_id)


@bp.post("/providers/<int:provider_id>/documents/<int:document_id>/<decision>")
@roles_required(*DECIDERS)
def decide_document(provider_id: int, document_id: int, decision: str) -> ResponseReturnValue:
    document = db_session().get(ProviderDocument, document_id)
    if document is None or document.provider_id != provider_id or decision not in _DECISIONS:
        return _back(provider_id)
    return _decide_evidence(
        provider_id,
        decision,
        evidence.approve_document,
        evidence.reject_document,
        document_id,
    )


@bp.post("/providers/<int:provider_id>/qualification-changes/<int:change_id>/<decision>")
@roles_required(*DECIDERS)
def decide_qualification_change(
    provider_id: int, change_id: int, decision: str
) -> ResponseReturnValue:
    change = db_session().get(QualificationChange, change_id)
    if change is None or change.provider_id != provider_id or decision not in _DECISIONS:
        return _back(provider_id)
    return _decide_evidence(
        provider_id,
        decision,
        evidence.approve_qualification_change,
        evidence.reject_qualification_change,
        change_id,
    )


@bp.post("/providers/<int:provider_id>/related-party-withdrawals/<int:withdrawal_id>/<decision>")
@roles_required(*DECIDERS)
def decide_withdrawal(provider_id: int, withdrawal_id: int, decision: str) -> ResponseReturnValue:
    request_row = db_session().get(RelatedPartyWithdrawal, withdrawal_id)
    if request_row is None or request_row.provider_id != provider_id or decision not in _DECISIONS:
        return _back(provider_id)
    return _decide_evidence(
        provider_id,
        decision,
        related.approve_withdrawal,
        related.reject_withdrawal,
        withdrawal_id,
    )


@bp.post("/providers/<int:provider_id>/programmes/<int:programme_id>")
@roles_required(*DECIDERS)
def provider_participation(provider_id: int, programme_id: int) -> ResponseReturnValue:
    session = db_session()
    form = ParticipationForm()
    try:
        target = ParticipationStatus(form.status.data)
        admission.decide_participation(
            session,
            services.get_provider(session, provider_id),
            programme_id,
            target,
            reason=form.reason.data,
            actor_id=current_user.id,
        )
    except ValueError:
        flash(_("Choose a decision."), "error")
        return _back(provider_id)
    except DomainError as exc:
        return _refused(exc, provider_id)
    flash(_("Programme decision saved."), "success")
    return _back(provider_id)


@bp.get("/providers/objections")
def objections() -> ResponseReturnValue:
    status = request.args.get("status", ObjectionStatus.OPEN.value)
    stmt = sa.select(Objection).order_by(Objection.id.desc()).limit(200)
    if status in ObjectionStatus._value2member_map_:
        stmt = stmt.where(Objection.status == ObjectionStatus(status))
    return render_template(
        "admin/providers/objections.html",
        objections=list(db_session().scalars(stmt)),
        status=status,
        statuses=list(ObjectionStatus),
        can_decide=current_user.role in DECIDERS,
        reason_form=ReasonForm(),
    )


@bp.post("/providers/objections/<int:objection_id>/<decision>")
@roles_required(*DECIDERS)
def decide_objection(objection_id: int, decision: str) -> ResponseReturnValue:
    session = db_session()
    objection = session.get(Objection, objection_id)
    if objection is None or decision not in {"uphold", "dismiss"}:
        return redirect(url_for("admin.objections"))
    try:
        admission.decide_objection(
            session,
            objection_id,
            uphold=decision == "uphold",
            reason=ReasonForm().reason.data or "",
            actor_id=current_user.id,
        )
    except DomainError as exc:
        return _refused(exc, objection.provider_id)
    flash(_("Objection upheld.") if decision == "uphold" else _("Objection dismissed."), "success")
    return _back(objection.provider_id)


@bp.post("/providers/<int:provider_id>/assessments")
@roles_required(*DECIDERS)
def assess_provider(provider_id: int) -> ResponseReturnValue:
    session = db_session()
    form = AssessmentForm()
    if not form.validate_on_submit():
        flash(_("The assessment is incomplete."), "error")
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
        return _back(provider_id)
    try:
        credit.record_assessment(
            session,
            services.get_provider(session, provider_id),
            assessor_kind=AssessorKind(form.assessor_kind.data),
            evaluator_name=form.evaluator_name.data or "",
            score=form.score.data if form.score.data is not None else -1,
            period=form.period.data or "",
            comment=form.comment.data or "",
            report_ref=form.report_ref.data,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        return _refused(exc, provider_id)
    flash(_("Assessment recorded."), "success")
    return _back(provider_id)
