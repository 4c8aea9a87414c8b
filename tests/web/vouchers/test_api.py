"""The voucher JSON API: every endpoint, per role, with object-level checks and idempotency."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.db import utcnow
from marketplace.enums import Role
from vouchers import applications, holds
from vouchers.enums import ApplicationStatus, ProgrammeKind, VerificationStatus, VoucherStatus
from vouchers.models import Application, IssuanceBatch, Programme, Voucher

NOW = utcnow()
YEAR = clock.local_date(NOW).year
API = "/api/v1"


@pytest.fixture
def programme(funded_programme):
    return funded_programme(year=YEAR)


@pytest.fixture
def headers_for(create_user, api_token):
    def factory(role: Role, *, step_up: bool = False, **overrides):
        user = create_user(role, **overrides)
        return user, api_token(user, step_up=step_up)

    return factory


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def _apply_body(programme, **overrides):
    return {
        "programme_id": programme.id,
        "requested_fen": 1_000_000,
        "planned_categories": ["testing"],
        "plan": "检测新产品性能，申请检验检测服务。",
        **overrides,
    }


# --------------------------------------------------------------------------- applications


def test_enterprise_applies_and_sees_only_its_own(client, session, programme, headers_for):
    _user, headers = headers_for(Role.ENTERPRISE)
    _other, other_headers = headers_for(Role.ENTERPRISE)
    response = client.post(f"{API}/applications", json=_apply_body(programme), headers=headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "submitted" and body["requested_fen"] == 1_000_000
    assert [e["action"] for e in body["history"]] == ["submit"]
    app_id = body["id"]
    assert client.get(f"{API}/applications/{app_id}", headers=headers).status_code == 200
    assert client.get(f"{API}/applications/{app_id}", headers=other_headers).status_code == 404
    assert client.get(f"{API}/applications", headers=other_headers).json["items"] == []
    mine = client.get(f"{API}/applications", headers=headers).json["items"]
    assert [a["id"] for a in mine] == [app_id]


@pytest.mark.parametrize("amount", [1.5, 100.0, "100", -1, 0, True, 10**13])
def test_bad_amounts_are_refused_with_amount_invalid_and_nothing_written(
    client, session, programme, headers_for, amount
):
    _user, headers = headers_for(Role.ENTERPRISE)
    response = client.post(
        f"{API}/applications", json=_apply_body(programme, requested_fen=amount), headers=headers
    )
    assert response.status_code == 422
    assert response.json["code"] == "amount_invalid"
    assert _count(session, Application) == 0


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({"blacklisted": True, "blacklist_reason": "失信"}, "enterprise_blacklisted"),
        ({"verification_status": VerificationStatus.PENDING}, "enterprise_unverified"),
        ({"division": "110101"}, "not_eligible"),
    ],
)
def test_ineligible_enterprises_get_specific_codes(
    client, session, programme, headers_for, create_enterprise, setup, code
):
    _user, headers = headers_for(Role.ENTERPRISE, enterprise=create_enterprise(**setup))
    response = client.post(f"{API}/applications", json=_apply_body(programme), headers=headers)
    assert (response.status_code, response.json["code"]) == (409, code)
    assert _count(session, Application) == 0


def test_closed_programme_above_cap_and_above_budget(
    client, session, funded_programme, headers_for
):
    _user, headers = headers_for(Role.ENTERPRISE)
    closed = funded_programme(year=YEAR - 1)
    small = funded_programme(year=YEAR, total_budget_fen=500_000)
    cases = [
        (_apply_body(closed), "programme_closed"),
        (_apply_body(small, requested_fen=3_000_001), "cap_exceeded"),
        (_apply_body(small, requested_fen=600_000), "budget_exceeded"),
    ]
    for body, code in cases:
        response = client.post(f"{API}/applications", json=body, headers=headers)
        assert (response.status_code, response.json["code"]) == (409, code)
    assert (
        client.post(
            f"{API}/applications", json=_apply_body(small, programme_id=999_999), headers=headers
        ).status_code
        == 404
    )
    assert _count(session, Application) == 0


def test_review_flow_over_the_api(client, session, programme, headers_for):
    _user, sme = headers_for(Role.ENTERPRISE)
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    app_id = client.post(f"{API}/applications", json=_apply_body(programme), headers=sme).json["id"]
    asked = client.post(
        f"{API}/applications/{app_id}/clarification-request",
        json={"question": "请说明检测项目"},
        headers=reviewer,
    )
    assert asked.json["status"] == "clarification_requested"
    assert asked.json["clarification_question"] == "请说明检测项目"
    # Only the enterprise answers; reviewers may not.
    assert (
        client.post(
            f"{API}/applications/{app_id}/clarification", json={"response": "x"}, headers=reviewer
        ).status_code
        == 403
    )
    answered = client.post(
        f"{API}/applications/{app_id}/clarification",
        json={"response": "电磁兼容检测"},
        headers=sme,
    )
    assert answered.json["status"] == "submitted"
    no_key = client.post(f"{API}/applications/{app_id}/approve", json={}, headers=reviewer)
    assert no_key.status_code == 428
    approve = {**reviewer, "Idempotency-Key": "approve-1"}
    first = client.post(
        f"{API}/applications/{app_id}/approve", json={"amount_fen": 800_000}, headers=approve
    )
    assert first.status_code == 201
    replay = client.post(
        f"{API}/applications/{app_id}/approve", json={"amount_fen": 800_000}, headers=approve
    )
    assert replay.status_code == 201 and replay.json == first.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _count(session, Voucher) == 1
    detail = client.get(f"{API}/applications/{app_id}", headers=sme).json
    assert detail["status"] == "approved" and detail["approved_fen"] == 800_000
    assert detail["voucher_id"] == first.json["id"]
    assert [e["action"] for e in detail["history"]] == [
        "submit",
        "request_clarification",
        "clarify",
        "approve",
    ]


def test_approval_errors(client, session, programme, headers_for, submit_application):
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    application = submit_application(programme=programme, requested_fen=1_000_000, now=NOW)
    url = f"{API}/applications/{application.id}/approve"
    above = client.post(
        url, json={"amount_fen": 1_000_001}, headers={**reviewer, "Idempotency-Key": "a"}
    )
    assert (above.status_code, above.json["code"]) == (409, "amount_above_request")
    zero = client.post(url, json={"amount_fen": 0}, headers={**reviewer, "Idempotency-Key": "b"})
    assert (zero.status_code, zero.json["code"]) == (422, "amount_invalid")
    assert _count(session, Voucher) == 0
    rejected = client.post(
        f"{API}/applications/{application.id}/reject", json={"reason": "材料不全"}, headers=reviewer
    )
    assert rejected.json["status"] == "rejected"
    again = client.post(url, json={}, headers={**reviewer, "Idempotency-Key": "c"})
    assert (again.status_code, again.json["code"]) == (409, "invalid_transition")


def test_reject_needs_a_reason(client, programme, headers_for, submit_application):
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    application = submit_application(programme=programme, now=NOW)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = client.post(
            f"{API}/applications/{application.id}/reject", json=body, headers=reviewer
        )
        assert response.status_code == 422


def test_enterprises_cannot_review_and_auditors_cannot_write(
    client, programme, headers_for, submit_application
):
    application = submit_application(programme=programme, now=NOW)
    for role in (Role.ENTERPRISE, Role.AUDITOR, Role.FINANCE, Role.PROVIDER):
        _user, headers = headers_for(role)
        response = client.post(
            f"{API}/applications/{application.id}/reject", json={"reason": "x"}, headers=headers
        )
        assert response.status_code == 403, role
    _auditor, auditor = headers_for(Role.AUDITOR)
    assert client.get(f"{API}/applications/{application.id}", headers=auditor).status_code == 200


# --------------------------------------------------------------------------- vouchers and wallet


def test_wallet_and_vouchers(client, session, programme, headers_for, issue_voucher):
    user, headers = headers_for(Role.ENTERPRISE)
    voucher = issue_voucher(user.enterprise, programme, amount_fen=1_200_000, now=NOW)
    holds.place_hold(session, voucher, "o-1", 300_000, 1_000_000, "h-1", NOW)
    wallet = client.get(f"{API}/wallet", headers=headers).json
    assert wallet["year"] == YEAR
    assert (wallet["cap_fen"], wallet["used_fen"], wallet["held_fen"], wallet["remaining_fen"]) == (
        3_000_000,
        0,
        300_000,
        2_700_000,
    )
    assert wallet["balance_fen"] == 900_000
    assert [v["serial"] for v in wallet["vouchers"]] == [voucher.serial]
    detail = client.get(f"{API}/vouchers/{voucher.id}", headers=headers).json
    assert detail["verification_token"] and detail["holds"][0]["amount_fen"] == 300_000
    _other, other = headers_for(Role.ENTERPRISE)
    assert client.get(f"{API}/vouchers/{voucher.id}", headers=other).status_code == 404
    assert client.get(f"{API}/vouchers", headers=other).json["items"] == []
    _auditor, auditor = headers_for(Role.AUDITOR)
    seen = client.get(f"{API}/vouchers/{voucher.id}", headers=auditor).json
    assert seen["verification_token"] is None  # only the owner gets the token
    listed = client.get(
        f"{API}/vouchers?enterprise_id={user.enterprise_id}&status=active", headers=auditor
    ).json
    assert [v["id"] for v in listed["items"]] == [voucher.id]


def test_providers_verify_tokens(client, session, programme, headers_for, issue_voucher):
    user, sme = headers_for(Role.ENTERPRISE)
    voucher = issue_voucher(user.enterprise, programme, amount_fen=700_000, now=NOW)
    token = client.get(f"{API}/vouchers/{voucher.id}", headers=sme).json["verification_token"]
    _provider, provider = headers_for(Role.PROVIDER)
    checked = client.post(f"{API}/vouchers/verify", json={"token": token}, headers=provider)
    assert checked.status_code == 200
    assert checked.json["genuine"] is True and checked.json["serial"] == voucher.serial
    assert checked.json["usable"] is True and checked.json["can_cover_fen"] == 700_000
    assert checked.json["ceiling_bps"] == 5_000
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = client.post(f"{API}/vouchers/verify", json={"token": forged}, headers=provider)
    assert (refused.status_code, refused.json["code"]) == (404, "voucher_token_invalid")
    assert (
        client.post(f"{API}/vouchers/verify", json={"token": token}, headers=sme).status_code == 403
    )


def test_providers_verify_by_serial(client, session, programme, headers_for, issue_voucher):
    user, _sme = headers_for(Role.ENTERPRISE)
    voucher = issue_voucher(user.enterprise, programme, amount_fen=700_000, now=NOW)
    _provider, provider = headers_for(Role.PROVIDER)
    typed = {"serial": voucher.serial.lower()}
    checked = client.post(f"{API}/vouchers/verify", json=typed, headers=provider)
    assert checked.status_code == 200 and checked.json["serial"] == voucher.serial
    assert checked.json["can_cover_fen"] == 700_000
    missing = client.post(f"{API}/vouchers/verify", json={"serial": "IV2099X"}, headers=provider)
    assert (missing.status_code, missing.json["code"]) == (404, "voucher_token_invalid")
    for body in ({}, {"serial": voucher.serial, "token": "x.y"}):
        refused = client.post(f"{API}/vouchers/verify", json=body, headers=provider)
        assert refused.status_code == 422, body


def test_revoke_over_the_api_is_idempotent(client, session, programme, headers_for, issue_voucher):
    voucher = issue_voucher(programme=programme, now=NOW)
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    url = f"{API}/vouchers/{voucher.id}/revoke"
    assert client.post(url, json={"reason": "欺诈"}, headers=reviewer).status_code == 428
    keyed = {**reviewer, "Idempotency-Key": "revoke-1"}
    first = client.post(url, json={"reason": "欺诈"}, headers=keyed)
    assert first.status_code == 200 and first.json["status"] == "revoked"
    assert client.post(url, json={"reason": "欺诈"}, headers=keyed).json == first.json
    other = client.post(url, json={"reason": "欺诈"}, headers={**reviewer, "Idempotency-Key": "2"})
    assert (other.status_code, other.json["code"]) == (409, "invalid_transition")
    session.expire_all()
    assert session.get(Voucher, voucher.id).status is VoucherStatus.REVOKED


def test_revoked_voucher_shows_its_recovery_flag_to_administrators(
    client, session, programme, headers_for, issue_voucher, create_provider
):
    user, sme = headers_for(Role.ENTERPRISE)
    voucher = issue_voucher(user.enterprise, programme, amount_fen=1_000_000, now=NOW)
    spent = holds.place_hold(session, voucher, "o-1", 200_000, 400_000, "h-1", NOW)
    holds.capture_hold(session, spent, "c-1", NOW, provider_id=create_provider().id)
    _auditor, auditor = headers_for(Role.AUDITOR)
    url = f"{API}/vouchers/{voucher.id}"
    assert client.get(url, headers=auditor).json["recovery"] is None
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    revoked = client.post(
        f"{url}/revoke", json={"reason": "虚构交易"}, headers={**reviewer, "Idempotency-Key": "r"}
    )
    assert revoked.status_code == 200, revoked.json
    recovery = client.get(url, headers=auditor).json["recovery"]
    assert (recovery["amount_fen"], recovery["reason"]) == (200_000, "虚构交易")
    assert recovery["actor_id"] == _reviewer.id and recovery["created_at"]
    assert client.get(url, headers=sme).json["recovery"] is None  # as on the SME's page


def test_voucher_list_finds_part_of_a_serial(client, programme, headers_for, issue_voucher):
    """The voucher list's serial search box: part of a serial, any letter case."""
    first = issue_voucher(programme=programme, now=NOW)
    second = issue_voucher(programme=programme, now=NOW)
    _auditor, auditor = headers_for(Role.AUDITOR)
    body = second.serial.split("-")[1]
    assert body not in first.serial
    found = client.get(
        f"{API}/vouchers", query_string={"serial": f" {body.lower()} "}, headers=auditor
    )
    assert [v["id"] for v in found.json["items"]] == [second.id]
    prefix = client.get(f"{API}/vouchers", query_string={"serial": "-"}, headers=auditor).json
    assert [v["id"] for v in prefix["items"]] == [second.id, first.id]
    wildcard = client.get(f"{API}/vouchers", query_string={"serial": "%"}, headers=auditor).json
    assert wildcard["items"] == []  # LIKE wildcards match only themselves
    for bad in ("", "x" * 41, "CX\x00"):
        refused = client.get(f"{API}/vouchers", query_string={"serial": bad}, headers=auditor)
        assert refused.status_code == 422 and "serial" in refused.json["errors"]


def test_applications_of_one_enterprise(client, programme, headers_for, submit_application):
    _user, sme = headers_for(Role.ENTERPRISE)
    mine = submit_application(_user.enterprise, programme, now=NOW)
    other = submit_application(programme=programme, now=NOW)
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    listed = client.get(f"{API}/applications?enterprise_id={other.enterprise_id}", headers=reviewer)
    assert [a["id"] for a in listed.json["items"]] == [other.id]
    # An enterprise sees only its own, whatever it asks for.
    asked = client.get(f"{API}/applications?enterprise_id={other.enterprise_id}", headers=sme)
    assert [a["id"] for a in asked.json["items"]] == [mine.id]
    bad = client.get(f"{API}/applications?enterprise_id=0", headers=reviewer)
    assert bad.status_code == 422 and "enterprise_id" in bad.json["errors"]


# --------------------------------------------------------------------------- programmes


def _programme_body(**overrides):
    body = {
        "kind": "service",
        "year": YEAR,
        "name": "测试服务券",
        "funding_body": "municipal",
        "total_budget_fen": 50_000_000,
        "eligible_categories": ["consulting"],
        "eligible_size_classes": ["small", "micro"],
        "region_prefix": "5301",
        "applications_open_on": f"{YEAR}-01-01",
        "applications_close_on": f"{YEAR}-12-31",
        "use_by": f"{YEAR}-12-31",
        "claim_deadline": f"{YEAR + 1}-03-31",
    }
    body.update(overrides)
    return body


def test_programmes_are_managed_by_sysadmins(client, session, headers_for):
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    assert (
        client.post(f"{API}/programmes", json=_programme_body(), headers=reviewer).status_code
        == 403
    )
    _admin, admin = headers_for(Role.SYSADMIN)
    created = client.post(f"{API}/programmes", json=_programme_body(), headers=admin)
    assert created.status_code == 201
    body = created.json
    assert (body["ceiling_bps"], body["annual_cap_fen"], body["version"]) == (5_000, 3_000_000, 1)
    duplicate = client.post(f"{API}/programmes", json=_programme_body(), headers=admin)
    assert (duplicate.status_code, duplicate.json["code"]) == (409, "programme_exists")
    out_of_order = client.post(
        f"{API}/programmes",
        json=_programme_body(kind="innovation", claim_deadline=f"{YEAR}-01-31"),
        headers=admin,
    )
    assert (out_of_order.status_code, out_of_order.json["code"]) == (409, "dates_out_of_order")
    url = f"{API}/programmes/{body['id']}"
    update = {**_programme_body(name="改名"), "version": 1, "total_budget_fen": 60_000_000}
    updated = client.put(url, json=update, headers=admin)
    assert updated.status_code == 200 and updated.json["version"] == 2
    stale = client.put(url, json=update, headers=admin)
    assert (stale.status_code, stale.json["code"]) == (412, "precondition_failed")
    budget = client.get(f"{url}/budget", headers=admin).json
    assert budget["total_fen"] == 60_000_000 and budget["available_fen"] == 60_000_000
    _sme, sme = headers_for(Role.ENTERPRISE)
    listed = client.get(f"{API}/programmes?open_on={YEAR}-06-01", headers=sme).json["items"]
    assert [p["id"] for p in listed] == [body["id"]]
    assert client.get(f"{API}/budgets", headers=sme).status_code == 403


def test_budgets_flag_low_budget(client, funded_programme, headers_for, issue_voucher):
    programme = funded_programme(year=YEAR, total_budget_fen=1_000_000, low_budget_alert_bps=1_000)
    issue_voucher(programme=programme, amount_fen=950_000, now=NOW)
    _finance, finance = headers_for(Role.FINANCE)
    (budget,) = [
        b
        for b in client.get(f"{API}/budgets", headers=finance).json
        if b["programme_id"] == programme.id
    ]
    assert budget["low"] is True and budget["available_fen"] == 50_000
    assert budget["committed_fen"] == 950_000 and budget["available_bps"] == 500


def test_bulk_issuance_over_the_api(client, session, programme, headers_for, create_enterprise):
    target = create_enterprise()
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    rows = [
        {"credit_code": target.credit_code, "amount_fen": 500_000},
        {"credit_code": target.credit_code.lower(), "amount_fen": 1.5},
        {"credit_code": "91530102MA6T0000X0", "amount_fen": 100},
    ]
    headers = {**reviewer, "Idempotency-Key": "bulk-1"}
    url = f"{API}/programmes/{programme.id}/bulk-issuances"
    response = client.post(url, json={"rows": rows}, headers=headers)
    assert response.status_code == 201
    body = response.json
    assert (body["issued_count"], body["refused_count"], body["replayed"]) == (1, 2, False)
    assert [r["code"] for r in body["rows"]] == [None, "duplicate_row", "credit_code_invalid"]
    again = client.post(url, json={"rows": rows}, headers={**reviewer, "Idempotency-Key": "bulk-2"})
    assert again.status_code == 200 and again.json["replayed"] is True
    assert _count(session, Voucher) == 1 and _count(session, IssuanceBatch) == 1
    report = client.get(f"{API}/issuance-batches/{body['id']}", headers=reviewer)
    assert report.json["rows"] == body["rows"]


def test_bulk_issuances_of_a_programme_are_listed(
    client, programme, funded_programme, headers_for, create_enterprise
):
    """The programme page's list of its bulk issuances, newest first, paged by cursor."""
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    url = f"{API}/programmes/{programme.id}/bulk-issuances"
    made = []
    for n in range(3):
        rows = [{"credit_code": create_enterprise().credit_code, "amount_fen": 100_000}]
        made.append(
            client.post(
                url,
                json={"rows": rows, "filename": f"第{n}批.csv"},
                headers={**reviewer, "Idempotency-Key": f"list-{n}"},
            ).json
        )
    elsewhere = funded_programme(year=YEAR, kind=ProgrammeKind.SERVICE, name="另一券种")
    client.post(
        f"{API}/programmes/{elsewhere.id}/bulk-issuances",
        json={"rows": [{"credit_code": create_enterprise().credit_code, "amount_fen": 100_000}]},
        headers={**reviewer, "Idempotency-Key": "list-elsewhere"},
    )
    _auditor, auditor = headers_for(Role.AUDITOR)
    first = client.get(f"{url}?limit=2", headers=auditor)
    assert first.status_code == 200, first.json
    assert [b["id"] for b in first.json["items"]] == [made[2]["id"], made[1]["id"]]
    item = first.json["items"][0]
    assert (item["filename"], item["issued_count"], item["issued_fen"]) == ("第2批.csv", 1, 100_000)
    assert "rows" not in item  # the per-row report is /issuance-batches/{id}
    rest = client.get(f"{url}?cursor={first.json['next_cursor']}", headers=auditor).json
    assert [b["id"] for b in rest["items"]] == [made[0]["id"]] and rest["next_cursor"] is None
    _sme, sme = headers_for(Role.ENTERPRISE)
    assert client.get(url, headers=sme).status_code == 403
    assert client.get(f"{API}/programmes/999999/bulk-issuances", headers=auditor).status_code == 404
    assert client.get(f"{url}?limit=0", headers=auditor).status_code == 422


# --------------------------------------------------------------------------- enterprises


def test_enterprise_verification_and_blacklist(client, session, headers_for, create_enterprise):
    pending = create_enterprise(verification_status=VerificationStatus.PENDING)
    _reviewer, reviewer = headers_for(Role.REVIEWER, step_up=True)
    queue = client.get(f"{API}/enterprises?verification_status=pending", headers=reviewer).json
    assert pending.id in [e["id"] for e in queue["items"]]
    verified = client.post(
        f"{API}/enterprises/{pending.id}/verification",
        json={"decision": "verified", "note": "材料齐全"},
        headers=reviewer,
    )
    assert verified.json["verification_status"] == "verified"
    twice = client.post(
        f"{API}/enterprises/{pending.id}/verification",
        json={"decision": "verified", "note": "again"},
        headers=reviewer,
    )
    assert (twice.status_code, twice.json["code"]) == (409, "invalid_transition")
    listed = client.post(
        f"{API}/enterprises/{pending.id}/blacklist",
        json={"reason": "失信被执行人", "source": "最高人民法院", "listed_on": f"{YEAR}-01-02"},
        headers=reviewer,
    )
    assert listed.json["blacklisted"] is True
    future = client.post(
        f"{API}/enterprises/{pending.id}/blacklist/removal",
        json={"reason": "已履行"},
        headers=reviewer,
    )
    assert future.json["blacklisted"] is False
    detail = client.get(f"{API}/enterprises/{pending.id}", headers=reviewer).json
    assert [e["to_status"] for e in detail["verification_history"]] == ["verified"]
    assert [e["action"] for e in detail["blacklist_history"]] == ["added", "removed"]
    _sme, sme = headers_for(Role.ENTERPRISE)
    assert client.get(f"{API}/enterprises/{pending.id}", headers=sme).status_code == 403


def test_listing_date_in_the_future_is_refused(client, headers_for, create_enterprise):
    enterprise = create_enterprise()
    _reviewer, reviewer = headers_for(Role.REVIEWER, step_up=True)
    response = client.post(
        f"{API}/enterprises/{enterprise.id}/blacklist",
        json={"reason": "x", "source": "y", "listed_on": f"{YEAR + 1}-01-01"},
        headers=reviewer,
    )
    assert (response.status_code, response.json["code"]) == (409, "date_in_future")


def test_my_enterprise_profile(client, session, headers_for):
    user, headers = headers_for(Role.ENTERPRISE)
    mine = client.get(f"{API}/me/enterprise", headers=headers).json
    assert mine["id"] == user.enterprise_id and mine["region_name"].startswith("云南省")
    body = {
        "contact_name": "王五",
        "contact_phone": "13900000000",
        "contact_email": "wang@example.cn",
        "industry": None,
        "version": mine["version"],
    }
    assert client.put(f"{API}/me/enterprise", json=body, headers=headers).json["version"] == 2
    assert client.put(f"{API}/me/enterprise", json=body, headers=headers).status_code == 412


def test_ledger_verify_endpoint(client, programme, headers_for, issue_voucher):
    issue_voucher(programme=programme, now=NOW)
    _auditor, auditor = headers_for(Role.AUDITOR)
    report = client.get(f"{API}/ledger/verify", headers=auditor).json
    assert report["ok"] is True and report["breach_count"] == 0
    assert {c["name"] for c in report["checks"]} >= {
        "transactions_balanced",
        "no_negative_balance",
        "caps_respected",
        "spent_within_budget",
        "holds_resolved_once",
    }


def test_apply_then_approve_by_service_is_visible_over_the_api(
    client, session, programme, headers_for
):
    user, headers = headers_for(Role.ENTERPRISE)
    application = applications.apply(
        session,
        user.enterprise_id,
        programme.id,
        applications.ApplicationInput(100_000, ["ip"], "申请专利代理服务，保护新产品。"),
        actor_id=user.id,
        now=NOW,
    )
    applications.approve(session, application.id, actor_id=None, now=NOW)
    items = client.get(f"{API}/applications?status=approved", headers=headers).json["items"]
    assert [a["status"] for a in items] == [ApplicationStatus.APPROVED.value]
    assert session.get(Programme, programme.id) is not None


def test_text_the_database_cannot_store_is_refused_as_input(
    client, session, programme, headers_for, submit_application
):
    application = submit_application(programme=programme, now=NOW)
    _reviewer, reviewer = headers_for(Role.REVIEWER)
    for reason in ("bad\x00reason", "lone \ud800 surrogate"):
        response = client.post(
            f"{API}/applications/{application.id}/reject", json={"reason": reason}, headers=reviewer
        )
        assert (response.status_code, response.json["code"]) == (422, "validation_failed")
        assert set(response.json["errors"]) == {"reason"}
    session.expire_all()
    assert session.get(Application, application.id).status is ApplicationStatus.SUBMITTED
