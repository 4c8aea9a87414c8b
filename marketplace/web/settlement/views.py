"""Provider pages of settlement: claimable orders, submitting a claim, claims and checklists.

Thin: read the form, call :mod:`marketplace.settlement.claims`, flash, redirect. Another provider's claim
answers 404 (the service looks claims up within the signed-in provider).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace.clock import local_date
from marketplace.config import current_settings
from marketplace.db import db_session, utcnow
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.parsing import form_version
from marketplace.settlement import claims
from marketplace.settlement.enums import CheckRule, ClaimLineStatus, ClaimStatus
from marketplace.settlement.models import Claim
from marketplace.web.permissions import gate_blueprint
from marketplace.web.settlement.forms import ClaimForm, ResubmitForm

bp = Blueprint("settlement", __name__, url_prefix="/settlement")
gate_blueprint(bp, Role.PROVIDER)

PAGE_SIZE = 50
#: Checklist items are stored by rule value; pages show the rule's label in the page language.
RULES = {rule.value: rule for rule in CheckRule}


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"rules": RULES}


def _provider_id() -> int:
    if current_user.provider_id is None:  # pragma: no cover - the users CHECK forbids it
        abort(404)
    return int(current_user.provider_id)


@bp.get("/")
def claims_list() -> ResponseReturnValue:
    stmt = sa.select(Claim).where(Claim.provider_id == _provider_id()).order_by(Claim.id.desc())
    status = request.args.get("status", "")
    if status in {s.value for s in ClaimStatus}:
        stmt = stmt.where(Claim.status == ClaimStatus(status))
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(Claim.id < before)
    rows = list(db_session().scalars(stmt.limit(PAGE_SIZE + 1)))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return render_template(
        "settlement/claims.html",
        claims=rows[:PAGE_SIZE],
        older=older,
        statuses=list(ClaimStatus),
        status=status,
    )


def _claimable_page(form: ClaimForm, status: int = 200) -> ResponseReturnValue:
    today = local_date(utcnow())
    items = claims.claimable_orders(
        db_session(),
        _provider_id(),
        today=today,
        cooling_off_days=current_settings().settlement_cooling_off_days,
    )
    form.order_ids.choices = [(item.order.id, str(item.order.id)) for item in items if item.ready]
    return (
        render_template(
            "settlement/claimable.html",
            items=items,
            form=form,
            today=today,
            cooling_off_days=current_settings().settlement_cooling_off_days,
        ),
        status,
    )


@bp.get("/claimable")
def claimable() -> ResponseReturnValue:
    return _claimable_page(ClaimForm())


@bp.post("/claims")
def create_claim() -> ResponseReturnValue:
    form = ClaimForm()
    if not form.validate_on_submit():
        return _claimable_page(form, 400)
    if not form.order_ids.data:
        form.order_ids.errors = [_("Tick at least one order.")]
        return _claimable_page(form, 400)
    session = db_session()
    try:
        claim = claims.create_claim(
            session,
            _provider_id(),
            form.order_ids.data,
            actor_id=current_user.id,
            note=form.note.data or "",
            cooling_off_days=current_settings().settlement_cooling_off_days,
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _claimable_page(form, exc.status)
    if all(line.precheck_passed for line in claim.lines):
        flash(_("Claim submitted; every automatic check passed."), "success")
    else:
        flash(
            _("Claim submitted. Some lines failed the automatic checks; see the checklist."),
            "warning",
        )
    return redirect(url_for("settlement.claim_detail", claim_id=claim.id))


def _detail(claim: Claim, status: int = 200) -> ResponseReturnValue:
    session = db_session()
    return (
        render_template(
            "settlement/claim.html",
            claim=claim,
            events=claims.history(session, claim.id),
            resubmit_form=ResubmitForm(version=str(claim.version)),
            can_resubmit=any(
                line.status is ClaimLineStatus.CHANGES_REQUESTED for line in claim.lines
            ),
        ),
        status,
    )


@bp.get("/claims/<int:claim_id>")
def claim_detail(claim_id: int) -> ResponseReturnValue:
    return _detail(claims.get_claim(db_session(), claim_id, provider_id=_provider_id()))


@bp.post("/claims/<int:claim_id>/resubmit")
def resubmit(claim_id: int) -> ResponseReturnValue:
    session = db_session()
    claim = claims.get_claim(session, claim_id, provider_id=_provider_id())
    form = ResubmitForm()
    if not form.validate_on_submit():
        return _detail(claim, 400)
    try:
        claims.resubmit(
            session,
            claim_id,
            _provider_id(),
            actor_id=current_user.id,
            expected_version=form_version(form.version.data),
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return _detail(claims.get_claim(session, claim_id, provider_id=_provider_id()), exc.status)
    flash(_("The lines were resubmitted for review."), "success")
    return redirect(url_for("settlement.claim_detail", claim_id=claim_id))
