"""Accounts: registration, API tokens, the caller's own profile."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.auth import second_factor, services
from marketplace.auth.models import ApiToken, User
from marketplace.auth.schemas import (
    EnterpriseRegistrationIn,
    ProviderRegistrationIn,
    RegistrationReceivedOut,
    TokenCreatedOut,
    TokenCreateIn,
    TokenOut,
    UserOut,
)
from marketplace.auth.throttle import LoginThrottle, count_failure, send_noted_notices
from marketplace.db import db_session
from marketplace.errors import DomainError, InvalidSecondFactor, PermissionDenied
from marketplace.pagination import Page, PageQuerySchema, paginate
from marketplace.problems import ApiProblem
from marketplace.ratelimit import limiter
from providers.services import register_provider as register_provider_account
from vouchers.enterprises import IdentityInput
from vouchers.enterprises import register_enterprise as register_enterprise_account


def _organisation_input(body: dict[str, Any]) -> services.OrganisationInput:
    return services.OrganisationInput(
        name=body["name"],
        credit_code=body["credit_code"],
        contact_name=body["contact_name"],
        contact_phone=body["contact_phone"],
        email=body["email"],
        password=body["password"],
    )


_REGISTERED_TEXT = (
    "Registration received: an e-mail is on its way to this address. Create a token with it "
    "and the password (POST /api/v1/auth/tokens) to continue. / 注册申请已收到，请查收邮件。"
)
_REGISTRATION_NOTE = (
    "Answers 202 with the same body whether or not the address already has an account (no "
    "account enumeration): a new registrant is sent a confirmation e-mail, the owner of a "
    "taken address an e-mail saying someone tried; nothing is created for a taken address. "
    "A duplicate credit code is refused with 409 (public registry data)."
)


def _received(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "received",
        "email": body["email"].strip().lower(),
        "detail": _REGISTERED_TEXT,
    }


@endpoint(
    bp,
    "/registrations/enterprise",
    "POST",
    roles=None,
    body=EnterpriseRegistrationIn,
    response=RegistrationReceivedOut,
    status=202,
    tags=["accounts"],
    errors=[409],
    summary="Register an enterprise (SME) and its first user; pending verification",
    description=_REGISTRATION_NOTE,
)
@limiter.limit("20 per hour")
def register_enterprise(body: dict[str, Any]) -> dict[str, Any]:
    session = db_session()
    services.register_without_disclosure(
        session,
        _organisation_input(body),
        lambda: register_enterprise_account(
            session,
            _organisation_input(body),
            size_class=body["size_class"],
            industry=body.get("industry"),
            identity=IdentityInput(
                legal_rep_name=body.get("legal_rep_name"),
                legal_rep_id_number=body.get("legal_rep_id_number"),
                registered_address=body.get("registered_address"),
                bank_account_number=body.get("bank_account_number"),
            ),
        ),
        pending=services.ENTERPRISE_PENDING,
    )
    return _received(body)


@endpoint(
    bp,
    "/registrations/provider",
    "POST",
    roles=None,
    body=ProviderRegistrationIn,
    response=RegistrationReceivedOut,
    status=202,
    tags=["accounts"],
    errors=[409],
    summary="Register a service provider and its first user; pending admission review",
    description=_REGISTRATION_NOTE,
)
@limiter.limit("20 per hour")
def register_provider(body: dict[str, Any]) -> dict[str, Any]:
    session = db_session()
    services.register_without_disclosure(
        session,
        _organisation_input(body),
        lambda: register_provider_account(
            session,
            _organisation_input(body),
            institution_type=body["institution_type"],
            legal_rep_name=body.get("legal_rep_name"),
            legal_rep_id_number=body.get("legal_rep_id_number"),
        ),
        pending=services.PROVIDER_PENDING,
    )
    return _received(body)


@endpoint(
    bp,
    "/auth/tokens",
    "POST",
    roles=None,
    body=TokenCreateIn,
    response=TokenCreatedOut,
    status=201,
    tags=["accounts"],
    errors=[401, 403],
    summary="Exchange e-mail and password (and the second factor's code) for a personal API "
    "token (shown once)",
)
@limiter.limit("10 per minute")
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    session = db_session()
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    wait = throttle.wait_seconds(body["email"])
    if wait:
        raise ApiProblem(
            429,
            "too_many_attempts",
            "Too many failed attempts",
            f"too many failed sign-ins for this account: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    try:
        user = _token_owner(session, body)
    except DomainError:
        count_failure(throttle, body["email"])
        raise
    throttle.succeeded(body["email"])
    token, plain = services.create_api_token(
        session, user, name=body["name"], days=body["days"], scopes=body["scopes"]
    )
    fields = (
        "id",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "scopes",
    )
    return {**{name: getattr(token, name) for name in fields}, "token": plain, "role": user.role}


bp.teardown_request(send_noted_notices)


def _token_owner(session: Session, body: dict[str, Any]) -> User:
    user = services.authenticate(session, body["email"], body["password"])
    # A token is as strong as the sign-in that made it: the password alone must not open an
    # account that the pages guard with a second factor.
    if user.has_second_factor:
        if not body.get("code"):
            raise InvalidSecondFactor(
                "this account uses two-step verification: send the current code as 'code' / "
                "该账号已启用双重验证，请提供验证码",
                field="code",
            )
        second_factor.verify(session, user, body["code"])
    elif user.is_admin:
        raise PermissionDenied(
            "administrators set up two-step verification in the browser before using the API / "
            "管理员须先在网页上设置双重验证"
        )
    return user


@endpoint(
    bp,
    "/auth/tokens",
    "GET",
    query=PageQuerySchema,
    response=TokenOut,
    paginated=True,
    tags=["accounts"],
    summary="List your API tokens (newest first)",
)
def list_tokens(query: dict[str, Any]) -> Page:
    stmt = sa.select(ApiToken).where(ApiToken.user_id == api_user().id)
    return paginate(
        db_session(),
        stmt,
        sort_column=ApiToken.created_at,
        id_column=ApiToken.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/auth/tokens/<int:token_id>",
    "DELETE",
    response=TokenOut,
    tags=["accounts"],
    idempotent=False,
    summary="Revoke one of your API tokens",
)
def revoke_token(token_id: int) -> ApiToken:
    return services.revoke_api_token(db_session(), api_user(), token_id)


@endpoint(
    bp,
    "/me",
    "GET",
    response=UserOut,
    tags=["accounts"],
    summary="The authenticated user, with role and organisation status",
)
def me() -> User:
    user: User = api_user()
    return user
