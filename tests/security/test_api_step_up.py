"""Step-up on the API: the operations that need a fresh second factor on the pages (approving
claims for payment, building, sending and confirming payout batches, deciding bank-account
changes, blacklisting, revealing personal data) need the caller's current code in the
``X-Second-Factor`` header through the API too; without it, or with a wrong or replayed
code, the answer is 403 problem+json ``step_up_required``."""

from __future__ import annotations

import re

import pytest

from marketplace.api.endpoint import REGISTRY, STEP_UP_HEADER
from marketplace.enums import Role
from tests.support.fixtures import second_factor_code

_PARAM = re.compile(r"<(?:\w+:)?\w+>")

#: The API operations behind each page that needs a fresh second factor.
STEP_UP_OPERATIONS = {
    "POST /api/v1/claims/<int:claim_id>/finance/approve",
    "POST /api/v1/claims/<int:claim_id>/finance/return",
    "POST /api/v1/claims/<int:claim_id>/finance/reject",
    "POST /api/v1/payout-batches",
    "POST /api/v1/payout-batches/<int:batch_id>/sent",
    "POST /api/v1/payout-batches/<int:batch_id>/confirmation",
    "POST /api/v1/payout-batches/<int:batch_id>/confirmation-csv",
    "POST /api/v1/admin/bank-changes/<int:change_id>/approve",
    "POST /api/v1/admin/bank-changes/<int:change_id>/reject",
    "POST /api/v1/enterprises/<int:enterprise_id>/blacklist",
    "POST /api/v1/personal-data/reveal",
}


def _step_up_specs():
    return [spec for spec in REGISTRY if spec.step_up]


def test_the_money_operations_and_reveals_need_the_step_up():
    assert {f"{s.method} {s.rule}" for s in _step_up_specs()} == STEP_UP_OPERATIONS


@pytest.mark.parametrize("wrong", [None, "", "000000"])
def test_without_a_valid_code_every_step_up_operation_is_refused(
    client, create_user, api_token, wrong
):
    for spec in _step_up_specs():
        # one person per operation: wrong codes from one would soon meet the account throttle
        user = create_user(sorted(spec.roles, key=lambda r: r.value)[0])
        headers = {**api_token(user), "Idempotency-Key": f"k-{spec.endpoint}-{wrong}"}
        if wrong is not None:
            headers[STEP_UP_HEADER] = wrong
        url = _PARAM.sub("1", spec.rule)
        response = client.open(url, method=spec.method, json={}, headers=headers)
        assert response.status_code == 403, (spec.rule, response.status_code)
        assert response.content_type == "application/problem+json"
        assert response.get_json()["code"] == "step_up_required", spec.rule


def test_openapi_documents_the_header(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for spec in _step_up_specs():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", spec.rule)
        op = paths[path][spec.method.lower()]
        assert op["x-step-up"] is True
        [header] = [p for p in op["parameters"] if p.get("name") == STEP_UP_HEADER]
        assert header["required"] is True and "step_up_required" in op["description"]


def _blacklist(client, headers, enterprise_id):
    return client.post(
        f"/api/v1/enterprises/{enterprise_id}/blacklist",
        json={"reason": "失信被执行人", "source": "最高人民法院", "listed_on": "2020-01-02"},
        headers=headers,
    )


def test_a_current_code_works_once(client, session, create_user, create_enterprise, api_token):
    reviewer = create_user(Role.REVIEWER)
    headers = api_token(reviewer)
    first, second = create_enterprise(), create_enterprise()
    code = second_factor_code(session, reviewer)
    done = _blacklist(client, {**headers, STEP_UP_HEADER: code}, first.id)
    assert done.status_code == 200 and done.get_json()["blacklisted"] is True
    replayed = _blacklist(client, {**headers, STEP_UP_HEADER: code}, second.id)
    assert (replayed.status_code, replayed.get_json()["code"]) == (403, "step_up_required")
    session.refresh(second)
    assert not second.blacklisted
    fresh = _blacklist(
        client, {**headers, STEP_UP_HEADER: second_factor_code(session, reviewer)}, second.id
    )
    assert fresh.status_code == 200


def test_an_account_without_a_second_factor_cannot_step_up(
    client, create_user, create_enterprise, api_token
):
    reviewer = create_user(Role.REVIEWER, second_factor=False)
    refused = _blacklist(
        client, {**api_token(reviewer), STEP_UP_HEADER: "123456"}, create_enterprise().id
    )
    assert (refused.status_code, refused.get_json()["code"]) == (403, "step_up_required")


def test_wrong_codes_count_as_failed_sign_ins(make_app, create_user, create_enterprise, session):
    from marketplace.auth.services import create_api_token

    app = make_app()
    client = app.test_client()
    reviewer = create_user(Role.REVIEWER)
    _t, plain = create_api_token(session, reviewer, name="t")
    headers = {"Authorization": f"Bearer {plain}", STEP_UP_HEADER: "000000"}
    enterprise = create_enterprise()
    answers = [_blacklist(client, headers, enterprise.id) for _ in range(12)]
    codes = [(a.status_code, a.get_json()["code"]) for a in answers]
    assert (403, "step_up_required") in codes
    assert codes[-1] == (429, "too_many_attempts")  # the account's throttle took over
