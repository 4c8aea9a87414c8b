"""The authorisation matrix: every route of the Flask URL map and every operation of the OpenAPI
document, called by every role (anonymous, enterprise, provider, reviewer, finance, auditor,
sysadmin) with the objects of *another* enterprise and provider in its path.

Expected: nobody outside a route's audience gets in (401 for the API without a token, the
sign-in page for pages, 403/404 otherwise); an enterprise or provider never reaches another
organisation's record (403/404; a write may also be refused for its input first, but never
succeeds); no answer to them carries the other organisation's private details; nothing answers
500. Every route needs an entry in ``AUDIENCE`` and every path parameter one in
``PARAMETERS``, so a new route cannot escape the matrix. The size is printed (``-s``) and kept
in ``MATRIX_SIZE`` for the closing note."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.api.endpoint import REGISTRY
from marketplace.auth.services import create_api_token
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.orders.enums import OrderStatus
from marketplace.orders.models import Invoice, InvoiceFile
from marketplace.payments.models import Payment
from tests.support.fixtures import AuthActions

ROLES: tuple[str, ...] = ("anonymous", *(r.value for r in Role))
ORGANISATIONS = ("enterprise", "provider")
#: Statuses that refuse: unauthenticated, forbidden, not found.
REFUSED = frozenset({401, 403, 404})
#: A write may be refused for its (empty) input before its record is looked at: that tells
#: nothing about the record, so it counts as refused too (a 409 would not: it reached it).
REFUSED_WRITE = REFUSED | {400, 405, 415, 422, 428}
#: The other organisation's details that must never reach the first one.
PRIVATE = ("乙方隐私测试科技有限公司", "yifang.private@example.cn", "13911112222")

# Audiences of the pages (by endpoint). "public": anyone; "signed_in": any account;
# "enterprise"/"provider": that organisation's people; "org": both; "admin": the four
# administrative roles (each page may narrow them further; the matrix checks they are refused
# to everyone else); "mixed": organisations and administrators (object checks decide).
PUBLIC_ENDPOINTS = {
    "public.home", "public.verify_form", "public.verify", "catalogue.search",
    "catalogue.notices", "catalogue.objection", "catalogue.provider", "catalogue.service",
    "disclosure.index", "disclosure.grants_file", "ops.healthz", "ops.readyz", "ops.metrics",
    "auth.login", "auth.login_second_factor", "auth.logout", "auth.forgot_password",
    "auth.reset_password", "auth.register", "auth.register_enterprise",
    "auth.register_provider", "payments.stripe_webhook", "instruments.calendar",
}  # fmt: skip
SIGNED_IN_ENDPOINTS = {
    "auth.account", "auth.confirm_second_factor", "auth.change_password", "auth.second_factor",
    "auth.renew_recovery_codes", "auth.end_other_sessions", "auth.create_token",
    "auth.revoke_token",
}  # fmt: skip
MIXED_ENDPOINTS = {
    "orders.index", "orders.detail", "orders.accept", "orders.accept_preview", "orders.cancel",
    "orders.confirm", "orders.decline", "orders.deliver", "orders.dispute", "orders.mediation",
    "orders.decide", "orders.add_document", "orders.document", "orders.post_message",
    "orders.outcome", "orders.quote", "orders.rate", "orders.refund", "orders.report",
    "orders.dispute_queue", "orders.index_file", "orders.invoice_file", "orders.new",
    "orders.red_letter", "orders.red_letter_upload", "instruments.bookings",
    "instruments.booking", "instruments.booking_step", "instruments.book",
}  # fmt: skip


def _audience(endpoint: str) -> str:
    if endpoint in PUBLIC_ENDPOINTS:
        return "public"
    if endpoint in SIGNED_IN_ENDPOINTS:
        return "signed_in"
    if endpoint in MIXED_ENDPOINTS:
        return "mixed"
    blueprint = endpoint.split(".", 1)[0]
    return {
        "enterprise": "enterprise",
        "provider": "provider",
        "settlement": "provider",
        "admin": "admin",
        "risk": "admin",
        # A job (bulk issuance, a background export) is its owner's alone: object checks decide.
        "jobs": "mixed",
    }.get(blueprint, {"instruments": "instruments"}.get(blueprint, "unknown"))


INSTRUMENT_AUDIENCE = {
    "instruments.manage_list": "provider",
    "instruments.manage": "provider",
    "instruments.add_closure": "provider",
    "instruments.remove_closure": "provider",
    "instruments.utilisation_page": "admin",
}


def audience_of(endpoint: str) -> str:
    audience = _audience(endpoint)
    if audience == "instruments":
        audience = INSTRUMENT_AUDIENCE.get(endpoint, "unknown")
    return audience


@dataclass
class World:
    """The other organisations' records (the victims), and one account per role."""

    ids: dict[str, int]
    headers: dict[str, dict[str, str]]
    clients: dict[str, Any]


#: Each path parameter → the victim's record it names (or a value for non-id parameters).
PARAMETERS: dict[str, Callable[[dict[str, int]], Any]] = {
    "order_id": lambda ids: ids["order"],
    "enterprise_id": lambda ids: ids["enterprise"],
    "provider_id": lambda ids: ids["provider"],
    "service_id": lambda ids: ids["service"],
    "voucher_id": lambda ids: ids["voucher"],
    "application_id": lambda ids: ids["application"],
    "claim_id": lambda ids: ids["claim"],
    "batch_id": lambda ids: ids["batch"],
    "programme_id": lambda ids: ids["programme"],
    "payment_id": lambda ids: ids["payment"],
    "file_id": lambda ids: ids["invoice_file"],
    "user_id": lambda ids: ids["user"],
    "token_id": lambda ids: ids["token"],
    "subject_id": lambda ids: ids["enterprise"],
    "party_id": lambda ids: ids["enterprise"],
    "change_id": lambda ids: ids["bank_change"],
    # Records the victim world does not hold: a number nobody has (404 for everyone).
    "document_id": lambda ids: 987_654,
    "booking_id": lambda ids: 987_654,
    "closure_id": lambda ids: 987_654,
    "declaration_id": lambda ids: 987_654,
    "finding_id": lambda ids: 987_654,
    "freeze_id": lambda ids: 987_654,
    "job_id": lambda ids: 987_654,
    "funder_id": lambda ids: 987_654,
    "item_id": lambda ids: 987_654,
    "objection_id": lambda ids: 987_654,
    "sample_id": lambda ids: 987_654,
    "withdrawal_id": lambda ids: 987_654,
    "year": lambda ids: 2026,
    # Words in paths: the first the route accepts.
    "action": lambda ids: "admit",
    "decision": lambda ids: "approve",
    "step": lambda ids: "confirm",
    "kind": lambda ids: "enterprise",
    "party_kind": lambda ids: "enterprise",
    "field": lambda ids: "contact_phone",
    "subject_type": lambda ids: "enterprise",
    "table": lambda ids: "orders",
    "rule": lambda ids: "split_orders",
    "token": lambda ids: "not-a-token",
}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def fill(rule: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        assert name in PARAMETERS, f"new path parameter <{name}> in {rule}: add it to PARAMETERS"
        return str(PARAMETERS[name](ids))

    return _PARAM.sub(value, rule)


def _routes(app) -> list[tuple[str, str, str, str]]:
    """(kind, method, rule, endpoint): every page route and every API operation."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("api."):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(("page", method, rule.rule, rule.endpoint))
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    specs = {spec.endpoint.replace(".", "_"): spec for spec in REGISTRY}
    for methods in document["paths"].values():
        for method, op in methods.items():
            spec = specs[op["operationId"]]
            routes.append(("api", method.upper(), spec.rule, spec.endpoint))
    return routes


@pytest.fixture
def world(app, session, create_user, create_enterprise, create_provider, settlement_world):
    victim_enterprise = create_enterprise(
        name=PRIVATE[0], contact_email=PRIVATE[1], contact_phone=PRIVATE[2]
    )
    victim_provider = create_provider()
    order = settlement_world.order(enterprise=victim_enterprise, provider=victim_provider)
    assert order.status is OrderStatus.CONFIRMED
    claim = settlement_world.approved_claim(order)
    batch = settlement_world.batch([line.id for line in claim.lines])
    voucher = settlement_world.orders.voucher_of(
        victim_enterprise, settlement_world.orders.programme()
    )
    victim_user = create_user(Role.ENTERPRISE, enterprise=victim_enterprise)
    token, _plain = create_api_token(session, victim_user, name="victim")
    from providers.models import BankAccountChange

    change = BankAccountChange(
        provider_id=victim_provider.id,
        bank_account_name="乙方",
        bank_name="乙方银行",
        bank_account_number="6222020012345678901",
    )
    session.add(change)
    session.flush()
    ids = {
        "order": order.id,
        "enterprise": victim_enterprise.id,
        "provider": victim_provider.id,
        "service": order.service_id,
        "voucher": voucher.id,
        "application": voucher.application_id,
        "claim": claim.id,
        "batch": batch.id,
        "programme": voucher.programme_id,
        "payment": session.scalar(
            sa.select(Payment.id).where(Payment.reference == f"order:{order.id}").limit(1)
        ),
        "invoice_file": session.scalar(
            sa.select(InvoiceFile.id)
            .join(Invoice, InvoiceFile.invoice_id == Invoice.id)
            .where(Invoice.order_id == order.id)
            .limit(1)
        )
        or 987_654,  # a paper invoice keeps no file
        "user": victim_user.id,
        "token": token.id,
        "bank_change": change.id,
    }
    assert all(ids.values()), ids
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    clients = {"anonymous": app.test_client()}
    for role in Role:
        user = create_user(role)  # an enterprise or provider of its own, not the victim's
        _t, plain = create_api_token(session, user, name="matrix")
        headers[role.value] = {"Authorization": f"Bearer {plain}"}
        clients[role.value] = app.test_client()
        AuthActions(clients[role.value], session).login(user)
    return World(ids, headers, clients)


MATRIX_SIZE: dict[str, int] = {}


def _expect(kind: str, audience: str, roles: frozenset[Role] | None, role: str) -> str:
    """'in' (the role is in the route's audience), or 'out'."""
    if kind == "api":
        if roles is None:
            return "in"
        return "in" if role != "anonymous" and Role(role) in roles else "out"
    if audience == "public":
        return "in"
    if role == "anonymous":
        return "out"
    if audience == "signed_in" or audience == "mixed":
        return "in"
    if audience == "admin":
        return "in" if Role(role) in ADMIN_ROLES else "out"
    if audience == "org":
        return "in" if role in ORGANISATIONS else "out"
    return "in" if role == audience else "out"


def test_every_route_every_role_every_foreign_object(app, session, connection, world, capsys):
    routes = _routes(app)
    unknown = sorted({e for k, _m, _r, e in routes if k == "page" and audience_of(e) == "unknown"})
    assert not unknown, f"pages without an audience in the matrix: {unknown}"
    specs = {(s.method, s.rule): s for s in REGISTRY}
    failures: list[str] = []
    calls = 0
    for kind, method, rule, endpoint in routes:
        url = fill(rule, world.ids)
        spec = specs.get((method, rule)) if kind == "api" else None
        for role in ROLES:
            if kind == "api":
                client, headers = world.clients["anonymous"], world.headers[role]
            else:
                client, headers = world.clients[role], {}
            cookie = client.get_cookie("session")
            savepoint = connection.begin_nested()  # each call undone: the next starts afresh
            try:
                response = client.open(url, method=method, headers=headers, json={})
            except Exception as exc:  # the test app propagates errors: a 500 in production
                failures.append(f"500 ({exc!r}): {role} {method} {url} ({endpoint})")
                continue
            finally:
                savepoint.rollback()
                session.expire_all()
            body = response.get_data().decode("utf-8", "replace")
            flashed = _take_flashes(client) if kind == "page" else []
            if cookie is not None:  # a sign-out undone too
                client.set_cookie("session", cookie.value)
            calls += 1
            status = response.status_code
            where = f"{role:10} {method:6} {url} ({endpoint}) → {status}"
            if status >= 500:
                failures.append(f"500: {where}")
                continue
            expected = _expect(kind, audience_of(endpoint), spec.roles if spec else None, role)
            refused = REFUSED if method == "GET" else REFUSED_WRITE
            if expected == "out":
                login = status == 302 and "/login" in response.headers.get("Location", "")
                enrol = status == 302 and "/account/second-factor" in response.headers.get(
                    "Location", ""
                )
                if not (status in refused or login or enrol):
                    failures.append(f"outside its audience, not refused: {where}")
                if kind == "api" and role == "anonymous" and status != 401:
                    failures.append(f"API without a token, not 401: {where}")
            elif role in ORGANISATIONS and _foreign(rule) and not _public(endpoint):
                # An organisation's own audience, with the other organisation's record: a
                # page refuses with 404/403 or by sending the person back with an error.
                refused_back = status == 302 and "error" in flashed
                if status < 300 or (status == 302 and method == "POST" and not refused_back):
                    location = response.headers.get("Location", "")
                    failures.append(f"another's record reached: {where} {location} {flashed}")
            if role in ORGANISATIONS and status == 200 and not _public(endpoint):
                leaked = [p for p in PRIVATE if p in body]
                if leaked:
                    failures.append(f"another's details {leaked}: {where}")
    pages = sum(1 for r in routes if r[0] == "page")
    MATRIX_SIZE.update(routes=len(routes), pages=pages, api=len(routes) - pages, calls=calls)
    with capsys.disabled():
        print(
            f"\nauthorisation matrix: {len(routes)} routes ({pages} page routes, "
            f"{len(routes) - pages} API operations) × {len(ROLES)} roles × 1 foreign object "
            f"set (another enterprise and provider) = {calls} requests"
        )
    assert not failures, "\n".join(failures[:60]) + f"\n({len(failures)} in all)"


#: Routes whose answers may name the other organisation: published by policy (rule 7) or
#: public registry data.
PUBLIC_DATA = {"disclosure.index", "disclosure.grants_file", "public.verify"}


def _public(endpoint: str) -> bool:
    return (
        endpoint in PUBLIC_DATA
        or audience_of(endpoint) == "public"
        or endpoint.startswith(("api.catalogue", "api.disclosure", "api.instruments_calendar"))
    )


#: Path parameters naming records that belong to an organisation (the victim's). Programmes,
#: years and the words in paths are shared by everyone.
OWNED = frozenset(
    {
        "order_id", "enterprise_id", "provider_id", "service_id", "voucher_id",
        "application_id", "claim_id", "batch_id", "payment_id", "file_id", "user_id",
        "token_id", "subject_id", "party_id", "change_id", "document_id", "booking_id",
        "closure_id", "declaration_id", "finding_id", "freeze_id", "item_id", "objection_id",
        "sample_id", "withdrawal_id",
    }
)  # fmt: skip


def _foreign(rule: str) -> bool:
    return any(match.group(2) in OWNED for match in _PARAM.finditer(rule))


def _take_flashes(client) -> list[str]:
    """The categories of the messages a page queued for the next page (and clear them)."""
    with client.session_transaction() as stored:
        return [category for category, _message in stored.pop("_flashes", [])]


def test_a_route_missing_from_the_matrix_fails_it():
    assert audience_of("admin.something_new") == "admin"  # the blueprint gives admin pages
    assert audience_of("newblueprint.page") == "unknown"
    assert audience_of("instruments.something_new") == "unknown"
    with pytest.raises(AssertionError, match="PARAMETERS"):
        fill("/things/<int:thing_id>", {})
