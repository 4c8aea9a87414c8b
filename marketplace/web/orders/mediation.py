"""Mediation pages of a disputed order (same ``orders`` blueprint, same gate): messages and
documents from both parties and the mediator, and the reviewer's decision."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from marketplace.db import db_session
from marketplace.errors import DomainError, NotFound
from marketplace.i18n import _
from marketplace.orders import disputes
from marketplace.orders.access import capacity_of
from marketplace.orders.enums import Actor, DisputeStatus, Outcome
from marketplace.orders.files import Upload
from marketplace.orders.models import Order
from marketplace.web.forms import show_error
from marketplace.web.orders.forms import DecisionForm, DocumentForm, MessageForm
from marketplace.web.orders.views import (
    bp,
    flash_form_errors,
    order_storage,
    send_stored,
    signed_in_user,
    visible_order,
)


def _mediation(order: Order, status: int = 200, **forms: Any) -> ResponseReturnValue:
    session = db_session()
    session.flush()
    session.refresh(order)
    try:
        found = disputes.dispute_of(session, order)
    except NotFound:
        abort(404)
    session.refresh(found)
    actor = capacity_of(signed_in_user(), order)
    is_open = found.status is DisputeStatus.OPEN
    return render_template(
        "orders/mediation.html",
        order=order,
        dispute=found,
        can_write=is_open and actor in disputes.PARTICIPANTS,
        can_decide=is_open and actor is Actor.REVIEWER,
        message_form=forms.get("message") or MessageForm(),
        document_form=forms.get("document") or DocumentForm(),
        decision_form=forms.get("decision") or DecisionForm(version=str(order.version)),
    ), status


@bp.get("/<int:order_id>/mediation")
def mediation(order_id: int) -> ResponseReturnValue:
    return _mediation(visible_order(order_id))


def _mediation_step(
    order_id: int, name: str, form: Any, run: Any, done: str
) -> ResponseReturnValue:
    order = visible_order(order_id)
    session = db_session()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _mediation(order, 400, **{name: form})
    try:
        run(session, order, form)
    except DomainError as exc:
        show_error(exc, form)
        return _mediation(visible_order(order_id), exc.status, **{name: form})
    flash(done, "success")
    return redirect(url_for("orders.mediation", order_id=order_id))


@bp.post("/<int:order_id>/mediation/messages")
def post_message(order_id: int) -> ResponseReturnValue:
    return _mediation_step(
        order_id,
        "message",
        MessageForm(),
        lambda s, o, f: disputes.post_message(s, o.id, signed_in_user(), body=f.body.data),
        _("Message posted."),
    )


@bp.post("/<int:order_id>/mediation/documents")
def add_document(order_id: int) -> ResponseReturnValue:
    def run(s: Any, o: Order, f: DocumentForm) -> None:
        upload = f.document.data
        disputes.add_document(
            s,
            order_storage(),
            o.id,
            signed_in_user(),
            upload=Upload(filename=upload.filename or "", stream=upload.stream),
        )

    return _mediation_step(order_id, "document", DocumentForm(), run, _("Document added."))


@bp.post("/<int:order_id>/mediation/decision")
def decide(order_id: int) -> ResponseReturnValue:
    def run(s: Any, o: Order, f: DecisionForm) -> None:
        disputes.decide(
            s,
            o.id,
            signed_in_user(),
            outcome=Outcome(f.outcome.data),
            note=f.note.data,
            refund_fen=f.refund.fen or 0,
            voucher_restore_fen=f.restore.fen or 0,
            expected_version=f.expected_version(),
        )

    return _mediation_step(order_id, "decision", DecisionForm(), run, _("Decision recorded."))


@bp.get("/<int:order_id>/mediation/documents/<int:document_id>")
def document(order_id: int, document_id: int) -> ResponseReturnValue:
    try:
        found = disputes.get_document(db_session(), order_id, document_id, signed_in_user())
        path = order_storage().path_for(found.stored_name)
    except NotFound:
        abort(404)
    return send_stored(path, found.content_type, found.original_filename)
