"""Funders (treasuries) and programmes' funders' shares and budgets: every administrator role
reads, system administrators manage (they manage programmes and budgets)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from wtforms import SelectChoice

from marketplace import masking, regions
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError, ValidationFailed
from marketplace.i18n import _
from marketplace.money import format_fen
from marketplace.parsing import ascii_int
from marketplace.web.admin.funder_forms import FunderBudgetForm, FunderForm, SharesForm
from marketplace.web.admin.views import bp
from marketplace.web.forms import fen_of, lazy_label
from marketplace.web.permissions import roles_required
from vouchers import funders, programmes
from vouchers.enums import FunderLevel
from vouchers.funders import FunderInput, ShareInput
from vouchers.models import Programme

_HOME = "home:"


def _flash_error(exc: DomainError, form: Any) -> None:
    flash(exc.message, "error")
    errors = exc.errors if isinstance(exc, ValidationFailed) else {}
    if exc.field and not errors:
        errors = {exc.field: [exc.message]}
    for name, messages in errors.items():
        field = getattr(form, {"budget_fen": "budget"}.get(name, name), None)
        if field is not None:
            field.errors = [*field.errors, *messages]


def _funder_input(form: FunderForm) -> FunderInput:
    return FunderInput(
        name=form.name.data or "",
        region_code=form.region_code.data or "",
        bank_account_name=form.bank_account_name.data or "",
        bank_name=form.bank_name.data or "",
        bank_account_number=form.bank_account_number.data or "",
    )


def _list_page(form: FunderForm, status: int = 200) -> ResponseReturnValue:
    page = render_template(
        "admin/funders/list.html",
        funders=funders.list_funders(db_session()),
        form=form,
        mask_account=masking.bank_account,
    )
    return page, status


@bp.get("/funders")
def funder_list() -> ResponseReturnValue:
    return _list_page(FunderForm())


@bp.post("/funders")
@roles_required(Role.SYSADMIN)
def funder_create() -> ResponseReturnValue:
    form = FunderForm()
    if not form.validate_on_submit():
        return _list_page(form, 400)
    try:
        funders.create_funder(db_session(), _funder_input(form), actor_id=current_user.id)
    except DomainError as exc:
        _flash_error(exc, form)
        return _list_page(form, exc.status)
    flash(_("Funder registered."), "success")
    return redirect(url_for("admin.funder_list"))


@bp.route("/funders/<int:funder_id>/edit", methods=["GET", "POST"])
@roles_required(Role.SYSADMIN)
def funder_edit(funder_id: int) -> ResponseReturnValue:
    session = db_session()
    funder = funders.get_funder(session, funder_id)
    form = FunderForm()
    status = 200
    if request.method == "GET":
        form.name.data = funder.name
        form.region_code.data = funder.region_code
        form.bank_account_name.data = funder.bank_account_name or ""
        form.bank_name.data = funder.bank_name or ""
        form.bank_account_number.data = funder.bank_account_number or ""
        form.version.data = str(funder.version)
    elif form.validate_on_submit():
        try:
            funders.update_funder(
                session,
                funder.id,
                _funder_input(form),
                expected_version=ascii_int(form.version.data or "") or -1,
                actor_id=current_user.id,
            )
        except DomainError as exc:
            _flash_error(exc, form)
            status = exc.status
        else:
            flash(_("Funder saved."), "success")
            return redirect(url_for("admin.funder_list"))
    else:
        status = 400
    return render_template("admin/funders/form.html", form=form, funder=funder), status


def _payer_choices() -> list[SelectChoice]:
    choices = [SelectChoice("", _("(not used)"))]
    choices += [
        SelectChoice(
            f"{_HOME}{level.value}", _("The SME's home %(level)s", level=lazy_label(level))
        )
        for level in (FunderLevel.PREFECTURE, FunderLevel.COUNTY)
    ]
    choices += [
        SelectChoice(str(f.id), f"{f.name}（{regions.label(f.region_code)}）")
        for f in funders.list_funders(db_session())
    ]
    return choices


def _programme_page(
    programme: Programme, shares_form: SharesForm, budget_form: FunderBudgetForm, status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    payers = _payer_choices()
    for row in shares_form.rows:
        row.form.payer.choices = payers
    budget_form.funder.choices = [c for c in payers if c.value and not c.value.startswith(_HOME)]
    page = render_template(
        "admin/funders/programme.html",
        programme=programme,
        view=funders.programme_funders(session, programme),
        shares_form=shares_form,
        budget_form=budget_form,
    )
    return page, status


@bp.get("/programmes/<int:programme_id>/funders")
def programme_funders(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    shares_form = SharesForm()
    current = funders.shares_of(session, programme.id)
    for row, share in zip(shares_form.rows, current, strict=False):
        row.form.payer.data = (
            str(share.funder_id)
            if share.funder_id is not None
            else f"{_HOME}{share.home_level.value if share.home_level else ''}"
        )
        row.form.percent.data = format_fen(share.share_bps, symbol=False, grouping=False)
    shares_form.version.data = str(programme.version)
    return _programme_page(programme, shares_form, FunderBudgetForm())


def _share_inputs(form: SharesForm) -> list[ShareInput]:
    shares: list[ShareInput] = []
    for row in form.rows:
        payer = row.form.payer.data or ""
        if not payer:
            continue
        bps = row.form.percent.fen or 0
        if payer.startswith(_HOME):
            level = payer.removeprefix(_HOME)
            valid = level in {m.value for m in FunderLevel}
            shares.append(
                ShareInput(bps, home_level=FunderLevel(level) if valid else FunderLevel.PROVINCE)
            )
        else:
            shares.append(ShareInput(bps, funder_id=ascii_int(payer) or -1))
    return shares


@bp.post("/programmes/<int:programme_id>/shares")
@roles_required(Role.SYSADMIN)
def programme_shares_set(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    form = SharesForm()
    if not form.validate_on_submit():
        return _programme_page(programme, form, FunderBudgetForm(), 400)
    try:
        funders.set_shares(
            session,
            programme.id,
            _share_inputs(form),
            expected_version=ascii_int(form.version.data or "") or -1,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _programme_page(programme, form, FunderBudgetForm(), exc.status)
    flash(_("Funders' shares saved."), "success")
    return redirect(url_for("admin.programme_funders", programme_id=programme.id))


@bp.post("/programmes/<int:programme_id>/funder-budget")
@roles_required(Role.SYSADMIN)
def programme_funder_budget(programme_id: int) -> ResponseReturnValue:
    session = db_session()
    programme = programmes.get_programme(session, programme_id)
    form = FunderBudgetForm()
    shares_form = SharesForm(formdata=None)
    shares_form.version.data = str(programme.version)
    if not form.validate_on_submit():
        return _programme_page(programme, shares_form, form, 400)
    try:
        funders.set_budget(
            session,
            programme.id,
            ascii_int(form.funder.data or "") or -1,
            fen_of(form.budget),
            actor_id=current_user.id,
        )
    except DomainError as exc:
        _flash_error(exc, form)
        return _programme_page(programme, shares_form, form, exc.status)
    flash(_("Funder's budget saved."), "success")
    return redirect(url_for("admin.programme_funders", programme_id=programme.id))
