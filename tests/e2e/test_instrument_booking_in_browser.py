"""An SME books a key instrument on a phone-width screen, in a real browser: finds it in the
catalogue, sees the week's free hours (no JavaScript needed), requests two hours; the
provider confirms; the SME accepts the order and pays half with its voucher. The calendar
fits the phone's width."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password
from marketplace.db import unit_of_work
from marketplace.demo import DEMO_PASSWORD
from marketplace.enums import Role
from providers.models import Provider
from tests.support.fixtures import unique_email

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
PLATFORM = "昆明市大型科学仪器共享平台"
SERVICE = "扫描电镜 SEM 机时共享"


def _login(page, email):
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/account$"))


def _platform_user(live_server) -> str:
    """The demo has no account for the instrument platform: one is made for this test."""
    email = unique_email("lab")
    with live_server.app.app_context(), unit_of_work() as session:
        platform = session.scalar(sa.select(Provider).where(Provider.name == PLATFORM))
        session.add(
            User(
                email=email,
                password_hash=hash_password(DEMO_PASSWORD),
                display_name="仪器平台 刘洋",
                role=Role.PROVIDER,
                provider_id=platform.id,
            )
        )
    return email


def test_sme_books_an_instrument_on_a_phone(browser, live_server):
    seller_email = _platform_user(live_server)
    contexts = []

    def open_page(email):
        context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport=PHONE)
        contexts.append(context)
        page = context.new_page()
        outside = []
        page.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None,
        )
        page.outside = outside
        _login(page, email)
        return page

    try:
        sme = open_page("sme@demo.example.cn")
        sme.goto("/catalogue/")
        sme.get_by_label("关键词").fill("扫描电镜")
        sme.get_by_role("button", name="搜索").click()
        sme.get_by_role("link", name=SERVICE, exact=True).click()
        sme.get_by_test_id("instrument-calendar").click()
        expect(sme.get_by_role("heading", level=1)).to_have_text("场发射扫描电子显微镜")
        # Next week is always beyond the one-day lead time.
        sme.get_by_role("link", name=re.compile("下一周")).click()
        # A click does not wait for the next page: measuring before it has loaded reads a
        # document that has no scrolling element yet.
        sme.wait_for_url(re.compile(r"[?&]week=\d{4}-\d{2}-\d{2}"))
        overflow = sme.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        free = sme.locator(".hours li.free a")
        assert free.count() >= 8
        # A morning hour (09:00, a day or more ahead), so that two hours fit before closing.
        free.filter(has_text="09:00").first.click()
        expect(sme.get_by_role("heading", level=1)).to_have_text("申请预约")
        sme.get_by_label("小时数").select_option("2")
        sme.get_by_label("测试内容（选填）").fill("齿轮钢断口形貌观察，3个样品。")
        sme.get_by_role("button", name="提交预约申请").click()
        sme.wait_for_url(re.compile(r"/instruments/bookings/\d+$"))
        booking_id = int(sme.url.rsplit("/", 1)[1])
        expect(sme.locator("h1 .badge")).to_have_text("待确认")

        seller = open_page(seller_email)
        seller.goto("/instruments/bookings")
        seller.get_by_role("link", name=f"#{booking_id}").click()
        seller.get_by_role("button", name="确认预约").click()
        expect(seller.locator("h1 .badge")).to_have_text("已确认")

        sme.reload()
        expect(sme.locator("h1 .badge")).to_have_text("已确认")
        sme.get_by_role("link", name="前往订单").click()
        expect(sme.get_by_test_id("status")).to_have_text("已报价")
        expect(sme.get_by_test_id("price")).to_have_text("¥1,200.00")
        voucher_choice = sme.get_by_label("使用电子券")
        # The service voucher (服务券) pays for instrument sharing; the innovation one does not.
        option = voucher_choice.locator("option").filter(has_text="服务券")
        voucher_choice.select_option(option.get_attribute("value"))
        sme.get_by_label("我同意服务协议：价格、券抵扣部分及本企业自付部分").check()
        sme.get_by_role("button", name="确认并支付").click()
        expect(sme.get_by_test_id("status")).to_have_text("已确认协议")
        expect(sme.get_by_test_id("co-payment")).to_have_text("¥600.00")
        expect(sme.get_by_test_id("voucher-part")).to_contain_text("¥600.00")
        assert sme.outside == [] and seller.outside == []
    finally:
        for context in contexts:
            context.close()
