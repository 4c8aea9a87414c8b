"""The public catalogue (no sign-in): search and browse, provider pages, the public notice."""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from marketplace import clock, regions
from marketplace.db import db_session, reads_replica
from marketplace.enums import InstitutionType, ServiceCategory
from marketplace.errors import DomainError, ValidationFailed
from marketplace.i18n import _, _l
from marketplace.instruments.services import calendar_for_service
from marketplace.money import MoneyFormatError, parse_yuan
from marketplace.ratelimit import limiter
from marketplace.web import vocabulary
from marketplace.web.forms import enum_choices, show_error
from marketplace.web.provider.forms import SafeForm
from providers import admission, credit, services
from providers.catalogue import services_of
from providers.enums import ParticipationStatus, PricingMode, ProviderStatus, QualificationKind
from providers.models import Service
from providers.search import (
    COUNT_CAP,
    SearchCriteria,
    SortOrder,
    public_provider,
    public_service,
    search_page,
)
from vouchers import holds
from vouchers.models import Programme

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")

PER_PAGE = 12


class SearchForm(FlaskForm):
    """The search box and filters (GET, so no CSRF token). Unknown choices are reported by
    :func:`_criteria`, not refused wholesale, so a stale link still shows the page."""

    class Meta:
        csrf = False

    q = StringField(_l("Keywords"), validators=[Optional(), Length(max=200)])
    category = SelectField(
        _l("Category"),
        choices=[SelectChoice("", _l("All categories")), *enum_choices(ServiceCategory)],
        validate_choice=False,
    )
    institution_type = SelectField(
        _l("Institution type"),
        choices=[SelectChoice("", _l("All institutions")), *enum_choices(InstitutionType)],
        validate_choice=False,
    )
    region = SelectField(
        _l("Region"),
        choices=[
            SelectChoice("", _l("All of Yunnan")),
            *(SelectChoice(code, name) for code, name in regions.children("53")),
        ],
        validate_choice=False,
    )
    min_price = StringField(_l("Price from (yuan)"), validators=[Optional(), Length(max=20)])
    max_price = StringField(_l("to (yuan)"), validators=[Optional(), Length(max=20)])
    min_rating = SelectField(
        _l("Rating"),
        choices=[
            SelectChoice("", _l("Any rating")),
            *(SelectChoice(str(n), "★" * n) for n in (4, 3, 2)),
        ],
        validate_choice=False,
    )
    programme = SelectField(_l("Voucher programme"), choices=[], validate_choice=False)
    accreditation = SelectField(
        _l("Accreditation"),
        choices=[SelectChoice("", _l("Any accreditation")), *enum_choices(QualificationKind)],
        validate_choice=False,
    )
    sort = SelectField(_l("Sort by"), choices=enum_choices(SortOrder), validate_choice=False)


def _choice(field: SelectField, convert: Any, errors: dict[str, list[str]]) -> Any:
    """The field's value converted, None when empty; an error when it is not one of ours."""
    if not field.data:
        return None
    try:
        return convert(field.data)
    except ValueError:
        errors[field.name] = [_("Not a valid choice.")]
        return None


def _yuan(field: StringField, errors: dict[str, list[str]]) -> int | None:
    text = (field.data or "").strip()
    if not text:
        return None
    try:
        return parse_yuan(text)
    except MoneyFormatError:
        errors[field.name] = [_("An amount in yuan, e.g. 800 or 800.50")]
        return None


def _criteria(form: SearchForm) -> tuple[SearchCriteria, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not form.validate():
        errors.update({k: list(v) for k, v in form.errors.items()})
    criteria = SearchCriteria(
        q=form.q.data or "",
        category=_choice(form.category, ServiceCategory, errors),
        institution_type=_choice(form.institution_type, InstitutionType, errors),
        region=_choice(form.region, _region, errors),
        min_price_fen=_yuan(form.min_price, errors),
        max_price_fen=_yuan(form.max_price, errors),
        min_rating=_choice(form.min_rating, _stars, errors),
        programme_id=_choice(form.programme, _positive, errors),
        accreditation=_choice(form.accreditation, QualificationKind, errors),
        sort=_choice(form.sort, SortOrder, errors) or SortOrder.RELEVANCE,
    )
    return criteria, errors


def _region(value: str) -> str:
    if not (value.isascii() and value.isdigit() and len(value) in (2, 4, 6)):
        raise ValueError(value)
    return value


def _stars(value: str) -> int:
    stars = int(value)
    if not 1 <= stars <= 5:
        raise ValueError(value)
    return stars


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def _programme_choices() -> list[SelectChoice]:
    rows = db_session().execute(
        sa.select(Programme.id, Programme.name)
        .where(Programme.use_by >= clock.today())
        .order_by(Programme.year, Programme.kind)
    )
    return [SelectChoice("", _("Any programme")), *(SelectChoice(str(p), n) for p, n in rows)]


@bp.get("/")
@reads_replica
def search() -> ResponseReturnValue:
    form = SearchForm(request.args)
    form.programme.choices = _programme_choices()
    criteria, errors = _criteria(form)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    items: list[Any] = []
    total = 0
    if not errors:
        try:
            items, total = search_page(db_session(), criteria, page=page, per_page=PER_PAGE)
        except ValidationFailed as exc:
            errors = dict(exc.errors)
    for name, messages in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(messages)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    pages = max(math.ceil(min(total, COUNT_CAP) / PER_PAGE), 1)
    return render_template(
        "catalogue/search.html",
        form=form,
        items=items,
        total=total,
        count_cap=COUNT_CAP,
        page=page,
        pages=pages,
        args=args,
        today=clock.today(),
    ), (400 if errors else 200)


@bp.get("/services/<int:service_id>")
def service(service_id: int) -> ResponseReturnValue:
    session = db_session()
    item = public_service(session, service_id)
    return render_template(
        "catalogue/service.html",
        service=item,
        today=clock.today(),
        booking_calendar=calendar_for_service(session, item.id) if item.instrument else None,
        estimate=_estimate(item),
        credit=credit.credit_breakdown(session, item.provider_id),
        ratings=credit.ratings_of_provider(session, item.provider_id, service_id=item.id, limit=10),
    )


def _estimate(item: Service) -> dict[str, Any] | None:
    """The signed-in enterprise's voucher estimate for one unit of the service at its listed
    price: the voucher that covers the most, computed as the accept form computes it
    (``holds.previews_for``). None for anyone else; no price, no figures."""
    if not current_user.is_authenticated or current_user.enterprise_id is None:
        return None
    price = item.price_fen if item.pricing is PricingMode.FIXED else None
    if not price:
        return {"price_fen": None}
    previews = holds.previews_for(
        db_session(),
        current_user.enterprise_id,
        price_fen=price,
        service_category=item.category.value,
    )
    best = previews[0] if previews else None
    return {
        "price_fen": price,
        "voucher": best.voucher if best and best.split.voucher_fen else None,
        "voucher_fen": best.split.voucher_fen if best else 0,
        "copay_fen": best.split.copay_fen if best else price,
        "remaining_after_fen": best.remaining_after_fen if best else None,
        "why": vocabulary.why_smaller(best) if best else None,
    }


@bp.get("/providers/<int:provider_id>")
def provider(provider_id: int) -> ResponseReturnValue:
    session = db_session()
    found = public_provider(session, provider_id)
    return render_template(
        "catalogue/provider.html",
        provider=found,
        services=services_of(session, found.id, active_only=True),
        programmes=[
            p
            for p in services.participations(session, found.id)
            if p.status is ParticipationStatus.ADMITTED
        ],
        credit=credit.credit_breakdown(session, found.id),
        ratings=credit.ratings_of_provider(session, found.id, limit=10),
    )


# --------------------------------------------------------------------------- public notice


class ObjectionForm(SafeForm):
    objector_name = StringField(
        _l("Your name or organisation"), validators=[DataRequired(), Length(max=100)]
    )
    objector_contact = StringField(
        _l("Phone or e-mail"), validators=[DataRequired(), Length(max=200)]
    )
    grounds = TextAreaField(
        _l("Grounds for the objection"), validators=[DataRequired(), Length(max=5000)]
    )


@bp.get("/notices")
def notices() -> ResponseReturnValue:
    session = db_session()
    in_notice = admission.in_notice(session, clock.today())
    signed = {p.id: services.current_commitment(session, p.id) is not None for p in in_notice}
    return render_template("catalogue/notices.html", providers=in_notice, signed=signed)


@bp.route("/notices/<int:provider_id>/objection", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def objection(provider_id: int) -> ResponseReturnValue:
    session = db_session()
    target = services.get_provider(session, provider_id)
    if target.status is not ProviderStatus.IN_NOTICE and request.method == "GET":
        abort(404)
    form = ObjectionForm()
    status = 200
    if form.validate_on_submit():
        try:
            admission.file_objection(
                session,
                provider_id,
                objector_name=form.objector_name.data or "",
                objector_contact=form.objector_contact.data or "",
                grounds=form.grounds.data or "",
                today=clock.today(),
            )
        except DomainError as exc:
            show_error(exc, form)
            status = exc.status
        else:
            flash(
                _("Objection filed. A reviewer will look into it before the provider is admitted."),
                "success",
            )
            return redirect(url_for("catalogue.notices"))
    elif form.errors:
        status = 400
    return render_template("catalogue/objection.html", form=form, provider=target), status
