"""Enterprises over JSON: the verification queue and decisions, the dishonesty list, and an
enterprise's own profile. Reviewers act, every administrator role (system administrators
included) reads; an enterprise user sees and edits only its own enterprise."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.vouchers import ENTERPRISE, READERS, REVIEWERS, TAGS, WithExtras
from marketplace.db import db_session
from marketplace.pagination import Page, paginate
from vouchers import enterprises
from vouchers.enums import VerificationStatus
from vouchers.models import BlacklistEvent, Enterprise, EnterpriseVerificationEvent
from vouchers.schemas import (
    BlacklistIn,
    EnterpriseDetailOut,
    EnterpriseOut,
    EnterpriseProfileIn,
    EnterpriseQuery,
    UnblacklistIn,
    VerificationDecisionIn,
)


def _enterprise_detail(enterprise: Enterprise) -> WithExtras:
    session = db_session()
    return WithExtras(
        enterprise,
        verification_history=list(
            session.scalars(
                sa.select(EnterpriseVerificationEvent)
                .where(EnterpriseVerificationEvent.enterprise_id == enterprise.id)
                .order_by(EnterpriseVerificationEvent.id)
            )
        ),
        blacklist_history=list(
            session.scalars(
                sa.select(BlacklistEvent)
                .where(BlacklistEvent.enterprise_id == enterprise.id)
                .order_by(BlacklistEvent.id)
            )
        ),
    )


@endpoint(
    bp,
    "/enterprises",
    "GET",
    roles=READERS,
    query=EnterpriseQuery,
    response=EnterpriseOut,
    paginated=True,
    tags=TAGS,
    summary="Enterprises, e.g. the verification queue (verification_status=pending)",
)
def list_enterprises(query: dict[str, Any]) -> Page:
    stmt = sa.select(Enterprise)
    if query["verification_status"] is not None:
        stmt = stmt.where(Enterprise.verification_status == query["verification_status"])
    if query["blacklisted"] is not None:
        stmt = stmt.where(Enterprise.blacklisted == query["blacklisted"])
    return paginate(
        db_session(),
        stmt,
        sort_column=Enterprise.id,
        id_column=Enterprise.id,
        cursor=query["cursor"],
        limit=query["limit"],
    )


@endpoint(
    bp,
    "/enterprises/<int:enterprise_id>",
    "GET",
    roles=READERS,
    response=EnterpriseDetailOut,
    tags=TAGS,
    summary="One enterprise with its verification and blacklist history",
)
def get_enterprise(enterprise_id: int) -> WithExtras:
    return _enterprise_detail(enterprises.get_enterprise(db_session(), enterprise_id))


@endpoint(
    bp,
    "/enterprises/<int:enterprise_id>/verification",
    "POST",
    roles=REVIEWERS,
    body=VerificationDecisionIn,
    response=EnterpriseOut,
    errors=[409],
    tags=TAGS,
    summary="Verify an enterprise, or refuse verification with a note",
)
def decide_verification(enterprise_id: int, body: dict[str, Any]) -> Enterprise:
    decision = VerificationStatus(body["decision"])
    return enterprises.decide_verification(
        db_session(), enterprise_id, decision, note=body["note"], actor_id=api_user().id
    )


@endpoint(
    bp,
    "/enterprises/<int:enterprise_id>/blacklist",
    "POST",
    step_up=True,
    roles=REVIEWERS,
    body=BlacklistIn,
    response=EnterpriseOut,
    errors=[409],
    tags=TAGS,
    summary="Put an enterprise on the dishonesty list (reason, source, date)",
)
def blacklist(enterprise_id: int, body: dict[str, Any]) -> Enterprise:
    return enterprises.blacklist_enterprise(
        db_session(),
        enterprise_id,
        reason=body["reason"],
        source=body["source"],
        listed_on=body["listed_on"],
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/enterprises/<int:enterprise_id>/blacklist/removal",
    "POST",
    roles=REVIEWERS,
    body=UnblacklistIn,
    response=EnterpriseOut,
    errors=[409],
    tags=TAGS,
    summary="Take an enterprise off the dishonesty list (with a reason)",
)
def unblacklist(enterprise_id: int, body: dict[str, Any]) -> Enterprise:
    return enterprises.remove_from_blacklist(
        db_session(),
        enterprise_id,
        reason=body["reason"],
        source=body["source"],
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/me/enterprise",
    "GET",
    scope="account:read",
    roles=ENTERPRISE,
    response=EnterpriseDetailOut,
    tags=TAGS,
    summary="Your enterprise's profile, verification and blacklist history",
)
def my_enterprise() -> WithExtras:
    user = api_user()
    return _enterprise_detail(enterprises.get_enterprise(db_session(), user.enterprise_id))


@endpoint(
    bp,
    "/me/enterprise",
    "PUT",
    scope="account:write",
    roles=ENTERPRISE,
    body=EnterpriseProfileIn,
    response=EnterpriseOut,
    errors=[412],
    tags=TAGS,
    summary="Edit your enterprise's contacts and industry (send `version`)",
)
def update_my_enterprise(body: dict[str, Any]) -> Enterprise:
    user = api_user()
    session = db_session()
    current = enterprises.get_enterprise(session, user.enterprise_id)
    return enterprises.update_profile(
        session,
        user.enterprise_id,
        enterprises.ProfileInput(
            contact_name=body["contact_name"],
            contact_phone=body["contact_phone"],
            contact_email=body["contact_email"],
            industry=body["industry"],
            identity=enterprises.IdentityInput(
                legal_rep_name=body.get("legal_rep_name", current.legal_rep_name),
                legal_rep_id_number=body.get("legal_rep_id_number"),
                registered_address=body.get("registered_address", current.registered_address),
                bank_account_number=body.get("bank_account_number", current.bank_account_number),
            ),
        ),
        expected_version=body["version"],
        actor_id=user.id,
    )
