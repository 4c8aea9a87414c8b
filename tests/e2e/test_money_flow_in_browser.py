"""The whole money flow through the web pages, in a real headless Chromium.

One order walked from the voucher application to the bank's payout confirmation, each role in
its own browser context (its own cookies), clicking what a person clicks and reading what a
person reads: badges, amounts in ¥, flash messages. Nothing is set up behind the pages' back;
the live server holds the demo data (``marketplace/demo.py``) and nothing else.

The demo SMEs have already applied to every programme open to them (one application per
programme and enterprise), so the voucher step starts with a new SME registering itself and a
reviewer verifying it — both through the pages — and that SME then applies, is approved and
orders. The provider, reviewer and finance officer are the demo accounts.

Amounts: 3 samples quoted at ¥2,469.15 (an odd number of fen), so the 50% voucher part is
floor(246,915 / 2) = ¥1,234.57 and the enterprise pays ¥1,234.58.

Every step happens on the same (China) day and waits only for what the page shows: no sleeps,
no clock. The flow is one test because its steps depend on each other (with ``pytest -n`` a
split flow could land on different workers, each with its own live server).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator

import pytest

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in
from tests.support.einvoice_files import spec_for, xml_bytes
from tests.support.fixtures import unique_credit_code, unique_email
from tests.support.order_fixtures import digital_invoice_number
from tests.support.provider_fixtures import PDF

pytestmark = pytest.mark.e2e

PASSWORD = "a-strong-password-2026"
PROVIDER_NAME = "云南省产品质量监督检验研究院"  # provider@demo.example.cn
SERVICE_TITLE = "材料检测服务"  # ¥800.00 per sample in the demo catalogue
QUOTED = "¥2,469.15"
VOUCHER_PART = "¥1,234.57"  # floor(50%)
CO_PAYMENT = "¥1,234.58"  # the rest


@pytest.fixture
def open_browser(browser, live_server) -> Iterator[Callable[..., object]]:
    """``open_browser(email=None)``: a page in a browser context of its own, signed in as
    ``email`` when given. Any request leaving the live server fails the test."""
    from playwright.sync_api import expect

    contexts = []
    outside: list[str] = []

    def note_outside(request) -> None:
        if not request.url.startswith(live_server.url) and not request.url.startswith("data:"):
            outside.append(request.url)

    def open_browser(email: str | None = None):
        context = browser.new_context(
            base_url=live_server.url, locale="zh-CN", accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.on("request", note_outside)
        if email is not None:
            sign_in(page, live_server, email, DEMO_PASSWORD)
            page.wait_for_url(re.compile(r"/account$"))
            expect(page.get_by_role("button", name="退出", exact=True)).to_be_visible()
        return page

    yield open_browser
    for context in contexts:
        context.close()
    assert outside == [], f"pages requested outside resources: {outside}"


def _download(page, link) -> bytes:
    """Click ``link`` and return the bytes the browser downloaded."""
    with page.expect_download() as info:
        link.click()
    path = info.value.path()
    with open(path, "rb") as fh:
        return fh.read()


def _go(page, menu: str, link: str) -> None:
    """Click ``link`` in the navigation named ``menu`` (主导航 is the top bar)."""
    page.get_by_role("navigation", name=menu).get_by_role("link", name=link, exact=True).click()


def _flash(page, text: str):
    """The flash message (role=status) containing ``text``."""
    return page.get_by_role("status").filter(has_text=text)


def test_voucher_order_and_payout_through_the_pages(open_browser, live_server):
    from playwright.sync_api import expect

    sme = open_browser()
    reviewer = open_browser("reviewer@demo.example.cn")
    provider = open_browser("provider@demo.example.cn")
    finance = open_browser("finance@demo.example.cn")
    treasurer = open_browser("finance2@demo.example.cn")  # the second pair of eyes on payouts

    # ------------------------------------------------ 1. vouchers
    # A new SME registers itself (the demo SMEs have applied to every open programme).
    credit_code = unique_credit_code("530102")
    enterprise_name = f"昆明云测智能科技有限公司（{credit_code[8:17]}）"
    sme.goto("/register/enterprise")
    sme.get_by_label("单位名称").fill(enterprise_name)
    sme.get_by_label("统一社会信用代码").fill(credit_code)
    sme.get_by_label("企业规模").select_option("small")
    sme.get_by_label("所属行业").fill("智能制造")
    sme.get_by_label("联系人").fill("刘洋")
    sme.get_by_label("联系电话").fill("13987100001")
    sme_email = unique_email("flow")
    sme.get_by_label("电子邮箱").fill(sme_email)
    sme.get_by_label("密码", exact=True).fill(PASSWORD)
    sme.get_by_label("确认密码").fill(PASSWORD)
    sme.get_by_role("button", name="注册").click()
    sme.wait_for_url(re.compile(r"/login$"))
    sign_in(sme, live_server, sme_email, PASSWORD)
    sme.wait_for_url(re.compile(r"/account$"))

    # The reviewer verifies it from the enterprise queue.
    _go(reviewer, "主导航", "创新券管理")
    _go(reviewer, "创新券管理", "企业")
    reviewer.get_by_role("row").filter(has_text=enterprise_name).get_by_role("link").click()
    reviewer.get_by_label("处理结果").select_option("verified")
    reviewer.get_by_label("备注（不予核验时必填）").fill("营业执照信息核验一致")
    reviewer.get_by_role("button", name="记录决定").click()
    expect(reviewer.get_by_test_id("verification")).to_have_text("已核验")

    # The SME's wallet: the policy's ¥30,000 cap, nothing used or held, no voucher yet.
    _go(sme, "主导航", "我的电子券")
    expect(sme.get_by_role("heading", level=1)).to_have_text("我的电子券")
    expect(sme.get_by_test_id("cap")).to_have_text("¥30,000.00")
    expect(sme.get_by_test_id("used")).to_have_text("¥0.00")
    expect(sme.get_by_test_id("held")).to_have_text("¥0.00")
    expect(sme.get_by_test_id("remaining")).to_have_text("¥30,000.00")
    expect(sme.get_by_text("还没有电子券。")).to_be_visible()

    # It applies for this year's innovation voucher.
    _go(sme, "企业服务台", "受理中的券种")
    programme = sme.locator("section").filter(
        has=sme.get_by_role("heading", name=re.compile(r"年度云南省科技创新券"))
    )
    programme_name = programme.get_by_role("heading").inner_text().split(" ")[0]
    programme.get_by_role("link", name="申请", exact=True).click()
    sme.get_by_label("申请金额（元）").fill("10,000")
    sme.get_by_label("检验检测认证").check()
    sme.get_by_label("简要说明使用计划").fill("新型伺服控制柜的材料力学性能检测，支持产品认证。")
    sme.get_by_role("button", name="提交申请").click()
    expect(sme.get_by_test_id("status")).to_have_text("待审核")

    # The reviewer approves the amount requested.
    _go(reviewer, "主导航", "创新券管理")
    _go(reviewer, "创新券管理", "申请")
    reviewer.get_by_role("row").filter(has_text=enterprise_name).get_by_role("link").click()
    expect(reviewer.get_by_test_id("status")).to_have_text("待审核")
    requested = reviewer.get_by_role("definition").filter(has_text=re.compile(r"^¥10,000\.00$"))
    expect(requested).to_be_visible()
    reviewer.get_by_role("button", name="批准", exact=True).click()
    expect(reviewer.get_by_test_id("status")).to_have_text("已批准")
    approved = _flash(reviewer, "已批准")
    expect(approved).to_have_text(re.compile(r"电子券 \S+ 已发放"))
    serial = re.search(r"电子券 (\S+) 已发放", approved.inner_text()).group(1)

    # The SME's wallet shows the new voucher.
    _go(sme, "主导航", "我的电子券")
    voucher_row = sme.get_by_test_id(f"voucher-{serial}")
    expect(voucher_row).to_contain_text(programme_name)
    expect(voucher_row).to_contain_text("可使用")
    expect(voucher_row.get_by_role("cell", name="¥10,000.00")).to_have_count(2)  # face, balance
    expect(sme.get_by_text("持有电子券余额：¥10,000.00")).to_be_visible()
    expect(sme.get_by_test_id("remaining")).to_have_text("¥30,000.00")

    # ------------------------------------------------ 2. the order
    # Search the public catalogue in Chinese, open the service, order it.
    _go(sme, "主导航", "查找服务")
    sme.get_by_label("关键词").fill("检测")
    sme.get_by_role("button", name="搜索").click()
    result = sme.get_by_test_id("result").filter(has_text=PROVIDER_NAME)
    result.get_by_role("link", name=SERVICE_TITLE, exact=True).click()
    expect(sme.get_by_role("heading", level=1)).to_have_text(SERVICE_TITLE)
    expect(sme.get_by_test_id("price")).to_have_text("¥800.00 / 样品")
    sme.get_by_test_id("order-service").click()
    sme.get_by_label("数量").fill("3")
    sme.get_by_label("需求说明（样品、期限、标准等）").fill("三种齿轮钢样品，需CMA报告。")
    sme.get_by_role("button", name="提交需求").click()
    sme.wait_for_url(re.compile(r"/orders/\d+$"))
    order_id = int(sme.url.rsplit("/", 1)[1])
    expect(sme.get_by_test_id("status")).to_have_text("已提交需求")
    expect(sme.get_by_test_id("price")).to_have_text("尚未报价")

    # The provider quotes from its order list.
    _go(provider, "主导航", "订单")
    provider.get_by_test_id(f"order-{order_id}").get_by_role("link", name=str(order_id)).click()
    expect(provider.get_by_test_id("status")).to_have_text("已提交需求")
    provider.get_by_label("最终价格（元）").fill("2,469.15")
    provider.get_by_label("报价说明").fill("3个样品，含加急出具报告。")
    provider.get_by_role("button", name="发送报价").click()
    expect(provider.get_by_test_id("status")).to_have_text("已报价")
    expect(provider.get_by_test_id("price")).to_have_text(QUOTED)

    # The SME accepts with its voucher: the voucher pays floor(50%), the SME the rest.
    sme.reload()
    expect(sme.get_by_test_id("price")).to_have_text(QUOTED)
    voucher_choice = sme.get_by_label("使用电子券")
    option = voucher_choice.locator("option").filter(has_text=serial)
    expect(option).to_have_text(
        f"{serial} · {programme_name} · 余额 ¥10,000.00 · 可抵扣 {VOUCHER_PART}"
    )
    # The voucher covering the most is preselected and the split shown before anything moves.
    expect(voucher_choice).to_have_value(option.get_attribute("value"))
    expect(sme.get_by_test_id("split-voucher")).to_have_text(VOUCHER_PART)
    expect(sme.get_by_test_id("split-copay")).to_have_text(CO_PAYMENT)
    sme.get_by_label("我同意服务协议：价格、券抵扣部分及本企业自付部分").check()
    sme.get_by_role("button", name="确认并支付").click()
    expect(sme.get_by_test_id("status")).to_have_text("已确认协议")
    expect(sme.get_by_test_id("voucher-part")).to_have_text(f"{VOUCHER_PART} ({serial})")
    expect(sme.get_by_test_id("co-payment")).to_have_text(CO_PAYMENT)
    expect(sme.get_by_test_id("payment-status")).to_have_text("待支付")
    expect(sme.get_by_test_id("transfer-reference")).to_have_text(re.compile(r"^VM\d{8}$"))
    _go(sme, "主导航", "我的电子券")
    expect(sme.get_by_test_id("held")).to_have_text(VOUCHER_PART)
    expect(sme.get_by_test_id("remaining")).to_have_text("¥28,765.43")

    # Finance records the bank transfer from the order's payment record.
    _go(finance, "主导航", "订单")
    finance.get_by_test_id(f"order-{order_id}").get_by_role("link", name=str(order_id)).click()
    finance.get_by_role("link", name=re.compile(r"^付款记录 #\d+")).click()
    expect(finance.get_by_test_id("status")).to_have_text("待支付")
    expect(finance.get_by_test_id("amount")).to_have_text(CO_PAYMENT)
    finance.get_by_label("转账银行流水号").fill(f"CMB{order_id:010d}")
    finance.get_by_label("到账金额（元）").fill("1234.58")
    finance.get_by_role("button", name="登记到账").click()
    expect(finance.get_by_test_id("status")).to_have_text("已支付")

    # The provider delivers: the invoice's 数电发票 file (read by the platform, nothing
    # typed) and the PDF report.
    provider.reload()
    expect(provider.get_by_test_id("status")).to_have_text("已支付自付部分")
    expect(provider.get_by_test_id("paper-invoice")).not_to_have_attribute("open", "")
    seller_id = provider.get_by_label("销售方纳税人识别号（本机构统一社会信用代码）").input_value()
    spec = spec_for(
        number=digital_invoice_number(),
        total_fen=246_915,
        buyer_id=credit_code,
        seller_id=seller_id,
        issued=local_date(utcnow()),
    )
    provider.get_by_label("发票文件（数电发票 XML 或 OFD，或其 PDF）").set_input_files(
        {"name": "数电发票.xml", "mimeType": "application/xml", "buffer": xml_bytes(spec)}
    )
    provider.get_by_label("服务报告（PDF、PNG 或 JPEG）").set_input_files(
        {"name": "材料检测报告.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    provider.get_by_label("交付说明").fill("报告见附件。")
    provider.get_by_role("button", name="交付", exact=True).click()
    expect(provider.get_by_test_id("status")).to_have_text("已交付")
    expect(provider.get_by_test_id("report-link")).to_have_text("材料检测报告.pdf")
    expect(provider.get_by_test_id("invoice-amount")).to_have_text("¥2,469.15")
    expect(provider.get_by_test_id("invoice-tax")).to_have_text("¥139.76 (6%)")

    # The SME reads the report, confirms and rates.
    sme.goto(f"/orders/{order_id}")
    expect(sme.get_by_test_id("status")).to_have_text("已交付")
    assert _download(sme, sme.get_by_test_id("report-link")) == PDF
    sme.get_by_role("button", name="确认验收").click()
    expect(sme.get_by_test_id("status")).to_have_text("已确认验收")
    sme.get_by_label("评分").select_option("5")
    sme.get_by_label("评价内容").fill("报告规范，出具及时。")
    sme.get_by_role("button", name="提交评价").click()
    expect(sme.get_by_test_id("rating")).to_have_text("★★★★★ — 报告规范，出具及时。")
    _go(sme, "主导航", "我的电子券")
    expect(sme.get_by_test_id("used")).to_have_text(VOUCHER_PART)
    expect(sme.get_by_test_id("held")).to_have_text("¥0.00")
    expect(sme.get_by_test_id("remaining")).to_have_text("¥28,765.43")

    # ------------------------------------------------ 3. settlement
    # The provider claims the voucher part.
    _go(provider, "主导航", "结算申请")
    _go(provider, "结算", "可申请结算的订单")
    tick = provider.get_by_label(f"订单 {order_id}", exact=True)
    expect(provider.get_by_role("row").filter(has=tick)).to_contain_text(VOUCHER_PART)
    tick.check()
    provider.get_by_label("给审核人的说明（选填）").fill("材料检测，发票已开具。")
    provider.get_by_role("button", name="提交结算申请").click()
    expect(provider.get_by_test_id("status")).to_have_text("待初审")
    expect(provider.get_by_test_id("amount")).to_have_text(VOUCHER_PART)
    expect(provider.locator("[data-passed=no]")).to_have_count(0)
    claim_ref = re.search(r"DF\d+", provider.get_by_role("heading", level=1).inner_text())[0]

    # The reviewer approves the claim.
    _go(reviewer, "主导航", "结算申请")
    reviewer.get_by_role("link", name=claim_ref).click()
    reviewer.get_by_label("处理结果").select_option("approve")
    reviewer.get_by_role("button", name="记录决定").click()
    expect(reviewer.get_by_test_id("status")).to_have_text("待财务审批")

    # Finance, a different person, approves it for payment.
    _go(finance, "主导航", "结算申请")
    finance.get_by_role("link", name=claim_ref).click()
    finance.get_by_label("处理结果").select_option("finance_approve")
    finance.get_by_role("button", name="记录决定").click()
    expect(finance.get_by_test_id("status")).to_have_text("已批准待拨付")

    # Finance builds the payout batch and downloads the bank payment file.
    _go(finance, "结算", "拨付批次")
    expect(finance.get_by_test_id("queue-total")).to_have_text(VOUCHER_PART)
    finance.get_by_role("button", name="从待拨付队列生成拨付批次").click()
    expect(finance.get_by_test_id("status")).to_have_text("待发送银行")
    expect(finance.get_by_test_id("total")).to_have_text(VOUCHER_PART)
    line = finance.get_by_role("row").filter(has_text=re.compile(rf"#{order_id}\b"))
    expect(line.get_by_test_id("line-status")).to_have_text("待银行确认")
    payment_file = _download(finance, finance.get_by_test_id("payment-file"))
    (paid,) = csv.DictReader(io.StringIO(payment_file.decode("utf-8-sig")))
    assert (paid["provider_name"], paid["amount_yuan"], paid["amount_fen"]) == (
        PROVIDER_NAME,
        "1234.57",
        "123457",
    )

    # Another finance officer sends it; the bank's confirmation is completed from the template
    # and imported (four eyes: the builder can do neither).
    expect(finance.get_by_test_id("four-eyes")).to_be_visible()
    expect(finance.get_by_role("button", name="标记为已提交银行")).to_have_count(0)
    treasurer.goto(finance.url)
    line = treasurer.get_by_role("row").filter(has_text=re.compile(rf"#{order_id}\b"))
    treasurer.get_by_role("button", name="标记为已提交银行").click()
    expect(treasurer.get_by_test_id("status")).to_have_text("已发送银行，待确认")
    template = _download(treasurer, treasurer.get_by_test_id("confirmation-template"))
    rows = list(csv.DictReader(io.StringIO(template.decode("utf-8-sig"))))
    assert [(r["reference"], r["status"], r["bank_transaction_id"]) for r in rows] == [
        (paid["reference"], "paid", "")
    ]
    rows[0]["bank_transaction_id"] = f"BOC{order_id:010d}"
    filled = io.StringIO()
    writer = csv.DictWriter(filled, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    treasurer.get_by_label("银行回单文件（CSV）").set_input_files(
        {"name": "回单.csv", "mimeType": "text/csv", "buffer": filled.getvalue().encode()}
    )
    treasurer.get_by_role("button", name="导入回单").click()
    expect(treasurer.get_by_test_id("status")).to_have_text("银行已全部确认")
    expect(line.get_by_test_id("line-status")).to_have_text("已到账")
    expect(line).to_contain_text(f"BOC{order_id:010d}")

    # The SME's order shows the voucher part paid out to the provider.
    sme.goto(f"/orders/{order_id}")
    expect(sme.get_by_test_id("status")).to_have_text("已拨付")
    expect(sme.get_by_test_id("voucher-part")).to_have_text(f"{VOUCHER_PART} ({serial})")
    provider.reload()
    expect(provider.get_by_test_id("status")).to_have_text("已拨付")

    # ------------------------------------------------ 4. on a phone
    sme.set_viewport_size({"width": 375, "height": 740})
    for path, labels in (
        ("/enterprise/", ("我的电子券", "本年度剩余额度", "冻结中", "可使用")),
        (f"/orders/{order_id}", ("券支付部分", "自付部分", "已拨付", "材料检测报告.pdf")),
    ):
        sme.goto(path)
        overflow = sme.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a 375px phone"
        for label in labels:
            # In the page's content: on a phone the menu is folded behind its button.
            shown = sme.locator("main").get_by_text(label, exact=True).first
            expect(shown).to_be_visible()
            box = shown.bounding_box()
            assert box is not None and box["width"] > 0, (path, label)
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, (path, label, box)
