"""The JSON API's shared conventions: problem+json, tokens, Idempotency-Key, cursors, OpenAPI."""

import re

import sqlalchemy as sa

from marketplace.enums import Role
from marketplace.problems import PROBLEM_MEDIA_TYPE
from tests.support.fixtures import PASSWORD, second_factor_code, unique_credit_code, unique_email
from vouchers.models import Enterprise


def _registration(**overrides):
    body = {
        "name": "昆明接口测试有限公司",
        "credit_code": unique_credit_code(),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": unique_email("api"),
        "password": "a-strong-password",
        "size_class": "small",
    }
    body.update(overrides)
    return body


def _enterprises(session):
    return session.scalar(sa.select(sa.func.count()).select_from(Enterprise))


def _assert_problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith(code) and body["title"] and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_unknown_route_is_problem_json(client):
    _assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_problem_json_with_allow(client):
    response = client.put("/api/v1/me")
    _assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_missing_invalid_and_wrong_scheme_tokens(client):
    _assert_problem(client.get("/api/v1/me"), 401, "unauthenticated")
    _assert_problem(
        client.get("/api/v1/me", headers={"Authorization": "Bearer vm_nope"}), 401, "invalid_token"
    )
    _assert_problem(
        client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401, "unauthenticated"
    )


def test_session_cookies_do_not_authenticate_the_api(client, auth, create_user):
    auth.login(create_user())
    _assert_problem(client.get("/api/v1/me"), 401, "unauthenticated")


def test_token_flow(client, create_user, session):
    user = create_user(Role.FINANCE)
    created = client.post(
        "/api/v1/auth/tokens",
        json={
            "email": user.email,
            "password": PASSWORD,
            "code": second_factor_code(session, user),
            "name": "erp",
            "days": 7,
        },
    )
    assert created.status_code == 201
    token = created.get_json()
    assert token["role"] == "finance" and token["token"].startswith("vm_")
    headers = {"Authorization": f"Bearer {token['token']}"}
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["email"] == user.email and me["role"] == "finance"
    assert client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=headers).status_code == 200
    _assert_problem(client.get("/api/v1/me", headers=headers), 401, "invalid_token")


def test_wrong_password_for_token(client, create_user):
    user = create_user()
    response = client.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": "nope-nope-nope", "name": "x"}
    )
    _assert_problem(response, 401, "invalid_credentials")


def test_unknown_fields_and_bad_types_are_field_level_errors(client, session):
    body = _registration(size_class="enormous", colour="red")
    problem = _assert_problem(
        client.post("/api/v1/registrations/enterprise", json=body), 422, "validation_failed"
    )
    assert set(problem["errors"]) == {"size_class", "colour"}
    assert _enterprises(session) == 0


def test_invalid_credit_code_names_the_rule(client):
    body = _registration(credit_code="91530102MA6K00014B")
    problem = _assert_problem(
        client.post("/api/v1/registrations/enterprise", json=body), 422, "validation_failed"
    )
    assert "第18位校验码错误" in problem["errors"]["credit_code"][0]


def test_unknown_query_parameters_are_refused(client, api_token, create_user):
    headers = api_token(create_user())
    problem = _assert_problem(
        client.get("/api/v1/me?debug=1", headers=headers), 422, "validation_failed"
    )
    assert "debug" in problem["errors"]


def test_non_json_and_malformed_bodies(client):
    _assert_problem(
        client.post("/api/v1/registrations/enterprise", data="x=1"), 415, "unsupported_media_type"
    )
    _assert_problem(
        client.post("/api/v1/registrations/enterprise", data="{", content_type="application/json"),
        400,
        "malformed_json",
    )


def test_domain_errors_keep_their_code(client, session, create_enterprise):
    existing = create_enterprise()
    response = client.post(
        "/api/v1/registrations/enterprise", json=_registration(credit_code=existing.credit_code)
    )
    problem = _assert_problem(response, 409, "duplicate_registration")
    assert "credit_code" in problem["errors"]


def test_idempotency_key_replays_without_a_second_effect(client, session):
    body = _registration()
    headers = {"Idempotency-Key": "reg-123"}
    first = client.post("/api/v1/registrations/enterprise", json=body, headers=headers)
    second = client.post("/api/v1/registrations/enterprise", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    assert _enterprises(session) == 1


def test_idempotency_key_with_a_different_body_is_refused(client, session):
    headers = {"Idempotency-Key": "reg-456"}
    assert (
        client.post(
            "/api/v1/registrations/enterprise", json=_registration(), headers=headers
        ).status_code
        == 202
    )
    response = client.post(
        "/api/v1/registrations/enterprise", json=_registration(), headers=headers
    )
    _assert_problem(response, 422, "idempotency_key_reused")
    assert _enterprises(session) == 1


def test_validation_errors_are_not_stored_against_the_key(client, session):
    headers = {"Idempotency-Key": "reg-789"}
    bad = client.post(
        "/api/v1/registrations/enterprise", json=_registration(password="x"), headers=headers
    )
    assert bad.status_code == 422
    good = client.post("/api/v1/registrations/enterprise", json=_registration(), headers=headers)
    assert good.status_code == 202 and "Idempotent-Replayed" not in good.headers


def test_invalid_idempotency_key(client):
    response = client.post(
        "/api/v1/registrations/enterprise",
        json=_registration(),
        headers={"Idempotency-Key": "x" * 201},
    )
    _assert_problem(response, 400, "idempotency_key_invalid")


def test_cursor_pagination(client, session, api_token, create_user):
    user = create_user()
    headers = api_token(user)
    for n in range(4):
        client.post(
            "/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD, "name": f"t{n}"}
        )
    seen, cursor = [], None
    for _ in range(5):
        url = "/api/v1/auth/tokens?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).get_json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)  # newest first, no repeats
    _assert_problem(
        client.get("/api/v1/auth/tokens?cursor=garbage", headers=headers), 422, "validation_failed"
    )
    _assert_problem(
        client.get("/api/v1/auth/tokens?limit=1000", headers=headers), 422, "validation_failed"
    )


def test_rate_limit_headers(make_app, create_user, api_token):
    app = make_app(RATELIMIT_ENABLED=True)
    headers = api_token(create_user())
    response = app.test_client().get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert "X-RateLimit-Remaining" in response.headers


def test_openapi_document_describes_every_endpoint(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    api_rules = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and rule.endpoint.startswith("api.")
        and rule.endpoint not in {"api.openapi_json", "api.docs", "api.docs_assets"}
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert api_rules <= described
    problem = document["components"]["schemas"]["Problem"]
    assert {"code", "status", "title"} <= set(problem["required"])


def test_interactive_docs_are_served_locally(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in page and "https://" not in page
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200
