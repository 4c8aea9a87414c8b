"""Sign-in, registration, roles and the page conventions (CSRF, language, redirects)."""

import pytest
import sqlalchemy as sa
from flask import Blueprint

from marketplace.enums import Role
from marketplace.web.auth.views import safe_next
from marketplace.web.permissions import gate_admin
from providers.models import Provider
from tests.support.fixtures import AuthActions, unique_credit_code, unique_email
from vouchers.enums import VerificationStatus
from vouchers.models import Enterprise


def _registration(**overrides):
    data = {
        "name": "昆明网页注册科技有限公司",
        "credit_code": unique_credit_code(),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": unique_email("web"),
        "password": "a-strong-password",
        "confirm": "a-strong-password",
        "size_class": "small",
        "industry": "软件",
    }
    data.update(overrides)
    return data


def test_pages_are_chinese_first_with_english_beside(client):
    zh = client.get("/login").get_data(as_text=True)
    assert "登录" in zh and "科技创新券服务平台" in zh
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in en and "登录" not in en.split("<main")[1]
    # The choice sticks for the session.
    assert "Innovation Voucher Marketplace" in client.get("/").get_data(as_text=True)


def test_chinese_is_the_default_whatever_the_browser_prefers(client):
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "企业注册" in page and "Register your enterprise" not in page


def test_login_and_logout(client, auth, create_user):
    user = create_user()
    response = auth.login(user)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert user.display_name in client.get("/account").get_data(as_text=True)
    assert auth.logout().status_code == 302
    assert client.get("/account").status_code == 302  # back to the login page


def test_wrong_password_is_refused_with_a_message(client, auth, create_user):
    response = auth.login(create_user(), password="not-the-password")
    assert response.status_code == 401
    assert "邮箱或密码错误" in response.get_data(as_text=True)


def test_login_follows_only_local_next(client, create_user):
    user = create_user()
    response = client.post(
        "/login?next=https://evil.example/x",
        data={"email": user.email, "password": "correct-horse-battery"},
    )
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/account", True),
        ("//evil.example", False),
        ("https://evil.example", False),
        ("/\\evil.example", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_safe_next(target, safe):
    assert (safe_next(target) is not None) is safe


def test_enterprise_registration_creates_a_pending_account(client, session, auth):
    data = _registration()
    response = client.post("/register/enterprise", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    auth.login(data["email"], data["password"])
    enterprise = session.scalar(
        sa.select(Enterprise).where(Enterprise.credit_code == data["credit_code"])
    )
    assert enterprise.verification_status is VerificationStatus.PENDING
    page = client.get("/account").get_data(as_text=True)
    assert "pending" in page


def test_invalid_credit_code_is_explained_and_nothing_is_written(client, session):
    data = _registration(credit_code="91530102MA6K00014B")
    response = client.post("/register/enterprise", data=data)
    assert response.status_code == 400
    assert "第18位校验码错误" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) == 0


def test_duplicate_registration_is_refused(client, session, create_enterprise):
    existing = create_enterprise()
    response = client.post(
        "/register/enterprise", data=_registration(credit_code=existing.credit_code)
    )
    assert response.status_code == 409
    assert "已注册" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) == 1


def test_provider_registration(client, session):
    data = _registration(institution_type="ip_agency")
    del data["size_class"], data["industry"]
    assert client.post("/register/provider", data=data).status_code == 302
    provider = session.scalar(
        sa.select(Provider).where(Provider.credit_code == data["credit_code"])
    )
    assert provider.institution_type.value == "ip_agency"


def test_admin_area_is_role_gated(client, auth, create_user):
    assert client.get("/admin/").status_code == 302  # anonymous → login
    auth.login(create_user(Role.ENTERPRISE))
    assert client.get("/admin/").status_code == 403
    auth.logout()
    auth.login(create_user(Role.PROVIDER))
    assert client.get("/admin/").status_code == 403
    for role in (Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN):
        auth.logout()
        auth.login(create_user(role))
        assert client.get("/admin/").status_code == 200, role


def test_admin_gate_makes_auditors_read_only(make_app, create_user):
    """gate_admin: every admin role may read; auditors may not change anything."""
    app = make_app()
    probe = Blueprint("probe", __name__, url_prefix="/probe")
    gate_admin(probe)
    probe.add_url_rule("/", "read", lambda: "read", methods=["GET"])
    probe.add_url_rule("/", "write", lambda: "written", methods=["POST"])
    app.register_blueprint(probe)
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(create_user(Role.AUDITOR))
    assert client.get("/probe/").status_code == 200
    assert client.post("/probe/").status_code == 403
    auth.logout()
    auth.login(create_user(Role.REVIEWER))
    assert client.post("/probe/").get_data(as_text=True) == "written"


def test_forms_require_a_csrf_token(make_app, create_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = create_user()
    response = client.post(
        "/login", data={"email": user.email, "password": "correct-horse-battery"}
    )
    assert response.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in page


def test_login_is_rate_limited(make_app, create_user):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    user = create_user()
    # A different account each time, so only the per-address limit is at work (the per-account
    # throttle is tested in tests/security/test_throttling.py).
    emails = [user.email] + [f"other{n}@example.cn" for n in range(10)]
    statuses = [
        client.post("/login", data={"email": email, "password": "wrong-password"}).status_code
        for email in emails
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_token_management_page(client, auth, create_user):
    auth.login(create_user())
    response = client.post(
        "/account/tokens",
        data={"name": "ERP", "scopes": ["orders:write", "vouchers:read"]},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "vm_" in page and "ERP" in page


def test_static_assets_are_local(client):
    page = client.get("/").get_data(as_text=True)
    assert "http://" not in page.replace("http://127.0.0.1", "") and "https://" not in page
    with client.get("/static/css/site.css") as css:
        assert css.status_code == 200 and b".topbar" in css.data
