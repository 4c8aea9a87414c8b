"""A person's first steps, in a real browser: home, language, sign-in, registration, roles."""

import re

import pytest
from playwright.sync_api import expect

from marketplace.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in
from tests.support.fixtures import unique_credit_code, unique_email

pytestmark = pytest.mark.e2e


def _login(page, email, live_server):
    sign_in(page, live_server, email, DEMO_PASSWORD)


def test_home_page_is_chinese_and_fits_a_phone(page):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/")
    assert page.locator("h1").inner_text() == "面向中小微企业的科技创新券"
    assert int(page.get_by_test_id("stat-providers").inner_text()) == 5
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_language_switch(page):
    page.goto("/")
    page.click("text=English")
    # A click does not wait for the page it leads to; expect() retries until it has come.
    expect(page.locator("h1")).to_have_text("Innovation vouchers for small and medium enterprises")
    page.click("text=中文")
    expect(page.locator("h1")).to_contain_text("科技创新券")


def test_demo_sme_signs_in_and_out(page, live_server):
    _login(page, "sme@demo.example.cn", live_server)
    page.wait_for_url(re.compile(r"/account$"))
    assert "昆明滇池智能装备有限公司" in page.content()
    page.click("text=退出")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("a", has_text="登录").count() == 1


def test_wrong_password_shows_a_message(page):
    page.goto("/login")
    page.fill("input[name=email]", "sme@demo.example.cn")
    page.fill("input[name=password]", "wrong-password")
    page.click("form button[type=submit]")
    expect(page.locator(".flash-error")).to_have_text("邮箱或密码错误。")


def test_enterprise_registration_explains_a_bad_code_then_succeeds(page, live_server):
    page.goto("/register/enterprise")
    page.fill("input[name=name]", "昆明浏览器测试科技有限公司")
    page.fill("input[name=credit_code]", "91530102MA6K00014B")
    page.fill("input[name=contact_name]", "李明")
    page.fill("input[name=contact_phone]", "13800000000")
    email = unique_email("browser")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "a-strong-password")
    page.fill("input[name=confirm]", "a-strong-password")
    page.click("form button[type=submit]")
    expect(page.locator(".field.has-error")).to_contain_text("第18位校验码错误")
    page.fill("input[name=credit_code]", unique_credit_code())
    page.fill("input[name=password]", "a-strong-password")
    page.fill("input[name=confirm]", "a-strong-password")
    page.click("form button[type=submit]")
    # The same answer as for an address that already has an account: sign in next.
    page.wait_for_url(re.compile(r"/login$"))
    sign_in(page, live_server, email, "a-strong-password")
    page.wait_for_url(re.compile(r"/account$"))
    assert page.locator(".badge-pending").count() == 1


def test_administration_only_for_administrators(page, live_server):
    _login(page, "sme@demo.example.cn", live_server)
    page.wait_for_url(re.compile(r"/account$"))
    response = page.goto("/admin/")
    assert response.status == 403
    page.click("text=退出")
    _login(page, "auditor@demo.example.cn", live_server)
    page.wait_for_url(re.compile(r"/account$"))
    page.click("text=管理后台")
    expect(page.locator("h1")).to_have_text("管理后台")
