"""The outcomes page of a completed order: the SME records what the service led to (for one
year); administrators read it. Routes on the orders blueprint."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from marketplace import clock
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _, _l
from marketplace.money import format_fen
from marketplace.outcomes import services
from marketplace.outcomes.enums import PatentType
from marketplace.parsing import ascii_int
from marketplace.web.forms import YuanField, fen_of, show_error
from marketplace.web.orders.views import bp, signed_in_user, visible_order


class OutcomeForm(FlaskForm):
    patents = TextAreaField(
        _l(
            "Patent applications: one per line, the application number then its type "
            "(invention, utility model or design)"
        ),
        validators=[Length(max=3000)],
    )
    certifications = IntegerField(
        _l("Certifications or test reports obtained"),
        default=0,
        validators=[Optional(), NumberRange(0, 10_000)],
    )
    certification_note = StringField(_l("Which certifications"), validators=[Length(max=2000)])
    high_tech_recognised = BooleanField(_l("Recognised as a high-tech enterprise (高新技术企业)"))
    new_products = IntegerField(
        _l("New products"), default=0, validators=[Optional(), NumberRange(0, 10_000)]
    )
    new_processes = IntegerField(
        _l("New processes"), default=0, validators=[Optional(), NumberRange(0, 10_000)]
    )
    revenue_effect = YuanField(_l("Revenue gained per year (yuan)"), default="0")
    cost_effect = YuanField(_l("Cost saved per year (yuan)"), default="0")
    notes = TextAreaField(_l("Other outcomes"), validators=[Length(max=5000)])
    version = HiddenField()


#: What a person may type as a patent's type: the code, or its name in either language
#: (发明, 发明专利, Invention patent …), so the Chinese page can ask for Chinese words.
_PATENT_WORDS = {
    word.lower(): kind
    for kind in PatentType
    for word in (kind.value, kind.zh, kind.zh.removesuffix("专利"), kind.en)
}


def _patents(text: str) -> tuple[tuple[str, PatentType], ...]:
    """``number [type]`` per line; the type defaults to an invention patent."""
    found = []
    for line in (text or "").splitlines():
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        kind = _PATENT_WORDS.get(parts[1].strip().lower()) if len(parts) > 1 else None
        found.append((parts[0], kind or PatentType.INVENTION))
    return tuple(found)


@bp.route("/<int:order_id>/outcome", methods=["GET", "POST"])
def outcome(order_id: int) -> ResponseReturnValue:
    session = db_session()
    user = signed_in_user()
    if user.role is Role.PROVIDER:
        abort(404)  # the SME's business information, reported to the programme
    order = visible_order(order_id)
    current = services.get_outcome(session, order.id)
    completed = order.status in services.COMPLETED and order.confirmed_at is not None
    # Editable by the ordering SME for a year after confirmation; read-only afterwards.
    until = services.editable_until(order) if completed else None
    locked = until is not None and clock.today() > until
    may_edit = user.role is Role.ENTERPRISE and completed and not locked
    form = OutcomeForm()
    status = 200
    if form.is_submitted():
        if not may_edit:
            abort(403)
        if form.validate():
            try:
                services.record_outcome(
                    session,
                    order,
                    user,
                    services.OutcomeInput(
                        patents=_patents(form.patents.data or ""),
                        certifications=int(form.certifications.data or 0),
                        certification_note=form.certification_note.data or "",
                        high_tech_recognised=bool(form.high_tech_recognised.data),
                        new_products=int(form.new_products.data or 0),
                        new_processes=int(form.new_processes.data or 0),
                        revenue_effect_fen=fen_of(form.revenue_effect),
                        cost_effect_fen=fen_of(form.cost_effect),
                        notes=form.notes.data or "",
                    ),
                    expected_version=ascii_int(form.version.data or "") if current else None,
                )
            except DomainError as exc:
                show_error(exc, form)
                status = exc.status
            else:
                flash(_("Outcomes saved."), "success")
                return redirect(url_for("orders.outcome", order_id=order.id))
        else:
            for messages in form.errors.values():
                for message in messages:
                    flash(str(message), "error")
            status = 400
    elif current is not None:
        form.patents.data = "\n".join(
            f"{p['number']} {PatentType(p['type']).zh}" for p in current.patents
        )
        form.certifications.data = current.certifications
        form.certification_note.data = current.certification_note
        form.high_tech_recognised.data = current.high_tech_recognised
        form.new_products.data = current.new_products
        form.new_processes.data = current.new_processes
        form.revenue_effect.data = format_fen(
            current.revenue_effect_fen, symbol=False, grouping=False
        )
        form.cost_effect.data = format_fen(current.cost_effect_fen, symbol=False, grouping=False)
        form.notes.data = current.notes
        form.version.data = str(current.version)
    return render_template(
        "orders/outcome.html",
        order=order,
        outcome=current,
        form=form,
        may_edit=may_edit,
        locked_since=until if locked and user.role is Role.ENTERPRISE else None,
        patent_type=PatentType,
    ), status
