"""Risk pages: reviewers and auditors see the flags with their evidence; auditors draw
samples and record findings; auditors and system administrators tune the rules."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace import exports
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import DomainError
from marketplace.exports import Format
from marketplace.i18n import _
from marketplace.orders.files import OrderFileStorage, Upload
from marketplace.orders.models import Order
from marketplace.parties.enums import PartyKind
from marketplace.parties.services import attributes_of, matches_of
from marketplace.risk import rules, services
from marketplace.risk.enums import FindingOutcome, FollowUp, Rule
from marketplace.risk.models import Finding, FindingDocument, RiskFlag
from marketplace.web.forms import show_error
from marketplace.web.permissions import gate_blueprint, roles_required
from marketplace.web.provider.views import send_document
from marketplace.web.risk.forms import FindingForm, SampleForm, SettingForm
from providers.models import Provider
from vouchers.models import Enterprise, Programme

bp = Blueprint("risk", __name__, url_prefix="/risk")
gate_blueprint(bp, *ADMIN_ROLES)

PAGE_SIZE = 100
EXPORT_LIMIT = 100_000


def _int_arg(name: str, low: int = 1, high: int = 2**62) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and low <= value <= high else None


def _flag_filters() -> services.FlagQuery:
    raw_rule = request.args.get("rule") or ""
    rule = Rule(raw_rule) if raw_rule in {r.value for r in Rule} else None
    return services.FlagQuery(
        rule=rule,
        programme_id=_int_arg("programme_id"),
        provider_id=_int_arg("provider_id"),
        min_score=_int_arg("min_score", 0, 100) or 0,
        order_id=_int_arg("order_id"),
    )


def _args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if v.strip()}


@bp.get("/")
def flags() -> ResponseReturnValue:
    session = db_session()
    q = _flag_filters()
    stmt = services.flags_query(q).order_by(
        sa.text("order_risks.score DESC"), RiskFlag.order_id.desc(), RiskFlag.id
    )
    found = list(session.scalars(stmt.limit(PAGE_SIZE)))
    return render_template(
        "risk/flags.html",
        flags=found,
        rules=list(Rule),
        programmes=list(session.scalars(sa.select(Programme).order_by(Programme.id))),
        q=q,
        args=_args(),
        assessed=session.scalar(sa.select(sa.func.max(RiskFlag.raised_at))),
    )


@bp.get("/flags.csv", defaults={"kind": Format.CSV})
@bp.get("/flags.xlsx", defaults={"kind": Format.XLSX})
def flags_file(kind: Format) -> ResponseReturnValue:
    stmt = services.flags_query(_flag_filters()).order_by(RiskFlag.id).limit(EXPORT_LIMIT)
    header = [
        "flag_id", "order_id", "score", "rule", "rule_zh", "weight", "explanation_zh",
        "explanation_en", "raised_at_utc",
    ]  # fmt: skip
    rows = (
        [
            f.id,
            f.order_id,
            f.risk.score if f.risk else None,
            f.rule.value,
            f.rule.zh,
            f.weight,
            f.explanation_zh,
            f.explanation_en,
            f.raised_at,
        ]
        for f in db_session().scalars(stmt)
    )
    return exports.download("risk-flags", kind, header, rows)


@bp.post("/assess")
def assess() -> ResponseReturnValue:
    report = services.assess(db_session())
    flash(
        _(
            "Assessed %(orders)d orders: %(flagged)d flagged.",
            orders=report.orders,
            flagged=report.flagged,
        ),
        "success",
    )
    return redirect(url_for("risk.flags"))


@bp.get("/orders/<int:order_id>")
def order(order_id: int) -> ResponseReturnValue:
    session = db_session()
    found = session.get(Order, order_id) if order_id < 2**62 else None
    if found is None:
        abort(404)
    risk = services.order_risk(session, order_id)
    findings = list(session.scalars(sa.select(Finding).where(Finding.order_id == order_id)))
    shared = [
        m
        for m in matches_of(
            session, PartyKind.ENTERPRISE, found.enterprise_id, other_kind=PartyKind.PROVIDER
        )
        if m.party_id == found.provider_id
    ]
    return render_template(
        "risk/order.html", order=found, risk=risk, findings=findings, shared=shared
    )


@bp.get("/parties/<kind>/<int:party_id>")
def parties(kind: str, party_id: int) -> ResponseReturnValue:
    session = db_session()
    try:
        party_kind = PartyKind(kind)
    except ValueError:
        abort(404)
    model = Enterprise if party_kind is PartyKind.ENTERPRISE else Provider
    party = session.get(model, party_id) if party_id < 2**62 else None
    if party is None:
        abort(404)
    found = matches_of(session, party_kind, party_id)
    names = {
        (PartyKind.ENTERPRISE, e.id): e.name
        for e in session.scalars(
            sa.select(Enterprise).where(
                Enterprise.id.in_(
                    [m.party_id for m in found if m.party_kind is PartyKind.ENTERPRISE]
                )
            )
        )
    } | {
        (PartyKind.PROVIDER, p.id): p.name
        for p in session.scalars(
            sa.select(Provider).where(
                Provider.id.in_([m.party_id for m in found if m.party_kind is PartyKind.PROVIDER])
            )
        )
    }
    return render_template(
        "risk/parties.html",
        party=party,
        kind=party_kind,
        attributes=attributes_of(session, party_kind, party_id),
        matches=found,
        names=names,
    )


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> ResponseReturnValue:
    session = db_session()
    status = 200
    if request.method == "POST":
        if current_user.role not in {Role.AUDITOR, Role.SYSADMIN}:
            abort(403)
        raw = request.form.get("rule", "")
        if raw not in {r.value for r in Rule}:
            abort(404)
        form = SettingForm()
        if form.validate_on_submit():
            try:
                services.change_setting(
                    session,
                    Rule(raw),
                    threshold=int(form.threshold.data or 0),
                    weight=int(form.weight.data or 0),
                    enabled=bool(form.enabled.data),
                    actor_id=current_user.id,
                )
            except DomainError as exc:
                show_error(exc, form)
                status = exc.status
            else:
                flash(_("Saved. The next assessment uses the new setting."), "success")
                return redirect(url_for("risk.settings"))
        else:
            for field, messages in form.errors.items():
                flash(f"{field}: {' '.join(str(m) for m in messages)}", "error")
            status = 400
    current = services.settings(session)
    return render_template(
        "risk/settings.html", current=current, units=rules.UNITS, form=SettingForm()
    ), status


@bp.route("/samples", methods=["GET", "POST"])
def samples() -> ResponseReturnValue:
    session = db_session()
    form = SampleForm()
    status = 200
    if request.method == "POST":
        if current_user.role is not Role.AUDITOR:
            abort(403)
        if form.validate_on_submit():
            try:
                sample = services.draw_sample(
                    session,
                    services.SampleRequest(
                        size=int(form.size.data or 0),
                        seed=form.seed.data,
                        programme_id=form.programme_id.data,
                        provider_id=form.provider_id.data,
                        min_score=int(form.min_score.data or 0),
                        note=form.note.data or "",
                    ),
                    actor_id=current_user.id,
                )
            except DomainError as exc:
                show_error(exc, form)
                status = exc.status
            else:
                return redirect(url_for("risk.sample", sample_id=sample.id))
        else:
            status = 400
    return render_template(
        "risk/samples.html", samples=services.samples(session), form=form
    ), status


@bp.get("/samples/<int:sample_id>")
def sample(sample_id: int) -> ResponseReturnValue:
    session = db_session()
    found = services.get_sample(session, sample_id)
    return render_template(
        "risk/sample.html",
        sample=found,
        form=FindingForm(),
        may_record=current_user.role is Role.AUDITOR,
        redrawn=services.redraw(session, sample_id),
    )


@bp.post("/samples/<int:sample_id>/items/<int:item_id>/finding")
@roles_required(Role.AUDITOR)
def finding(sample_id: int, item_id: int) -> ResponseReturnValue:
    session = db_session()
    found = services.get_sample(session, sample_id)
    if item_id not in {i.id for i in found.items}:
        abort(404)
    form = FindingForm()
    if not form.validate_on_submit():
        for field, messages in form.errors.items():
            flash(f"{field}: {' '.join(str(m) for m in messages)}", "error")
        return render_template(
            "risk/sample.html",
            sample=found,
            form=form,
            may_record=True,
            redrawn=services.redraw(session, sample_id),
            failed_item=item_id,
        ), 400
    uploads = tuple(
        Upload(f.filename or "", f.stream)
        for f in request.files.getlist(form.documents.name)
        if f and f.filename
    )
    try:
        services.record_finding(
            session,
            item_id,
            services.FindingInput(
                outcome=FindingOutcome(form.outcome.data),
                notes=form.notes.data or "",
                follow_up=FollowUp(form.follow_up.data),
                documents=uploads,
            ),
            storage=_storage(),
            actor_id=current_user.id,
        )
    except DomainError as exc:
        show_error(exc, form)
        found = services.get_sample(session, sample_id)
        return render_template(
            "risk/sample.html",
            sample=found,
            form=form,
            may_record=True,
            redrawn=services.redraw(session, sample_id),
            failed_item=item_id,
        ), exc.status
    flash(_("Finding recorded."), "success")
    return redirect(url_for("risk.sample", sample_id=sample_id) + f"#item-{item_id}")


def _storage() -> OrderFileStorage:
    return OrderFileStorage.from_settings(current_settings())


def _finding_filters() -> dict[str, Any]:
    raw = request.args.get("outcome") or ""
    outcome = FindingOutcome(raw) if raw in {o.value for o in FindingOutcome} else None
    return {"outcome": outcome, "provider_id": _int_arg("provider_id")}


@bp.get("/findings")
def findings() -> ResponseReturnValue:
    stmt = services.findings_query(**_finding_filters()).limit(PAGE_SIZE)
    return render_template(
        "risk/findings.html",
        findings=list(db_session().scalars(stmt)),
        args=_args(),
        outcomes=list(FindingOutcome),
    )


@bp.get("/findings.csv", defaults={"kind": Format.CSV})
@bp.get("/findings.xlsx", defaults={"kind": Format.XLSX})
def findings_file(kind: Format) -> ResponseReturnValue:
    stmt = services.findings_query(**_finding_filters()).limit(EXPORT_LIMIT)
    header = [
        "finding_id", "sample_id", "order_id", "provider_id", "outcome", "outcome_zh",
        "follow_up", "recovery_fen", "notes", "documents", "recorded_by_id", "recorded_at_utc",
    ]  # fmt: skip
    rows = (
        [
            f.id,
            f.item.sample_id,
            f.order_id,
            f.provider_id,
            f.outcome.value,
            f.outcome.zh,
            f.follow_up.value,
            f.recovery_fen,
            f.notes,
            len(f.documents),
            f.recorded_by_id,
            f.recorded_at,
        ]
        for f in db_session().scalars(stmt)
    )
    return exports.download("audit-findings", kind, header, rows)


@bp.get("/findings/<int:finding_id>/documents/<int:document_id>")
def document(finding_id: int, document_id: int) -> ResponseReturnValue:
    found = db_session().get(FindingDocument, document_id) if document_id < 2**62 else None
    if found is None or found.finding_id != finding_id:
        abort(404)
    return send_document(_storage(), found)
