"""Invoice files (same ``orders`` blueprint, same gate: every role signed in, auditors
read-only): downloading one (its order's parties and the staff who check claims), and
uploading a red-letter invoice. Whoever received one (the SME, the provider, staff) can bring
it: the reversed invoice's claim is then frozen, or its payout flagged for recovery."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from marketplace.db import db_session
from marketplace.errors import DomainError, NotFound
from marketplace.i18n import _
from marketplace.orders import invoices
from marketplace.orders.files import Upload
from marketplace.settlement import reversals
from marketplace.web.forms import show_error
from marketplace.web.orders.forms import RedLetterForm
from marketplace.web.orders.views import (
    bp,
    order_storage,
    send_stored,
    signed_in_user,
)


@bp.get("/invoice-files/<int:file_id>")
def invoice_file(file_id: int) -> ResponseReturnValue:
    try:
        row = invoices.entitled_file(db_session(), signed_in_user(), file_id)
        path = order_storage().path_for(row.stored_name)
    except NotFound:
        abort(404)
    return send_stored(path, row.content_type, row.original_filename)


def _page(form: RedLetterForm, status: int = 200) -> ResponseReturnValue:
    return render_template("orders/red_letter.html", form=form), status


@bp.get("/red-letter-invoices")
def red_letter() -> ResponseReturnValue:
    return _page(RedLetterForm())


@bp.post("/red-letter-invoices")
def red_letter_upload() -> ResponseReturnValue:
    form = RedLetterForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    uploads = [
        Upload(filename=field.data.filename or "", stream=field.data.stream)
        for field in (form.invoice_file, form.invoice_pdf)
        if field.data and field.data.filename
    ]
    try:
        result = reversals.record_red_letter(
            db_session(), order_storage(), uploads, actor_id=signed_in_user().id
        )
    except DomainError as exc:
        show_error(exc, form, {exc.field or "": "invoice_file"})
        return _page(form, exc.status)
    red = result.red_letter
    if result.recovery is not None:
        flash(
            _(
                "Red-letter invoice %(number)s recorded: the reversed invoice was already paid "
                "out; its voucher part is flagged for recovery.",
                number=red.number,
            ),
            "warning",
        )
    elif result.line is not None:
        flash(
            _(
                "Red-letter invoice %(number)s recorded: the claim of the reversed invoice is "
                "frozen.",
                number=red.number,
            ),
            "warning",
        )
    else:
        flash(_("Red-letter invoice %(number)s recorded.", number=red.number), "success")
    return redirect(url_for("orders.red_letter"))
