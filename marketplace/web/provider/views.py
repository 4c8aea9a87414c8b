"""Provider portal pages (thin: form in, service call, flash, redirect)."""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from marketplace import clock
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.money import format_fen
from marketplace.parsing import form_version
from marketplace.web.forms import show_error
from marketplace.web.permissions import gate_blueprint
from marketplace.web.provider.forms import (
    CommitmentForm,
    DocumentForm,
    ProfileForm,
    ProgrammesForm,
    QualificationForm,
    ReasonForm,
    RelatedPartyForm,
    ServiceForm,
)
from providers import bank_changes, catalogue, credit, documents, evidence, related, services
from providers.documents import DocumentStorage
from providers.enums import (
    DocumentKind,
    ParticipationStatus,
    PricingMode,
    QualificationKind,
    RelationKind,
)
from providers.models import Provider, QualificationChange, Service
from providers.presenters import commitment_view, programme_choices, provider_file, service_input
from providers.rules import QUALIFICATION_FORMATS

bp = Blueprint("provider", __name__, url_prefix="/provider")
gate_blueprint(bp, Role.PROVIDER)


def _provider(*, lock: bool = False) -> Provider:
    if current_user.provider_id is None:  # pragma: no cover - the users CHECK forbids it
        abort(404)
    return services.get_provider(db_session(), current_user.provider_id, lock=lock)


def _storage() -> DocumentStorage:
    return DocumentStorage.from_settings(current_settings())


def _today() -> Any:
    return clock.today()


def refuse(exc: DomainError, endpoint: str, **values: Any) -> ResponseReturnValue:
    """Flash why, and go back (the failed request commits nothing: see marketplace.db)."""
    flash(exc.message, "error")
    return redirect(url_for(endpoint, **values))


# --------------------------------------------------------------------------- overview


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    return render_template(
        "provider/dashboard.html",
        file=provider_file(session, provider, _today()),
        editable=services.is_editable(provider),
        credit=credit.credit_breakdown(session, provider.id),
        submit_form=FlaskForm(),
    )


@bp.post("/application/submit")
def submit() -> ResponseReturnValue:
    try:
        services.submit_application(
            db_session(), _provider(), actor_id=current_user.id, today=_today()
        )
    except DomainError as exc:
        return refuse(exc, "provider.dashboard")
    flash(_("Application submitted. A reviewer will check it."), "success")
    return redirect(url_for("provider.dashboard"))


# --------------------------------------------------------------------------- the file


def _application_page(form: ProfileForm, provider: Provider) -> str:
    session = db_session()
    return render_template(
        "provider/application.html",
        form=form,
        provider=provider,
        admitted=provider.status in services.ADMITTED_STATUSES,
        pending=bank_changes.pending_change(session, provider.id),
        bank_history=bank_changes.changes_of(session, provider.id),
    )


@bp.route("/application", methods=["GET", "POST"])
def application() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    admitted = provider.status in services.ADMITTED_STATUSES
    form = ProfileForm(obj=None if _is_post() else provider)
    if not _is_post():
        form.version.data = str(provider.version)
        form.accreditation_level.data = (
            provider.accreditation_level.value if provider.accreditation_level else ""
        )
        form.service_categories.data = list(provider.service_categories or [])
    if form.validate_on_submit():
        changes = form.changes()
        if admitted:
            # Shown, not posted: the categories were reviewed for admission and stay as they are.
            changes.pop("service_categories", None)
        before = bank_changes.pending_change(session, provider.id)
        try:
            services.update_profile(
                session,
                provider,
                changes,
                actor_id=current_user.id,
                expected_version=_version(form.version.data),
            )
        except DomainError as exc:
            show_error(exc, form)
            provider = _provider()
            return _application_page(form, provider), exc.status
        after = bank_changes.pending_change(session, provider.id)
        if after is not None and (before is None or after.id != before.id):
            flash(
                _(
                    "Your new settlement account awaits approval by a finance officer. Until "
                    "then, payments go to the current account."
                ),
                "success",
            )
        flash(_("Saved."), "success")
        return redirect(url_for("provider.dashboard"))
    status = 400 if form.errors else 200
    return _application_page(form, provider), status


def _is_post() -> bool:
    return request.method == "POST"


def _version(raw: Any) -> int | None:
    return form_version(raw if isinstance(raw, str) else None)


@bp.route("/application/qualifications", methods=["GET", "POST"])
def qualifications() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    forms = {kind: QualificationForm(prefix=kind.value) for kind in QualificationKind}
    status = 200
    if request.method == "POST":
        try:
            kind = QualificationKind(request.form.get("kind", ""))
        except ValueError:
            abort(400)
        form = forms[kind]
        if form.validate_on_submit():
            try:
                result = services.set_qualification(
                    db_session(),
                    provider,
                    kind,
                    form.number.data or "",
                    valid_until=form.valid_until.data,
                    actor_id=current_user.id,
                    today=_today(),
                    scope=form.scope.data,
                )
            except DomainError as exc:
                show_error(exc, form)
                status = exc.status
            else:
                if isinstance(result, QualificationChange):
                    flash(
                        _(
                            "Your new number awaits a reviewer. Until it is accepted, the "
                            "current number stays in force."
                        ),
                        "success",
                    )
                else:
                    flash(_("Saved."), "success")
                return redirect(url_for("provider.qualifications"))
        else:
            status = 400
    current = {q.kind: q for q in provider.qualifications}
    for kind, form in forms.items():
        if kind in current and request.method == "GET":
            form.number.data = current[kind].number
            form.valid_until.data = current[kind].valid_until
            form.scope.data = current[kind].scope or ""
    return render_template(
        "provider/qualifications.html",
        forms=forms,
        current=current,
        formats=QUALIFICATION_FORMATS,
        editable=services.is_editable(provider),
        remove_form=FlaskForm(),
        pending={c.kind: c for c in evidence.pending_qualification_changes(session, provider.id)},
        changes=evidence.qualification_changes_of(session, provider.id),
    ), status


@bp.post("/application/qualifications/<kind>/remove")
def remove_qualification(kind: str) -> ResponseReturnValue:
    try:
        qualification_kind = QualificationKind(kind)
    except ValueError:
        abort(404)
    try:
        services.remove_qualification(
            db_session(), _provider(), qualification_kind, actor_id=current_user.id
        )
    except DomainError as exc:
        return refuse(exc, "provider.qualifications")
    flash(_("Removed."), "success")
    return redirect(url_for("provider.qualifications"))


@bp.route("/application/documents", methods=["GET", "POST"])
def documents_page() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    form = DocumentForm()
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            documents.upload_document(
                session,
                _storage(),
                provider,
                kind=DocumentKind(form.kind.data),
                filename=upload.filename or "",
                stream=upload.stream,
                expires_on=form.expires_on.data,
                actor_id=current_user.id,
                today=_today(),
            )
        except DomainError as exc:
            show_error(exc, form)
            status = exc.status
        else:
            if evidence.awaits_own_review(provider):
                flash(
                    _(
                        "Document uploaded. It counts once a reviewer accepts it; until then "
                        "your accepted documents stay in force."
                    ),
                    "success",
                )
            else:
                flash(_("Document uploaded."), "success")
            return redirect(url_for("provider.documents_page"))
    elif form.errors:
        status = 400
    return render_template(
        "provider/documents.html",
        form=form,
        documents=documents.documents_of(session, provider.id),
        editable=services.is_editable(provider),
        reviewed_alone=evidence.awaits_own_review(provider),
        delete_form=FlaskForm(),
        today=_today(),
    ), status


@bp.get("/documents/<int:document_id>")
def download_document(document_id: int) -> ResponseReturnValue:
    document = documents.get_document(db_session(), _provider().id, document_id)
    return send_document(_storage(), document)


def send_document(storage: DocumentStorage, document: Any) -> ResponseReturnValue:
    """Serve a stored document to an authorised user (the caller checked who may see it)."""
    path = storage.path_for(document.stored_name)
    if not path.is_file():
        abort(404)
    # Documents are size-limited; reading them whole leaves no file handle to a lazy client.
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.original_filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/application/documents/<int:document_id>/delete")
def delete_document(document_id: int) -> ResponseReturnValue:
    try:
        documents.delete_document(
            db_session(), _storage(), _provider(), document_id, actor_id=current_user.id
        )
    except DomainError as exc:
        return refuse(exc, "provider.documents_page")
    flash(_("Document deleted."), "success")
    return redirect(url_for("provider.documents_page"))


@bp.route("/application/commitment", methods=["GET", "POST"])
def commitment() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    form = CommitmentForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.sign_commitment(
                session,
                provider,
                signer_name=form.signer_name.data or "",
                signer_title=form.signer_title.data or "",
                agreed=bool(form.agreed.data),
                actor_id=current_user.id,
            )
        except DomainError as exc:
            show_error(exc, form)
            status = exc.status
        else:
            flash(_("Credit commitment signed."), "success")
            return redirect(url_for("provider.dashboard"))
    elif form.errors:
        status = 400
    return render_template(
        "provider/commitment.html", form=form, commitment=commitment_view(session, provider.id)
    ), status


@bp.route("/application/programmes", methods=["GET", "POST"])
def programmes() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    choices = programme_choices(session, provider, _today())
    form = ProgrammesForm()
    form.programme_ids.choices = [SelectChoice(c["programme_id"], c["name"]) for c in choices]
    status = 200
    if form.validate_on_submit():
        try:
            services.choose_programmes(
                session,
                provider,
                form.programme_ids.data or [],
                actor_id=current_user.id,
                today=_today(),
            )
        except DomainError as exc:
            show_error(exc, form)
            status = exc.status
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("provider.dashboard"))
    elif form.errors:
        status = 400
    else:
        form.programme_ids.data = [
            c["programme_id"]
            for c in choices
            if c["status"] in {ParticipationStatus.APPLIED, ParticipationStatus.ADMITTED}
        ]
    return render_template("provider/programmes.html", form=form, choices=choices), status


# --------------------------------------------------------------------------- services


@bp.get("/services")
def service_list() -> ResponseReturnValue:
    provider = _provider()
    return render_template(
        "provider/services.html",
        provider=provider,
        services=catalogue.services_of(db_session(), provider.id),
        toggle_form=FlaskForm(),
    )


def _fill_service_form(form: ServiceForm, service: Service) -> None:
    form.version.data = str(service.version)
    form.title.data = service.title
    form.category.data = service.category.value
    form.description.data = service.description
    form.pricing.data = service.pricing.value
    form.price.data = format_fen(service.price_fen, symbol=False) if service.price_fen else ""
    form.unit.data = service.unit
    form.lead_time_days.data = service.lead_time_days
    listing = service.instrument
    if listing is not None:
        form.instrument_name.data = listing.instrument_name
        form.model.data = listing.model
        form.manufacturer.data = listing.manufacturer
        form.location.data = listing.location
        form.hourly_rate.data = format_fen(listing.hourly_rate_fen, symbol=False)
        form.booking_notes.data = listing.booking_notes


@bp.route("/services/new", methods=["GET", "POST"])
def new_service() -> ResponseReturnValue:
    provider = _provider()
    form = ServiceForm()
    if not _is_post():
        form.pricing.data = PricingMode.FIXED.value
        if provider.service_categories:
            form.category.data = provider.service_categories[0]
    if form.validate_on_submit():
        try:
            catalogue.create_service(
                db_session(), provider, service_input(form.values()), actor_id=current_user.id
            )
        except DomainError as exc:
            show_error(exc, form)
            return render_template(
                "provider/service_form.html", form=form, service=None
            ), exc.status
        flash(_("Service added."), "success")
        return redirect(url_for("provider.service_list"))
    status = 400 if form.errors else 200
    return render_template("provider/service_form.html", form=form, service=None), status


@bp.route("/services/<int:service_id>/edit", methods=["GET", "POST"])
def edit_service(service_id: int) -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    service = catalogue.get_service(session, service_id, provider_id=provider.id)
    form = ServiceForm()
    if not _is_post():
        _fill_service_form(form, service)
    if form.validate_on_submit():
        try:
            catalogue.update_service(
                session,
                provider,
                service_id,
                service_input(form.values()),
                actor_id=current_user.id,
                expected_version=_version(form.version.data),
            )
        except DomainError as exc:
            show_error(exc, form)
            return render_template(
                "provider/service_form.html", form=form, service=service
            ), exc.status
        flash(_("Service saved."), "success")
        return redirect(url_for("provider.service_list"))
    status = 400 if form.errors else 200
    return render_template("provider/service_form.html", form=form, service=service), status


@bp.post("/services/<int:service_id>/toggle")
def toggle_service(service_id: int) -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    service = catalogue.get_service(session, service_id, provider_id=provider.id)
    try:
        catalogue.set_service_active(
            session, provider, service_id, not service.is_active, actor_id=current_user.id
        )
    except DomainError as exc:
        return refuse(exc, "provider.service_list")
    flash(_("Service listed.") if service.is_active else _("Service withdrawn."), "success")
    return redirect(url_for("provider.service_list"))


# --------------------------------------------------------------------------- related parties


@bp.route("/related-parties", methods=["GET", "POST"])
def related_parties() -> ResponseReturnValue:
    session = db_session()
    provider = _provider()
    form = RelatedPartyForm()
    status = 200
    if form.validate_on_submit():
        try:
            related.declare_related_party(
                session,
                provider,
                credit_code=form.credit_code.data or "",
                name=form.name.data or "",
                relation=RelationKind(form.relation.data),
                note=form.note.data,
                actor_id=current_user.id,
            )
        except DomainError as exc:
            show_error(exc, form)
            status = exc.status
        else:
            flash(_("Related party declared."), "success")
            return redirect(url_for("provider.related_parties"))
    elif form.errors:
        status = 400
    return render_template(
        "provider/related_parties.html",
        form=form,
        declarations=related.related_parties_of(session, provider.id),
        withdraw_form=ReasonForm(prefix="withdraw"),
    ), status


@bp.post("/related-parties/<int:declaration_id>/withdraw")
def withdraw_related_party(declaration_id: int) -> ResponseReturnValue:
    form = ReasonForm(prefix="withdraw")
    try:
        declaration = related.withdraw_related_party(
            db_session(),
            _provider(),
            declaration_id,
            reason=form.reason.data or "",
            actor_id=current_user.id,
        )
    except DomainError as exc:
        return refuse(exc, "provider.related_parties")
    if declaration.is_active:
        flash(
            _("Withdrawal requested. The declaration stays in force until a reviewer accepts it."),
            "success",
        )
    else:
        flash(_("Declaration withdrawn."), "success")
    return redirect(url_for("provider.related_parties"))
