"""Order pages for every role, under /orders.

* SMEs: their orders, "order this service" (``/orders/new?service_id=N``), accept with a
  voucher, pay, confirm, dispute, cancel, rate.
* Providers: their orders, quote or decline, deliver (report + invoice), cancel.
* Administrators: every order read-only; reviewers mediate disputes (``/orders/disputes``),
  finance officers record refunds owed; auditors and system administrators only read (the
  blueprint refuses an auditor's POST, the services anyone else's step that is not theirs).

Another organisation's order answers 404. Views are thin: parse the form, call the service,
flash, redirect; a refused step re-renders the page with the message and the error's status.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
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
from wtforms.fields.choices import SelectChoice

from marketplace import exports
from marketplace.auth.models import User
from marketplace.clock import beijing_text, local_date
from marketplace.config import current_settings
from marketplace.db import db_session, utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import DomainError, NotFound
from marketplace.exports import Format
from marketplace.i18n import _
from marketplace.invoice_verification import verifier_from_settings
from marketplace.money import MoneyFormatError, format_fen, parse_yuan
from marketplace.orders import copayment, delivery, disputes, services
from marketplace.orders.access import capacity_of, get_order, visible
from marketplace.orders.enums import Actor, DisputeStatus, OrderAction, OrderStatus
from marketplace.orders.files import OrderFileStorage, Upload
from marketplace.orders.models import Dispute, Order
from marketplace.orders.rules import allowed_actions
from marketplace.payments import services as payments
from marketplace.payments.enums import GatewayKind, PaymentStatus
from marketplace.payments.models import Payment
from marketplace.risk.services import risks_of
from marketplace.security import STRIPE_JS_URL, card_payment_csp
from marketplace.web import vocabulary
from marketplace.web.forms import show_error
from marketplace.web.orders import progress
from marketplace.web.orders.forms import (
    AcceptForm,
    DeliverForm,
    QuoteForm,
    RateForm,
    ReasonForm,
    RefundForm,
    RequestForm,
    StepForm,
)
from marketplace.web.permissions import gate_blueprint, roles_required
from marketplace.web.templating import page_lang
from providers.catalogue import get_service
from vouchers import holds

bp = Blueprint("orders", __name__, url_prefix="/orders")
gate_blueprint(bp, *Role, read_only=frozenset({Role.AUDITOR}))

PAGE_SIZE = 50
A = OrderAction


def signed_in_user() -> User:
    user: User = current_user._get_current_object()
    return user


def order_storage() -> OrderFileStorage:
    return OrderFileStorage.from_settings(current_settings())


def visible_order(order_id: int) -> Order:
    try:
        return get_order(db_session(), order_id, signed_in_user())
    except NotFound:
        abort(404)


def flash_form_errors(form: Any) -> None:
    for field_errors in form.errors.values():
        for message in field_errors:
            flash(str(message), "error")


# --------------------------------------------------------------------------- lists


@bp.get("/")
def index() -> ResponseReturnValue:
    user = signed_in_user()
    stmt = sa.select(Order).where(visible(user)).order_by(Order.id.desc())
    status = request.args.get("status", "")
    if status in {s.value for s in OrderStatus}:
        stmt = stmt.where(Order.status == OrderStatus(status))
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(Order.id < before)
    rows = list(db_session().scalars(stmt.limit(PAGE_SIZE + 1)))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return render_template(
        "orders/index.html",
        orders=rows[:PAGE_SIZE],
        older=older,
        statuses=list(OrderStatus),
        status=status,
    )


ORDER_HEADER = {
    "zh": [
        "订单",
        "企业",
        "服务机构",
        "服务",
        "状态",
        "价格",
        "券支付部分",
        "自付部分",
        "创建时间（北京时间）",
    ],
    "en": [
        "order",
        "enterprise",
        "provider",
        "service",
        "status",
        "price",
        "voucher part",
        "co-payment",
        "created at (Beijing)",
    ],
}


@bp.get("/export.csv", defaults={"kind": Format.CSV})
@bp.get("/export.xlsx", defaults={"kind": Format.XLSX})
def index_file(kind: Format) -> ResponseReturnValue:
    """The signed-in user's orders (only those they may see) under the list's status filter,
    every match, streamed."""
    user = signed_in_user()
    stmt = sa.select(Order).where(visible(user)).order_by(Order.id)
    status = request.args.get("status", "")
    if status in {s.value for s in OrderStatus}:
        stmt = stmt.where(Order.status == OrderStatus(status))
    lang = page_lang()
    rows: Iterable[exports.Row] = (
        [
            order.id,
            order.enterprise.name,
            order.provider.name,
            order.service.title,
            order.status.en if lang == "en" else order.status.zh,
            format_fen(order.price_fen) if order.price_fen is not None else "",
            format_fen(order.voucher_part_fen),
            format_fen(order.co_payment_fen) if order.co_payment_fen is not None else "",
            beijing_text(order.created_at),
        ]
        for order in db_session().scalars(stmt.execution_options(yield_per=1_000))
    )
    return exports.download("orders", kind, ORDER_HEADER[lang], rows)


@bp.get("/disputes")
@roles_required(*ADMIN_ROLES)
def dispute_queue() -> ResponseReturnValue:
    stmt = sa.select(Dispute).order_by(Dispute.id.desc())
    status = request.args.get("status", DisputeStatus.OPEN.value)
    if status in {s.value for s in DisputeStatus}:
        stmt = stmt.where(Dispute.status == DisputeStatus(status))
    return render_template(
        "orders/disputes.html",
        disputes=list(db_session().scalars(stmt.limit(200))),
        statuses=list(DisputeStatus),
        status=status,
    )


# --------------------------------------------------------------------------- request


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ENTERPRISE)
def new() -> ResponseReturnValue:
    service_id = request.args.get("service_id", type=int)
    if service_id is None or not 0 < service_id < 2**63:
        abort(404)
    session = db_session()
    try:
        service = get_service(session, service_id)
    except NotFound:
        abort(404)
    form = RequestForm()
    status = 200
    if form.validate_on_submit():
        try:
            order = services.request_service(
                session,
                signed_in_user(),
                service.id,
                note=form.note.data,
                quantity=int(form.quantity.data or 1),
            )
        except DomainError as exc:
            show_error(exc, form)
            status = exc.status
        else:
            flash(_("Request sent. The provider will quote or accept it."), "success")
            return redirect(url_for("orders.detail", order_id=order.id))
    elif request.method == "POST":
        status = 400
    return render_template("orders/new.html", service=service, form=form), status


# --------------------------------------------------------------------------- detail


def _previews(order: Order, requested_fen: int | None) -> list[holds.Preview]:
    """What each of the enterprise's vouchers would pay of this order, best first."""
    return holds.previews_for(
        db_session(),
        order.enterprise_id,
        price_fen=order.price_fen or 0,
        requested_fen=requested_fen,
        service_category=order.service.category.value,
    )


def _voucher_choices(order: Order) -> list[SelectChoice]:
    choices = [SelectChoice("", _("No voucher: pay the whole price"))]
    for preview in _previews(order, None):
        v = preview.voucher
        choices.append(
            SelectChoice(
                str(v.id),
                _(
                    "%(serial)s · %(programme)s · balance %(balance)s · covers %(part)s",
                    serial=v.serial,
                    programme=v.programme.name,
                    balance=format_fen(v.balance_fen),
                    part=format_fen(preview.split.voucher_fen),
                ),
            )
        )
    return choices


def _split_summary(
    order: Order, voucher_id: str | None, requested_fen: int | None
) -> dict[str, Any]:
    """The money before it moves: voucher part, co-payment, allowance left and why."""
    price = order.price_fen or 0
    chosen = next(
        (p for p in _previews(order, requested_fen) if str(p.voucher.id) == (voucher_id or "")),
        None,
    )
    if chosen is None:
        return {
            "voucher_fen": 0,
            "copay_fen": price,
            "remaining_after_fen": None,
            "why": _("No voucher chosen: you pay the whole price."),
        }
    return {
        "voucher_fen": chosen.split.voucher_fen,
        "copay_fen": chosen.split.copay_fen,
        "remaining_after_fen": chosen.remaining_after_fen,
        "why": vocabulary.why_smaller(chosen),
    }


def _accept_form(order: Order, version: str) -> AcceptForm:
    """The accept form with the voucher that covers the most preselected."""
    best = _previews(order, None)
    preselect = str(best[0].voucher.id) if best and best[0].split.voucher_fen else ""
    form = AcceptForm(version=version, voucher_id=preselect)
    return form


def _transfer_details(order: Order, payment: Payment | None) -> dict[str, Any] | None:
    """What the SME needs to make the bank transfer: the payee (the provider's approved
    settlement account, the one payouts use), the amount, the reference to quote and the
    deadline (``COPAYMENT_DUE_DAYS`` after the agreement, in Beijing days)."""
    if payment is None or payment.gateway is not GatewayKind.OFFLINE:
        return None
    provider = order.provider
    accepted = order.agreement_accepted_at or payment.created_at
    if accepted.tzinfo is None:  # SQLite gives naive UTC back
        accepted = accepted.replace(tzinfo=UTC)
    return {
        "account_name": provider.bank_account_name,
        "bank_name": provider.bank_name,
        "account_number": provider.bank_account_number,
        "amount": format_fen(payment.amount_fen, symbol=False, grouping=False),
        "reference": payment.remittance_code,
        "deadline": local_date(accepted) + timedelta(days=current_settings().copayment_due_days),
    }


def _render(order: Order, status: int = 200, **forms: Any) -> ResponseReturnValue:
    session = db_session()
    session.flush()
    session.refresh(order)
    user = signed_in_user()
    actor = capacity_of(user, order)
    actions = set(allowed_actions(order.status, actor)) if actor is not None else set()
    today = local_date(utcnow())
    if order.confirm_by is not None and today > order.confirm_by:
        actions.discard(A.DISPUTE)
    version = str(order.version)
    accept_form = forms.get("accept") or _accept_form(order, version)
    accept_form.voucher_id.choices = _voucher_choices(order)
    split = None
    if A.ACCEPT in actions:
        requested = accept_form.requested.fen if accept_form.requested.data else None
        split = _split_summary(order, accept_form.voucher_id.data, requested)
    deliver_form = forms.get("deliver") or DeliverForm(
        version=version,
        amount=format_fen(order.price_fen or 0, symbol=False, grouping=False),
        buyer_taxpayer_id=order.enterprise.credit_code,
        seller_taxpayer_id=order.provider.credit_code,
        issued_on=today,
    )
    payment = copayment.payment_of(session, order)
    checkout = None
    if (
        payment is not None
        and actor is Actor.ENTERPRISE
        and payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED)
    ):
        try:
            checkout = payments.checkout(session, payment.id)
        except DomainError as exc:
            flash(exc.message, "error")
    transfer = _transfer_details(order, payment) if checkout is not None else None
    rated = services.rating_of(session, order)
    publishable_key = current_settings().stripe_publishable_key
    card_form = bool(checkout and checkout.client_secret and publishable_key)
    page = render_template(
        "orders/detail.html",
        stripe_publishable_key=publishable_key,
        voucher_part_lapses=bool(
            order.voucher is not None
            and order.voucher_part_fen
            and today > order.voucher.claim_deadline
        ),
        stripe_js_url=STRIPE_JS_URL,
        order=order,
        actor=actor,
        actions={a.value for a in actions},
        payment=payment,
        checkout=checkout,
        transfer=transfer,
        rating=rated,
        can_rate=actor is Actor.ENTERPRISE and order.status in services.RATEABLE and rated is None,
        can_refund=actor is Actor.FINANCE and order.refund_due_fen > 0,
        quote_form=forms.get("quote") or QuoteForm(version=version),
        decline_form=forms.get("decline") or ReasonForm(version=version),
        cancel_form=forms.get("cancel") or ReasonForm(version=version),
        dispute_form=forms.get("dispute") or ReasonForm(version=version),
        accept_form=accept_form,
        split=split,
        deliver_form=deliver_form,
        confirm_form=forms.get("confirm") or StepForm(version=version),
        rate_form=forms.get("rate") or RateForm(),
        refund_form=forms.get("refund") or RefundForm(version=version),
        is_admin=user.role in ADMIN_ROLES,
        requested_status=OrderStatus.REQUESTED,
        # Reviewers and auditors see the order's risk score and flags (issue 11).
        risk_rows=(
            [(order.id, risks_of(session, [order.id]).get(order.id))]
            if user.role in ADMIN_ROLES
            else None
        ),
        steps=progress.steps(order),
        next_action=progress.next_action(order, actor, {a.value for a in actions}),
        who_label=progress.who_label,
    )
    headers = {"Content-Security-Policy": card_payment_csp()} if card_form else {}
    return page, status, headers


@bp.get("/<int:order_id>")
def detail(order_id: int) -> ResponseReturnValue:
    return _render(visible_order(order_id))


def _step(
    order_id: int,
    name: str,
    form: Any,
    run: Any,
    done: str,
    fields: Callable[[], Mapping[str, str]] | None = None,
) -> ResponseReturnValue:
    """Validate ``form``, run the service, flash ``done``; re-render on any refusal, with the
    error at its field (``fields()``: this request's names of the service's fields)."""
    order = visible_order(order_id)
    session = db_session()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _render(order, 400, **{name: form})
    try:
        run(session, order, form)
    except DomainError as exc:
        show_error(exc, form, fields() if fields else None)
        return _render(visible_order(order_id), exc.status, **{name: form})
    flash(done, "success")
    return redirect(url_for("orders.detail", order_id=order_id))


@bp.post("/<int:order_id>/quote")
def quote(order_id: int) -> ResponseReturnValue:
    form = QuoteForm()
    return _step(
        order_id,
        "quote",
        form,
        lambda s, o, f: services.quote(
            s,
            o.id,
            signed_in_user(),
            price_fen=f.price.fen,
            note=f.note.data,
            expected_version=f.expected_version(),
        ),
        _("Quote sent to the enterprise."),
    )


@bp.post("/<int:order_id>/decline")
def decline(order_id: int) -> ResponseReturnValue:
    form = ReasonForm()
    return _step(
        order_id,
        "decline",
        form,
        lambda s, o, f: services.decline(
            s, o.id, signed_in_user(), reason=f.reason.data, expected_version=f.expected_version()
        ),
        _("Request declined."),
    )


@bp.post("/<int:order_id>/accept")
def accept(order_id: int) -> ResponseReturnValue:
    order = visible_order(order_id)
    form = AcceptForm()
    form.voucher_id.choices = _voucher_choices(order)
    if request.form.get("preview"):
        # The step without JavaScript: show the split for the chosen voucher, change nothing.
        form.requested.pre_validate(form)
        return _render(order, 200, accept=form)

    def run(s: Any, o: Order, f: AcceptForm) -> None:
        services.accept(
            s,
            o.id,
            signed_in_user(),
            voucher_id=int(f.voucher_id.data) if f.voucher_id.data else None,
            requested_fen=f.requested.fen,
            agree=bool(f.agree.data),
            expected_version=f.expected_version(),
        )

    return _step(
        order_id, "accept", form, run, _("Agreement accepted. Please pay your co-payment.")
    )


@bp.get("/<int:order_id>/accept-preview")
def accept_preview(order_id: int) -> ResponseReturnValue:
    """The accept form's live figures (the page's script asks as the SME changes the voucher
    or the amount): the same computation as the preview step."""
    order = visible_order(order_id)
    if capacity_of(signed_in_user(), order) is not Actor.ENTERPRISE:
        abort(404)
    requested: int | None = None
    raw = (request.args.get("requested") or "").strip()
    if raw:
        try:
            requested = parse_yuan(raw)
        except MoneyFormatError:
            return {
                "error": _("Enter an amount in yuan with at most two decimals, e.g. 12,345.60")
            }, 422
    summary = _split_summary(order, request.args.get("voucher_id"), requested)
    return {
        "voucher": format_fen(summary["voucher_fen"]),
        "copay": format_fen(summary["copay_fen"]),
        "remaining_after": (
            format_fen(summary["remaining_after_fen"])
            if summary["remaining_after_fen"] is not None
            else "—"
        ),
        "why": summary["why"],
    }


@bp.post("/<int:order_id>/deliver")
def deliver(order_id: int) -> ResponseReturnValue:
    form = DeliverForm()

    def run(s: Any, o: Order, f: DeliverForm) -> None:
        upload = f.report.data
        invoice_files = [
            Upload(filename=field.data.filename or "", stream=field.data.stream)
            for field in (f.invoice_file, f.invoice_pdf)
            if field.data and field.data.filename
        ]
        typed = (
            delivery.InvoiceInput(
                code=f.invoice_code.data or "",
                number=f.invoice_number.data or "",
                issued_on=f.issued_on.data,
                amount_fen=f.amount.fen or 0,
                buyer_taxpayer_id=f.buyer_taxpayer_id.data or "",
                seller_taxpayer_id=f.seller_taxpayer_id.data or "",
            )
            if f.typed and not invoice_files
            else None
        )
        delivery.deliver(
            s,
            order_storage(),
            o.id,
            signed_in_user(),
            invoice=typed,
            invoice_files=invoice_files,
            verifier=verifier_from_settings(current_settings()),
            report=Upload(filename=upload.filename or "", stream=upload.stream),
            note=f.note.data,
            expected_version=f.expected_version(),
        )

    def fields() -> Mapping[str, str]:
        """Where the invoice's problems show: at the file it was read from, else at the typed
        field (a paper-era invoice)."""
        return dict.fromkeys(INVOICE_COLUMNS, "invoice_file") if form.has_file else {}

    return _step(
        order_id, "deliver", form, run, _("Delivered. The enterprise has been told."), fields
    )


#: The invoice's columns as the delivery service names them in its errors.
INVOICE_COLUMNS = (
    "code",
    "number",
    "issued_on",
    "amount_fen",
    "buyer_taxpayer_id",
    "seller_taxpayer_id",
)


@bp.post("/<int:order_id>/confirm")
def confirm(order_id: int) -> ResponseReturnValue:
    form = StepForm()
    return _step(
        order_id,
        "confirm",
        form,
        lambda s, o, f: delivery.confirm(
            s, o.id, signed_in_user(), expected_version=f.expected_version()
        ),
        _("Delivery confirmed. Thank you; you can now rate the service."),
    )


@bp.post("/<int:order_id>/cancel")
def cancel(order_id: int) -> ResponseReturnValue:
    form = ReasonForm()
    return _step(
        order_id,
        "cancel",
        form,
        lambda s, o, f: services.cancel(
            s, o.id, signed_in_user(), reason=f.reason.data, expected_version=f.expected_version()
        ),
        _("Order cancelled."),
    )


@bp.post("/<int:order_id>/dispute")
def dispute(order_id: int) -> ResponseReturnValue:
    form = ReasonForm()
    result = _step(
        order_id,
        "dispute",
        form,
        lambda s, o, f: disputes.open_dispute(
            s, o.id, signed_in_user(), reason=f.reason.data, expected_version=f.expected_version()
        ),
        _("Dispute opened. A reviewer will mediate."),
    )
    return result


@bp.post("/<int:order_id>/rate")
def rate(order_id: int) -> ResponseReturnValue:
    form = RateForm()
    return _step(
        order_id,
        "rate",
        form,
        lambda s, o, f: services.rate(
            s, o.id, signed_in_user(), stars=int(f.stars.data), comment=f.comment.data
        ),
        _("Thank you for your rating."),
    )


@bp.post("/<int:order_id>/refund")
def refund(order_id: int) -> ResponseReturnValue:
    form = RefundForm()
    return _step(
        order_id,
        "refund",
        form,
        lambda s, o, f: copayment.record_refund(
            s,
            o.id,
            signed_in_user(),
            bank_reference=f.bank_reference.data or None,
            expected_version=f.expected_version(),
        ),
        _("Refund recorded."),
    )


def send_stored(path: Any, content_type: str, filename: str) -> ResponseReturnValue:
    if not path.is_file():
        abort(404)
    response = send_file(
        io.BytesIO(path.read_bytes()),
        mimetype=content_type,
        as_attachment=True,
        download_name=filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:order_id>/report")
def report(order_id: int) -> ResponseReturnValue:
    order = visible_order(order_id)
    if order.report_path is None:
        abort(404)
    try:
        path = order_storage().path_for(order.report_path)
    except NotFound:
        abort(404)
    return send_stored(
        path, order.report_content_type or "application/pdf", order.report_filename or "report"
    )
