"""Orders over JSON: create, list, read, and every step as a POST (disputes and their mediation
are in :mod:`marketplace.api.disputes`).

Who sees what: an enterprise its own orders, a provider its own (another organisation's order
answers 404); every administrator role reads all. Which step a caller may take is the state
machine's answer: 403 ``actor_not_allowed`` for the wrong party, 409 ``illegal_transition``
for the wrong state. Steps that move money (accept, confirm, cancel, the dispute decision, a
refund) require an ``Idempotency-Key``. Every step honours ``If-Match: "<version>"`` or a
``version`` field (412 ``precondition_failed`` when the order changed since it was read).

Files (the delivery report, dispute documents) travel as base64 inside the JSON body
(``{"filename": "report.pdf", "content_base64": "JVBERi0…"}``): PDF, PNG or JPEG, checked by
content, at most ``MAX_UPLOAD_BYTES`` once decoded. Base64 adds a third, so through the API a
file may be at most about three quarters of the request size limit (``MAX_UPLOAD_BYTES`` +
64 KiB); the web pages take full-size files as multipart uploads.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import sqlalchemy as sa
from flask import Response

from marketplace.api import bp
from marketplace.api.endpoint import ANY_ROLE, api_user, endpoint, expected_version
from marketplace.auth.models import User
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import NotFound
from marketplace.invoice_verification import verifier_from_settings
from marketplace.orders import copayment, delivery, invoices, services
from marketplace.orders.access import capacity_of, get_order, visible
from marketplace.orders.errors import IllegalTransition
from marketplace.orders.files import OrderFileStorage, Upload
from marketplace.orders.models import Order
from marketplace.orders.rules import allowed_actions
from marketplace.orders.schemas import (
    AcceptIn,
    DeliverIn,
    FileOut,
    OrderCreateIn,
    OrderDetailOut,
    OrderOut,
    OrderQuery,
    PaymentInfoOut,
    QuoteIn,
    RateIn,
    RatingOut,
    ReasonIn,
    RefundOut,
    RefundRecordIn,
)
from marketplace.pagination import Page, paginate
from marketplace.payments import services as payments
from marketplace.payments.enums import GatewayKind, PaymentStatus
from marketplace.payments.models import Payment, remittance_code
from marketplace.problems import ApiProblem, problem

TAGS = ["orders"]
ENTERPRISE = (Role.ENTERPRISE,)
PROVIDER = (Role.PROVIDER,)
PARTIES = (Role.ENTERPRISE, Role.PROVIDER)
#: What the output schema names, read from the order row.
_ORDER_FIELDS = tuple(name for name in OrderOut().fields if name != "allowed_actions")


@bp.errorhandler(IllegalTransition)
def _illegal_transition(exc: IllegalTransition) -> Response:
    """The state machine's refusal as problem+json. Its ``extra`` names the order's status
    ``status``, which the app-wide DomainError handler would pass to ``problem()`` next to the
    HTTP status (a TypeError, so a 500); here it goes out as ``order_status``."""
    extra = {("order_status" if k == "status" else k): v for k, v in exc.extra.items()}
    return problem(exc.status, exc.code, exc.title, exc.message, **extra)


def order_files() -> OrderFileStorage:
    """Where delivery reports and dispute documents are stored."""
    return OrderFileStorage.from_settings(current_settings())


def upload_of(data: dict[str, Any]) -> Upload:
    """A file sent as ``{filename, content_base64}``, ready for the document rules."""
    try:
        raw = base64.b64decode(data["content_base64"], validate=True)
    except (binascii.Error, ValueError):  # pragma: no cover - the schema's pattern guards it
        raise ApiProblem(
            422,
            "validation_failed",
            "The input is not valid",
            "the file is not valid base64",
            errors={"content_base64": ["Not valid base64."]},
        ) from None
    return Upload(filename=data["filename"], stream=io.BytesIO(raw))


def _actions(user: User, order: Order) -> list[str]:
    actor = capacity_of(user, order)
    return [] if actor is None else [a.value for a in allowed_actions(order.status, actor)]


def order_view(
    order: Order, user: User, *, detail: bool = False, parts: bool = False
) -> dict[str, Any]:
    view = {name: getattr(order, name) for name in _ORDER_FIELDS}
    view["allowed_actions"] = _actions(user, order)
    if detail:
        view["agreed_terms"] = order.agreed_terms
        view["terms_changed_since"] = order.terms_changed_since
        view["invoice"] = order.invoice
        view["events"] = list(order.events)
        view["voucher_lapsed_fen"] = order.voucher_lapsed_fen
    if parts:
        view["funder_parts"] = _funder_parts(order)
    return view


def _funder_parts(order: Order) -> list[Any]:
    """A co-funded programme's split of the voucher part, shown by GET /orders/{id} only: the
    answers of the steps (accept above all, the lean hold path) send no query for it."""
    voucher = order.voucher if order.voucher_id else None
    if voucher is None or order.hold_id is None or not voucher.programme.co_funded:
        return []
    assert order.hold is not None
    return list(order.hold.funder_parts)


def _detail(order: Order) -> dict[str, Any]:
    """The order as the services left it, from memory: they keep its columns, events and
    invoice current (relationships set both ways), so no re-read is needed."""
    db_session().flush()
    return order_view(order, api_user(), detail=True)


# --------------------------------------------------------------------------- orders


@endpoint(
    bp,
    "/orders",
    "POST",
    roles=ENTERPRISE,
    body=OrderCreateIn,
    response=OrderDetailOut,
    status=201,
    tags=TAGS,
    errors=[404, 409],
    summary="Request a service (the provider then quotes or accepts at the list price)",
)
def create_order(body: dict[str, Any]) -> dict[str, Any]:
    order = services.request_service(
        db_session(),
        api_user(),
        body["service_id"],
        note=body["note"],
        quantity=body["quantity"],
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders",
    "GET",
    roles=ANY_ROLE,
    query=OrderQuery,
    response=OrderOut,
    paginated=True,
    tags=TAGS,
    summary="Orders you may see (yours; all for administrators), newest first",
)
def list_orders(query: dict[str, Any]) -> Page:
    user = api_user()
    stmt = sa.select(Order).where(visible(user))
    if query["status"] is not None:
        stmt = stmt.where(Order.status == query["status"])
    page = paginate(
        db_session(),
        stmt,
        sort_column=Order.id,
        id_column=Order.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )
    return Page(items=[order_view(o, user) for o in page.items], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/orders/<int:order_id>",
    "GET",
    roles=ANY_ROLE,
    response=OrderDetailOut,
    tags=TAGS,
    errors=[404],
    summary="One order with its invoice and full history",
)
def get_order_detail(order_id: int) -> dict[str, Any]:
    order = get_order(db_session(), order_id, api_user())
    return order_view(order, api_user(), detail=True, parts=True)


def _payment_view(payment: Payment, *, checkout: bool) -> dict[str, Any]:
    instructions = client_secret = None
    if checkout and payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        intent = payments.checkout(db_session(), payment.id)
        instructions, client_secret = intent.instructions, intent.client_secret
    return {
        "payment_id": payment.id,
        "status": payment.status.value,
        "gateway": payment.gateway.value,
        "amount_fen": payment.amount_fen,
        "refunded_fen": payment.refunded_fen,
        "disputed_fen": payment.disputed_fen,
        "remittance_code": remittance_code(payment.id),
        "instructions": instructions,
        "client_secret": client_secret,
    }


@endpoint(
    bp,
    "/orders/<int:order_id>/payment",
    "GET",
    roles=ANY_ROLE,
    response=PaymentInfoOut,
    tags=TAGS,
    errors=[404, 409, 502, 503],
    summary="The co-payment: status, and for the paying enterprise how to pay",
    description=(
        "Bank transfer: the remittance code to quote; finance then records the transfer. "
        "Stripe: the PaymentIntent's client_secret, to confirm with Stripe.js."
    ),
)
def get_order_payment(order_id: int) -> dict[str, Any]:
    session = db_session()
    user = api_user()
    order = get_order(session, order_id, user)
    payment = copayment.payment_of(session, order)
    if payment is None:
        raise NotFound("该订单尚无付款 / the order has no payment yet")
    payer = user.role is Role.ENTERPRISE
    return _payment_view(
        payment, checkout=payer and payment.gateway in (GatewayKind.OFFLINE, GatewayKind.STRIPE)
    )


@endpoint(
    bp,
    "/orders/<int:order_id>/quote",
    "POST",
    roles=PROVIDER,
    body=QuoteIn,
    response=OrderDetailOut,
    tags=TAGS,
    errors=[403, 404, 409, 412],
    summary="Quote the final price (or accept a fixed-price service at list price)",
)
def quote_order(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    order = services.quote(
        db_session(),
        order_id,
        api_user(),
        price_fen=body["price_fen"],
        note=body["note"],
        expected_version=expected_version(body),
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders/<int:order_id>/decline",
    "POST",
    roles=PROVIDER,
    body=ReasonIn,
    response=OrderDetailOut,
    tags=TAGS,
    errors=[403, 404, 409, 412],
    summary="Decline the request, with a reason",
)
def decline_order(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    order = services.decline(
        db_session(),
        order_id,
        api_user(),
        reason=body["reason"],
        expected_version=expected_version(body),
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders/<int:order_id>/accept",
    "POST",
    roles=ENTERPRISE,
    body=AcceptIn,
    response=OrderDetailOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[403, 404, 409, 412],
    summary="Accept the quote and the agreement, with a voucher; starts the co-payment",
)
def accept_order(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    order = services.accept(
        db_session(),
        order_id,
        api_user(),
        voucher_id=body["voucher_id"],
        requested_fen=body["requested_fen"],
        agree=body["agree"],
        expected_version=expected_version(body),
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders/<int:order_id>/deliver",
    "POST",
    roles=PROVIDER,
    body=DeliverIn,
    response=OrderDetailOut,
    tags=TAGS,
    errors=[403, 404, 409, 412, 413, 422],
    summary="Deliver: the service report and the invoice file(s) (base64)",
    description=(
        "The platform reads the invoice from its 数电发票 file (``invoice_files``: the XML or "
        "OFD, optionally with its PDF; 422 invoice_file_unreadable names what is missing, "
        "invoice_file_refused a hostile file). The invoice must match the order (amount = "
        "price, buyer = the enterprise's credit code, seller = yours, dated between the "
        "agreement and today), never have been used on the platform, nor its file (409 "
        "invoice_mismatch / invoice_reused / invoice_file_reused), and not be a red-letter "
        "invoice or reversed by one (409 red_letter_invoice / invoice_reversed). ``invoice`` "
        "(typed details) is only for a paper-era invoice; it is checked by hand at the claim. "
        "The report is a PDF, PNG or JPEG as base64 (see the module notes on size)."
    ),
)
def deliver_order(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    invoice = body.get("invoice")
    order = delivery.deliver(
        db_session(),
        order_files(),
        order_id,
        api_user(),
        invoice=delivery.InvoiceInput(
            code=invoice["code"],
            number=invoice["number"],
            issued_on=invoice["issued_on"],
            amount_fen=invoice["amount_fen"],
            buyer_taxpayer_id=invoice["buyer_taxpayer_id"],
            seller_taxpayer_id=invoice["seller_taxpayer_id"],
        )
        if invoice is not None
        else None,
        invoice_files=[upload_of(f) for f in body["invoice_files"]],
        verifier=verifier_from_settings(current_settings()),
        report=upload_of(body["report"]),
        note=body["note"],
        expected_version=expected_version(body),
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders/<int:order_id>/report",
    "GET",
    roles=ANY_ROLE,
    response=FileOut,
    tags=TAGS,
    errors=[404],
    summary="The delivery report (base64), for the order's parties and administrators",
)
def get_report(order_id: int) -> dict[str, Any]:
    order = get_order(db_session(), order_id, api_user())
    if order.report_path is None:
        raise NotFound("该订单尚未交付报告 / no report delivered yet")
    path = order_files().path_for(order.report_path)
    if not path.is_file():
        raise NotFound("报告文件缺失 / the report file is missing")
    return {
        "filename": order.report_filename or "report",
        "content_base64": base64.b64encode(path.read_bytes()).decode(),
    }


@endpoint(
    bp,
    "/invoice-files/<int:file_id>",
    "GET",
    roles=ANY_ROLE,
    response=FileOut,
    tags=TAGS,
    errors=[404],
    summary="An invoice file (base64): for its order's parties, reviewers, finance, auditors",
)
def get_invoice_file(file_id: int) -> dict[str, Any]:
    row = invoices.entitled_file(db_session(), api_user(), file_id)
    path = order_files().path_for(row.stored_name)
    if not path.is_file():
        raise NotFound("发票文件缺失 / the invoice file is missing")
    return {
        "filename": row.original_filename,
        "content_base64": base64.b64encode(path.read_bytes()).decode(),
    }


@endpoint(
    bp,
    "/orders/<int:order_id>/confirm",
    "POST",
    roles=ENTERPRISE,
    response=OrderDetailOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[403, 404, 409, 412],
    summary="Confirm the delivery: the voucher part becomes payable to the provider",
    description="Send If-Match with the version you read to make sure nothing changed.",
)
def confirm_order(order_id: int) -> dict[str, Any]:
    order = delivery.confirm(
        db_session(), order_id, api_user(), expected_version=expected_version()
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders/<int:order_id>/cancel",
    "POST",
    roles=PARTIES,
    body=ReasonIn,
    response=OrderDetailOut,
    idempotency_required=True,
    tags=TAGS,
    errors=[403, 404, 409, 412, 502, 503],
    summary="Cancel before delivery: hold released, co-payment cancelled or refunded",
)
def cancel_order(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    order = services.cancel(
        db_session(),
        order_id,
        api_user(),
        reason=body["reason"],
        expected_version=expected_version(body),
    )
    return _detail(order)


@endpoint(
    bp,
    "/orders/<int:order_id>/rate",
    "POST",
    roles=ENTERPRISE,
    body=RateIn,
    response=RatingOut,
    status=201,
    tags=TAGS,
    errors=[403, 404, 409],
    summary="Rate the service of a confirmed order (1–5 stars, once)",
)
def rate_order(order_id: int, body: dict[str, Any]) -> Any:
    return services.rate(
        db_session(), order_id, api_user(), stars=body["stars"], comment=body["comment"]
    )


@endpoint(
    bp,
    "/orders/<int:order_id>/refund",
    "POST",
    roles=(Role.FINANCE,),
    body=RefundRecordIn,
    response=RefundOut,
    status=201,
    idempotency_required=True,
    tags=TAGS,
    errors=[404, 409, 412],
    summary="Finance: refund what the order owes the SME (bank transfers: with its reference)",
)
def refund_order(order_id: int, body: dict[str, Any]) -> Any:
    return copayment.record_refund(
        db_session(),
        order_id,
        api_user(),
        bank_reference=body["bank_reference"],
        expected_version=expected_version(body),
    )
