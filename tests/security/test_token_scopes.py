"""Scoped API tokens: every operation needs one scope, documented in the OpenAPI document as
``x-required-scope``; a token without it gets 403 problem+json ``insufficient_scope``; tokens
made before scopes existed (no scopes stored) keep their user's full power until rotated.

The walk covers every operation the OpenAPI document lists, so a new route cannot escape."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace.api.endpoint import REGISTRY
from marketplace.api.scopes import required_scope
from marketplace.auth.models import ApiToken
from marketplace.auth.scopes import ALL_SCOPES, AREAS, grants
from marketplace.auth.services import create_api_token
from marketplace.enums import Role
from tests.support.fixtures import PASSWORD, second_factor_code

_PARAM = re.compile(r"\{(\w+)\}")


def _operations(client) -> list[tuple[str, str, dict]]:
    document = client.get("/api/v1/openapi.json").get_json()
    return [
        (method.upper(), path, op)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    ]


def _roles() -> dict[str, frozenset[Role] | None]:
    return {spec.endpoint.replace(".", "_"): spec.roles for spec in REGISTRY}


def _lacking(needed: str) -> list[str]:
    """Every scope but the one needed and any that would include it."""
    return [s for s in ALL_SCOPES if not grants([s], needed)]


def test_every_operation_with_a_token_documents_its_scope(client):
    roles = _roles()
    operations = _operations(client)
    assert len(operations) == len(REGISTRY)
    for method, path, op in operations:
        if roles[op["operationId"]] is None:
            assert op["security"] == [] and "x-required-scope" not in op, (method, path)
            continue
        assert op["x-required-scope"] in ALL_SCOPES, (method, path)
        assert f"Token scope: `{op['x-required-scope']}`" in op["description"]
        if method == "GET":
            assert op["x-required-scope"].endswith(":read"), (method, path)
    scheme = client.get("/api/v1/openapi.json").get_json()["components"]["securitySchemes"]
    assert all(f"`{area}:write`" in scheme["bearerAuth"]["description"] for area in AREAS)


def test_a_token_without_the_scope_is_refused_on_every_operation(client, session, create_user):
    """Each operation, called by a role it admits with a token holding every scope but the
    one it needs, answers 403 insufficient_scope; the same call with that one scope gets past
    the scope check (whatever the operation answers next)."""
    users = {role: create_user(role) for role in Role}
    roles = _roles()
    walked = 0
    for method, path, op in _operations(client):
        allowed = roles[op["operationId"]]
        if allowed is None:
            continue
        needed = op["x-required-scope"]
        user = users[sorted(allowed, key=lambda r: r.value)[0]]
        url = _PARAM.sub("1", path)
        _t, narrow = create_api_token(session, user, name="narrow", scopes=_lacking(needed))
        refused = client.open(url, method=method, headers={"Authorization": f"Bearer {narrow}"})
        assert refused.status_code == 403, (method, path, refused.status_code)
        assert refused.content_type == "application/problem+json"
        assert refused.get_json()["code"] == "insufficient_scope", (method, path)
        assert f'scope="{needed}"' in refused.headers["WWW-Authenticate"]
        _t, exact = create_api_token(session, user, name="exact", scopes=[needed])
        passed = client.open(url, method=method, headers={"Authorization": f"Bearer {exact}"})
        assert passed.status_code != 500, (method, path)
        if passed.status_code == 403:
            assert passed.get_json()["code"] != "insufficient_scope", (method, path)
        walked += 1
    assert walked == sum(1 for spec in REGISTRY if spec.roles is not None) > 150


def test_read_scope_reads_but_does_not_write(client, session, create_user):
    user = create_user(Role.ENTERPRISE)
    _t, plain = create_api_token(session, user, name="reader", scopes=["orders:read"])
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/orders", headers=headers).status_code == 200
    write = client.post("/api/v1/orders", json={}, headers=headers)
    assert (write.status_code, write.get_json()["code"]) == (403, "insufficient_scope")
    other_area = client.get("/api/v1/wallet", headers=headers)
    assert (other_area.status_code, other_area.get_json()["code"]) == (403, "insufficient_scope")


def test_tokens_from_before_scopes_keep_full_power(client, session, create_user):
    user = create_user(Role.ENTERPRISE)
    token, plain = create_api_token(session, user, name="old")
    token.scopes = None  # as the rows made before scopes existed
    session.flush()
    headers = {"Authorization": f"Bearer {plain}"}
    for path in ("/api/v1/orders", "/api/v1/wallet", "/api/v1/me", "/api/v1/me/enterprise"):
        assert client.get(path, headers=headers).status_code == 200, path


def test_token_creation_chooses_scopes_through_the_api(client, session, create_user):
    user = create_user(Role.PROVIDER)
    body = {"email": user.email, "password": PASSWORD, "name": "erp"}
    narrow = client.post("/api/v1/auth/tokens", json={**body, "scopes": ["orders:read"]})
    assert narrow.status_code == 201 and narrow.get_json()["scopes"] == ["orders:read"]
    unknown = client.post("/api/v1/auth/tokens", json={**body, "scopes": ["everything"]})
    assert unknown.status_code == 422 and "scopes" in unknown.get_json()["errors"]
    empty = client.post("/api/v1/auth/tokens", json={**body, "scopes": []})
    assert empty.status_code == 422
    full = client.post("/api/v1/auth/tokens", json=body)
    assert full.get_json()["scopes"] == sorted(ALL_SCOPES)
    listed = client.get(
        "/api/v1/auth/tokens", headers={"Authorization": f"Bearer {narrow.get_json()['token']}"}
    )
    assert listed.status_code == 403  # listing tokens is account:read, which it lacks


def test_token_creation_chooses_scopes_on_the_account_page(client, auth, session, create_user):
    user = create_user(Role.FINANCE)
    auth.login(user)
    page = client.get("/account")
    assert 'data-testid="token-scopes"' in page.text
    assert re.search(
        r'<input checked id="scopes-\d+" name="scopes" type="checkbox" '
        r'value="settlement:read">',
        page.text,
    )
    assert 'value="settlement:write">' in page.text
    made = client.post("/account/tokens", data={"name": "bank", "scopes": ["settlement:read"]})
    assert made.status_code == 302
    token = session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert token.scopes == ["settlement:read"]
    none = client.post("/account/tokens", data={"name": "nothing"})
    assert none.status_code == 302
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)
        )
        == 1
    )


def test_a_module_without_an_area_cannot_declare_an_operation():
    with pytest.raises(LookupError):
        required_scope("marketplace.api.something_new", "GET", None)
    assert required_scope("marketplace.api.orders", "GET", None) == "orders:read"
    assert required_scope("marketplace.api.orders", "POST", None) == "orders:write"


@pytest.mark.parametrize("held", [["orders:write"], ["orders:read", "vouchers:write"]])
def test_write_includes_read_of_its_own_area_only(held):
    assert grants(held, "orders:read")
    assert not grants(held, "settlement:read")
    assert grants(held, "orders:write") == ("orders:write" in held)


def test_second_factor_tokens_still_need_the_code(client, session, create_user):
    """Scopes narrow a token; they never replace the second factor that makes one."""
    user = create_user(Role.FINANCE)
    body = {"email": user.email, "password": PASSWORD, "name": "x", "scopes": ["settlement:read"]}
    assert client.post("/api/v1/auth/tokens", json=body).status_code == 401
    code = second_factor_code(session, user)
    assert client.post("/api/v1/auth/tokens", json={**body, "code": code}).status_code == 201
