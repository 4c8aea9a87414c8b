"""Finance pages: payments, bank-transfer receipts, refunds, gateway sync.

Finance officers act; auditors see the same pages read-only (the admin blueprint refuses
their POSTs, and the forms are not shown to them). Other administrator roles have no business
with payments and get 403.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from marketplace.audit.models import AuditEvent
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _, _l
from marketplace.money import MoneyFormatError, parse_yuan
from marketplace.parsing import form_version
from marketplace.payments import services
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.models import Payment, PaymentDispute, PaymentRefund, WebhookEvent
from marketplace.web.admin.views import bp
from marketplace.web.forms import show_error
from marketplace.web.permissions import roles_required

PAGE_SIZE = 50


def _yuan(_form: FlaskForm, field: StringField) -> None:
    try:
        fen = parse_yuan(field.data or "")
    except MoneyFormatError:
        raise ValidationError(_("Enter an amount in yuan, e.g. 1234.50")) from None
    if fen <= 0:
        raise ValidationError(_("The amount must be more than zero"))


class OfflineReceiptForm(FlaskForm):
    bank_reference = StringField(
        _l("Bank reference of the transfer"), validators=[DataRequired(), Length(max=100)]
    )
    amount = StringField(_l("Amount received (yuan)"), validators=[DataRequired(), _yuan])
    version = HiddenField()
    submit = SubmitField(_l("Record receipt"))


class RefundForm(FlaskForm):
    amount = StringField(_l("Refund amount (yuan)"), validators=[DataRequired(), _yuan])
    reason = TextAreaField(_l("Refund reason"), validators=[DataRequired(), Length(max=500)])
    bank_reference = StringField(
        _l("Bank reference of the refund transfer"), validators=[Optional(), Length(max=100)]
    )
    version = HiddenField()
    submit = SubmitField(_l("Issue refund"))


class SyncForm(FlaskForm):
    """Only a button: CSRFProtect checks the token of every POST before the view runs."""

    submit = SubmitField(_l("Sync with the gateway"))


@bp.get("/payments")
@roles_required(Role.FINANCE, Role.AUDITOR)
def payments() -> ResponseReturnValue:
    stmt = sa.select(Payment).order_by(Payment.id.desc())
    status = request.args.get("status", "")
    if status in {s.value for s in PaymentStatus}:
        stmt = stmt.where(Payment.status == PaymentStatus(status))
    gateway = request.args.get("gateway", "")
    if gateway in {g.value for g in GatewayKind}:
        stmt = stmt.where(Payment.gateway == GatewayKind(gateway))
    reference = request.args.get("reference", "").strip()
    if reference:
        stmt = stmt.where(Payment.reference.startswith(reference, autoescape=True))
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(Payment.id < before)
    rows = list(db_session().scalars(stmt.limit(PAGE_SIZE + 1)))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return render_template(
        "admin/payments/list.html",
        payments=rows[:PAGE_SIZE],
        older=older,
        statuses=list(PaymentStatus),
        gateways=list(GatewayKind),
        args={k: v for k, v in request.args.items() if k != "before"},
    )


def _detail(
    payment: Payment,
    *,
    receipt_form: OfflineReceiptForm | None = None,
    refund_form: RefundForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db_session()
    session.refresh(payment)
    refunds = list(
        session.scalars(
            sa.select(PaymentRefund)
            .where(PaymentRefund.payment_id == payment.id)
            .order_by(PaymentRefund.id)
        )
    )
    disputes = list(
        session.scalars(
            sa.select(PaymentDispute)
            .where(PaymentDispute.payment_id == payment.id)
            .order_by(PaymentDispute.id)
        )
    )
    events = list(
        session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.subject_type == "payment", AuditEvent.subject_id == payment.id)
            .order_by(AuditEvent.id)
        )
    )
    webhooks = list(
        session.scalars(
            sa.select(WebhookEvent)
            .where(WebhookEvent.payment_id == payment.id)
            .order_by(WebhookEvent.id)
        )
    )
    can_act = current_user.role is Role.FINANCE
    receipt_form = receipt_form or OfflineReceiptForm(version=str(payment.version))
    refund_form = refund_form or RefundForm(version=str(payment.version))
    return render_template(
        "admin/payments/detail.html",
        payment=payment,
        refunds=refunds,
        disputes=disputes,
        events=events,
        webhooks=webhooks,
        refundable_fen=services.refundable_fen(session, payment),
        can_record=can_act
        and payment.gateway is GatewayKind.OFFLINE
        and payment.status is PaymentStatus.PENDING,
        can_refund=can_act
        and payment.status is PaymentStatus.SUCCEEDED
        and services.refund_owner_message(payment) is None,
        refund_elsewhere=services.refund_owner_message(payment),
        can_sync=can_act and payment.gateway is not GatewayKind.OFFLINE,
        receipt_form=receipt_form,
        refund_form=refund_form,
        sync_form=SyncForm(),
        RefundStatus=RefundStatus,
    ), status


@bp.get("/payments/<int:payment_id>")
@roles_required(Role.FINANCE, Role.AUDITOR)
def payment(payment_id: int) -> ResponseReturnValue:
    return _detail(services.get_payment(db_session(), payment_id))


def _refused(form: Any, exc: DomainError) -> None:
    show_error(exc, form)


@bp.post("/payments/<int:payment_id>/receipt")
@roles_required(Role.FINANCE)
def record_receipt(payment_id: int) -> ResponseReturnValue:
    session = db_session()
    payment = services.get_payment(session, payment_id)
    form = OfflineReceiptForm()
    if not form.validate_on_submit():
        return _detail(payment, receipt_form=form, status=400)
    try:
        services.record_offline_payment(
            session,
            payment_id,
            bank_reference=form.bank_reference.data or "",
            amount_fen=parse_yuan(form.amount.data or ""),
            actor_id=current_user.id,
            expected_version=form_version(form.version.data),
        )
    except DomainError as exc:
        _refused(form, exc)
        return _detail(
            services.get_payment(session, payment_id), receipt_form=form, status=exc.status
        )
    flash(_("Receipt recorded; the payment is paid."), "success")
    return redirect(url_for("admin.payment", payment_id=payment_id))


@bp.post("/payments/<int:payment_id>/refunds")
@roles_required(Role.FINANCE)
def refund(payment_id: int) -> ResponseReturnValue:
    session = db_session()
    payment = services.get_payment(session, payment_id)
    form = RefundForm()
    if not form.validate_on_submit():
        return _detail(payment, refund_form=form, status=400)
    try:
        row = services.refund(
            session,
            payment_id,
            amount_fen=parse_yuan(form.amount.data or ""),
            reason=form.reason.data or "",
            bank_reference=form.bank_reference.data or None,
            actor_id=current_user.id,
            expected_version=form_version(form.version.data),
        )
    except DomainError as exc:
        _refused(form, exc)
        return _detail(
            services.get_payment(session, payment_id), refund_form=form, status=exc.status
        )
    if row.status is RefundStatus.SUCCEEDED:
        flash(_("Refund recorded."), "success")
    else:
        flash(_("Refund requested; the gateway confirms it in a moment."), "success")
    return redirect(url_for("admin.payment", payment_id=payment_id))


@bp.post("/payments/<int:payment_id>/sync")
@roles_required(Role.FINANCE)
def sync(payment_id: int) -> ResponseReturnValue:
    session = db_session()
    try:
        services.sync_from_gateway(session, payment_id)
    except DomainError as exc:
        flash(exc.message, "error")
        return _detail(services.get_payment(session, payment_id), status=exc.status)
    flash(_("Synchronised with the gateway."), "success")
    return redirect(url_for("admin.payment", payment_id=payment_id))
