"""Vouchers over JSON: applications and their review, vouchers, the wallet, revocation, token
verification for providers, and the ledger check. Programmes, budgets and bulk issuance are in
:mod:`marketplace.api.programmes`, enterprises in :mod:`marketplace.api.enterprises`.

Roles: enterprises see only their own applications and vouchers (another enterprise's answer
404); reviewers review and issue; system administrators manage programmes and may read the
review queues but never decide them; every administrator role (auditors included) may read;
providers verify tokens.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.auth.models import User
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import NotFound
from marketplace.pagination import Page, paginate
from marketplace.settlement.ledger_checks import verify_books
from vouchers import applications, common, expiry, tokens
from vouchers.models import Application, Hold, RecoveryFlag, Voucher
from vouchers.schemas import (
    ApplicationDetailOut,
    ApplicationIn,
    ApplicationOut,
    ApplicationQuery,
    ApproveIn,
    ClarificationQuestionIn,
    ClarificationResponseIn,
    DecisionReasonIn,
    LedgerReportOut,
    VerificationOut,
    VoucherDetailOut,
    VoucherOut,
    VoucherQuery,
    VoucherTokenIn,
    WalletOut,
)
from vouchers.wallet import wallet_of

ENTERPRISE = frozenset({Role.ENTERPRISE})
READERS = ADMIN_ROLES
#: Who decides applications, issues in bulk, revokes, verifies and blacklists: reviewers only.
#: System administrators create the programmes, so letting them also verify an enterprise and
#: issue to it would put every step of a grant in one person's hands (separation of duties).
REVIEWERS = frozenset({Role.REVIEWER})
PROGRAMME_MANAGERS = frozenset({Role.SYSADMIN})
TAGS = ["vouchers"]


def _enterprise_id(user: User) -> int | None:
    """The caller's enterprise for enterprise users; None for administrators."""
    return user.enterprise_id if user.role is Role.ENTERPRISE else None


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


class WithExtras:
    """A record seen with extra attributes (history, token) for an output schema."""

    def __init__(self, record: object, **extra: Any) -> None:
        self._record = record
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


# --------------------------------------------------------------------------- applications


@endpoint(
    bp,
    "/applications",
    "POST",
    roles=ENTERPRISE,
    body=ApplicationIn,
    response=ApplicationDetailOut,
    status=201,
    errors=[404, 409],
    tags=TAGS,
    summary="Apply to an open programme (amount, planned services, a short plan)",
)
def apply(body: dict[str, Any]) -> Application:
    user = api_user()
    return applications.apply(
        db_session(),
        user.enterprise_id,
        body["programme_id"],
        applications.ApplicationInput(
            requested_fen=body["requested_fen"],
            planned_categories=body["planned_categories"],
            plan=body["plan"],
        ),
        actor_id=user.id,
    )


@endpoint(
    bp,
    "/applications",
    "GET",
    roles=ENTERPRISE | READERS,
    query=ApplicationQuery,
    response=ApplicationOut,
    paginated=True,
    tags=TAGS,
    summary="Applications: your own (enterprises) or all (administrators), newest first",
)
def list_applications(query: dict[str, Any]) -> Page:
    stmt = sa.select(Application)
    own = _enterprise_id(api_user())
    if own is not None:
        stmt = stmt.where(Application.enterprise_id == own)
    elif query["enterprise_id"] is not None:
        stmt = stmt.where(Application.enterprise_id == query["enterprise_id"])
    if query["status"] is not None:
        stmt = stmt.where(Application.status == query["status"])
    if query["programme_id"] is not None:
        stmt = stmt.where(Application.programme_id == query["programme_id"])
    return paginate(
        db_session(),
        stmt,
        sort_column=Application.id,
        id_column=Application.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/applications/<int:application_id>",
    "GET",
    roles=ENTERPRISE | READERS,
    response=ApplicationDetailOut,
    tags=TAGS,
    summary="One application with its status history",
)
def get_application(application_id: int) -> Application:
    return applications.get_application(
        db_session(), application_id, enterprise_id=_enterprise_id(api_user())
    )


@endpoint(
    bp,
    "/applications/<int:application_id>/clarification",
    "POST",
    roles=ENTERPRISE,
    body=ClarificationResponseIn,
    response=ApplicationDetailOut,
    errors=[409],
    tags=TAGS,
    summary="Answer the reviewer's clarification request (the application returns to review)",
)
def respond(application_id: int, body: dict[str, Any]) -> Application:
    user = api_user()
    return applications.respond_to_clarification(
        db_session(),
        application_id,
        enterprise_id=user.enterprise_id,
        response=body["response"],
        actor_id=user.id,
    )


@endpoint(
    bp,
    "/applications/<int:application_id>/clarification-request",
    "POST",
    roles=REVIEWERS,
    body=ClarificationQuestionIn,
    response=ApplicationDetailOut,
    errors=[409],
    tags=TAGS,
    summary="Ask the enterprise for clarification",
)
def request_clarification(application_id: int, body: dict[str, Any]) -> Application:
    return applications.request_clarification(
        db_session(), application_id, question=body["question"], actor_id=api_user().id
    )


@endpoint(
    bp,
    "/applications/<int:application_id>/approve",
    "POST",
    roles=REVIEWERS,
    body=ApproveIn,
    response=VoucherOut,
    status=201,
    idempotency_required=True,
    errors=[409],
    tags=TAGS,
    summary="Approve (optionally a lower amount) and issue the voucher; commits budget",
)
def approve(application_id: int, body: dict[str, Any]) -> Voucher:
    return applications.approve(
        db_session(),
        application_id,
        amount_fen=body["amount_fen"],
        note=body["note"],
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/applications/<int:application_id>/reject",
    "POST",
    roles=REVIEWERS,
    body=DecisionReasonIn,
    response=ApplicationDetailOut,
    errors=[409],
    tags=TAGS,
    summary="Reject with a mandatory reason",
)
def reject(application_id: int, body: dict[str, Any]) -> Application:
    return applications.reject(
        db_session(), application_id, reason=body["reason"], actor_id=api_user().id
    )


# --------------------------------------------------------------------------- vouchers


@endpoint(
    bp,
    "/wallet",
    "GET",
    roles=ENTERPRISE,
    response=WalletOut,
    tags=TAGS,
    summary="Your wallet: this year's cap, used, held and remaining, and every voucher",
)
def wallet() -> dict[str, Any]:
    found = wallet_of(db_session(), api_user().enterprise_id)
    return {
        "year": found.year,
        "cap_fen": found.shared.cap_fen,
        "used_fen": found.shared.used_fen,
        "held_fen": found.shared.held_fen,
        "remaining_fen": found.shared.remaining_fen,
        "balance_fen": found.balance_fen,
        "own_caps": [
            {
                "programme_id": programme.id,
                "programme_name": programme.name,
                "cap_fen": quota.cap_fen,
                "used_fen": quota.used_fen,
                "held_fen": quota.held_fen,
                "remaining_fen": quota.remaining_fen,
            }
            for programme, quota in found.own_caps
        ],
        "vouchers": found.vouchers,
    }


@endpoint(
    bp,
    "/vouchers",
    "GET",
    roles=ENTERPRISE | READERS,
    query=VoucherQuery,
    response=VoucherOut,
    paginated=True,
    tags=TAGS,
    summary="Vouchers: your own (enterprises) or all (administrators), newest first",
)
def list_vouchers(query: dict[str, Any]) -> Page:
    stmt = sa.select(Voucher)
    own = _enterprise_id(api_user())
    if own is not None:
        stmt = stmt.where(Voucher.enterprise_id == own)
    elif query["enterprise_id"] is not None:
        stmt = stmt.where(Voucher.enterprise_id == query["enterprise_id"])
    if query["status"] is not None:
        stmt = stmt.where(Voucher.status == query["status"])
    if query["programme_id"] is not None:
        stmt = stmt.where(Voucher.programme_id == query["programme_id"])
    if query["serial"] is not None:
        stmt = stmt.where(Voucher.serial.contains(query["serial"].strip().upper(), autoescape=True))
    return paginate(
        db_session(),
        stmt,
        sort_column=Voucher.id,
        id_column=Voucher.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


def _voucher_for(voucher_id: int, user: User) -> Voucher:
    voucher = common.fetch(db_session(), Voucher, voucher_id)
    own = _enterprise_id(user)
    if voucher is None or (own is not None and voucher.enterprise_id != own):
        raise NotFound("没有该电子券 / no such voucher")
    return voucher


@endpoint(
    bp,
    "/vouchers/<int:voucher_id>",
    "GET",
    roles=ENTERPRISE | READERS,
    response=VoucherDetailOut,
    tags=TAGS,
    summary="One voucher with its holds; the owner also gets the verification token",
    description="Administrators also see the recovery flag of a revoked voucher.",
)
def get_voucher(voucher_id: int) -> WithExtras:
    user = api_user()
    voucher = _voucher_for(voucher_id, user)
    session = db_session()
    owner = user.role is Role.ENTERPRISE
    return WithExtras(
        voucher,
        holds=list(
            session.scalars(sa.select(Hold).where(Hold.voucher_id == voucher.id).order_by(Hold.id))
        ),
        verification_token=tokens.verification_token(_secret(), voucher) if owner else None,
        recovery=None
        if owner
        else session.scalar(sa.select(RecoveryFlag).where(RecoveryFlag.voucher_id == voucher.id)),
    )


@endpoint(
    bp,
    "/vouchers/<int:voucher_id>/revoke",
    "POST",
    roles=REVIEWERS,
    body=DecisionReasonIn,
    response=VoucherOut,
    idempotency_required=True,
    errors=[409],
    tags=TAGS,
    summary="Revoke a voucher (fraud): balance back to the budget, redeemed amount flagged",
)
def revoke(voucher_id: int, body: dict[str, Any]) -> Voucher:
    key = request.headers.get("Idempotency-Key", "")
    return expiry.revoke_voucher(
        db_session(),
        voucher_id,
        reason=body["reason"],
        actor_id=api_user().id,
        idempotency_key=f"api:{api_user().id}:{key}",
    )


@endpoint(
    bp,
    "/vouchers/verify",
    "POST",
    scope="vouchers:read",
    roles=frozenset({Role.PROVIDER}) | READERS,
    body=VoucherTokenIn,
    response=VerificationOut,
    idempotent=False,
    errors=[404],
    tags=TAGS,
    summary="Providers: check a voucher (token or serial) is genuine and what it can cover",
)
def verify_token(body: dict[str, Any]) -> dict[str, Any]:
    session = db_session()
    if body.get("serial"):
        result = tokens.verify_voucher(session, tokens.voucher_for_serial(session, body["serial"]))
    else:
        result = tokens.verify(
            session, _secret(), body["token"], fallbacks=current_settings().secret_key_fallbacks
        )
    voucher = result.voucher
    return {
        "genuine": result.genuine,
        "serial": voucher.serial,
        "status": voucher.status,
        "programme_name": voucher.programme.name,
        "programme_kind": voucher.programme.kind,
        "enterprise_name": voucher.enterprise.name,
        "enterprise_credit_code": voucher.enterprise.credit_code,
        "usable": result.usable,
        "reason": result.reason,
        "can_cover_fen": result.can_cover_fen,
        "balance_fen": voucher.balance_fen,
        "cap_remaining_fen": result.cap_remaining_fen,
        "ceiling_bps": voucher.programme.ceiling_bps,
        "use_by": voucher.use_by,
        "claim_deadline": voucher.claim_deadline,
    }


@endpoint(
    bp,
    "/ledger/verify",
    "GET",
    roles=READERS,
    response=LedgerReportOut,
    tags=TAGS,
    summary="Check every ledger invariant now (read-only)",
)
def ledger_verify() -> Any:
    report = verify_books(db_session())
    return {
        "ok": report.ok,
        "breach_count": report.breach_count,
        "checks": report.checks,
    }
