"""Risk flags, scores, samples and findings (tag ``risk``), and the related-party evidence.

Every administrator reads; auditors draw samples and record findings; auditors and system
administrators change the rules' settings; anyone reading may ask for a fresh assessment.
"""

from __future__ import annotations

from typing import Any

from marketplace.api import bp
from marketplace.api.endpoint import api_user, endpoint
from marketplace.api.orders import order_files, upload_of
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import NotFound
from marketplace.pagination import Page, paginate
from marketplace.parties.enums import PartyKind
from marketplace.parties.services import matches_of
from marketplace.risk import services
from marketplace.risk.enums import Rule
from marketplace.risk.models import Finding, OrderRisk, RiskFlag
from marketplace.risk.schemas import (
    AssessmentOut,
    ClaimRiskOut,
    FindingIn,
    FindingOut,
    FindingQuery,
    FlagOut,
    FlagQuery,
    OrderRiskOut,
    PartyMatchOut,
    SampleIn,
    SampleOut,
    SettingIn,
    SettingOut,
    setting_rows,
)

TAGS = ["risk"]
AUDITORS = frozenset({Role.AUDITOR})
RULE_KEEPERS = frozenset({Role.AUDITOR, Role.SYSADMIN})


@endpoint(
    bp,
    "/risk/flags",
    "GET",
    roles=ADMIN_ROLES,
    query=FlagQuery,
    response=FlagOut,
    paginated=True,
    tags=TAGS,
    summary="Risk flags as last assessed, newest first, filtered like the risk page",
)
def list_flags(query: dict[str, Any]) -> Page:
    stmt = services.flags_query(
        services.FlagQuery(
            rule=query["rule"],
            programme_id=query["programme_id"],
            provider_id=query["provider_id"],
            min_score=query["min_score"],
            order_id=query["order_id"],
        )
    )
    return paginate(
        db_session(),
        stmt,
        sort_column=RiskFlag.id,
        id_column=RiskFlag.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/risk/orders/<int:order_id>",
    "GET",
    roles=ADMIN_ROLES,
    response=OrderRiskOut,
    tags=TAGS,
    summary="An order's risk score and flags, each with its explanation and linked records",
    errors=[404],
)
def get_order_risk(order_id: int) -> OrderRisk:
    risk = services.order_risk(db_session(), order_id)
    if risk is None:
        raise NotFound("该订单尚未评估 / the order has not been assessed")
    return risk


@endpoint(
    bp,
    "/risk/claims/<int:claim_id>",
    "GET",
    roles=ADMIN_ROLES,
    response=ClaimRiskOut,
    tags=TAGS,
    summary="A claim's risk score (its riskiest order's) and each of its orders' scores",
    errors=[404],
)
def get_claim_risk(claim_id: int) -> dict[str, Any]:
    return services.claim_risk(db_session(), claim_id)


@endpoint(
    bp,
    "/risk/assessments",
    "POST",
    roles=ADMIN_ROLES,
    response=AssessmentOut,
    status=201,
    tags=TAGS,
    summary="Assess every agreed order now (flags and scores are replaced)",
)
def assess() -> services.AssessmentReport:
    return services.assess(db_session())


@endpoint(
    bp,
    "/risk/settings",
    "GET",
    roles=ADMIN_ROLES,
    response=SettingOut,
    many=True,
    tags=TAGS,
    summary="Every rule's threshold (with its unit) and weight",
)
def list_settings() -> list[dict[str, Any]]:
    return setting_rows(services.settings(db_session()))


@endpoint(
    bp,
    "/risk/settings/<rule>",
    "PUT",
    roles=RULE_KEEPERS,
    body=SettingIn,
    response=SettingOut,
    tags=TAGS,
    summary="Change a rule's threshold and weight (used from the next assessment)",
    errors=[404],
)
def put_setting(rule: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        which = Rule(rule)
    except ValueError:
        raise NotFound("没有该规则 / no such rule") from None
    session = db_session()
    services.change_setting(session, which, actor_id=api_user().id, **body)
    return next(r for r in setting_rows(services.settings(session)) if r["rule"] is which)


@endpoint(
    bp,
    "/risk/samples",
    "GET",
    roles=ADMIN_ROLES,
    response=SampleOut,
    many=True,
    tags=TAGS,
    summary="Audit samples drawn, newest first (with their items and findings)",
)
def list_samples() -> list[Any]:
    return services.samples(db_session())


@endpoint(
    bp,
    "/risk/samples",
    "POST",
    roles=AUDITORS,
    body=SampleIn,
    response=SampleOut,
    status=201,
    tags=TAGS,
    summary="Draw a sample of orders weighted by risk (assesses first; seed recorded)",
    errors=[409],
)
def draw_sample(body: dict[str, Any]) -> Any:
    return services.draw_sample(
        db_session(), services.SampleRequest(**body), actor_id=api_user().id
    )


@endpoint(
    bp,
    "/risk/samples/<int:sample_id>",
    "GET",
    roles=ADMIN_ROLES,
    response=SampleOut,
    tags=TAGS,
    summary="One sample with its items and findings",
    errors=[404],
)
def get_sample(sample_id: int) -> Any:
    return services.get_sample(db_session(), sample_id)


@endpoint(
    bp,
    "/risk/samples/<int:sample_id>/items/<int:item_id>/finding",
    "POST",
    roles=AUDITORS,
    body=FindingIn,
    response=FindingOut,
    status=201,
    tags=TAGS,
    summary="Record the finding on one sampled order (documents as base64)",
    description=(
        "An irregular finding lowers the provider's credit score; follow_up `blacklist` lists "
        "the enterprise on the dishonesty list, `recovery` flags the order's voucher money "
        "for recovery by finance."
    ),
    errors=[404, 409],
)
def record_finding(sample_id: int, item_id: int, body: dict[str, Any]) -> Finding:
    session = db_session()
    sample = services.get_sample(session, sample_id)
    if item_id not in {i.id for i in sample.items}:
        raise NotFound("没有该抽样项 / no such sampled order")
    return services.record_finding(
        session,
        item_id,
        services.FindingInput(
            outcome=body["outcome"],
            notes=body["notes"],
            follow_up=body["follow_up"],
            documents=tuple(upload_of(d) for d in body["documents"]),
        ),
        storage=order_files(),
        actor_id=api_user().id,
    )


@endpoint(
    bp,
    "/risk/findings",
    "GET",
    roles=ADMIN_ROLES,
    query=FindingQuery,
    response=FindingOut,
    paginated=True,
    tags=TAGS,
    summary="Findings, newest first, by outcome and provider",
)
def list_findings(query: dict[str, Any]) -> Page:
    stmt = services.findings_query(outcome=query["outcome"], provider_id=query["provider_id"])
    return paginate(
        db_session(),
        stmt.order_by(None),
        sort_column=Finding.id,
        id_column=Finding.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/risk/parties/<party_kind>/<int:party_id>",
    "GET",
    roles=ADMIN_ROLES,
    response=PartyMatchOut,
    many=True,
    tags=TAGS,
    summary="Organisations sharing a legal representative, bank account, phone, address or "
    "e-mail domain with this enterprise or provider (the evidence, masked)",
    errors=[404],
)
def party_matches(party_kind: str, party_id: int) -> list[dict[str, Any]]:
    try:
        kind = PartyKind(party_kind)
    except ValueError:
        raise NotFound("enterprise or provider / 企业或服务机构") from None
    return [
        {
            "party_kind": m.party_kind.value,
            "party_id": m.party_id,
            "kind": m.kind.value,
            "strong": m.is_strong,
            "evidence": m.evidence,
        }
        for m in matches_of(db_session(), kind, party_id)
    ]
