"""Issue 11 in a real browser: an auditor goes from a dashboard chart to a flagged order,
draws a sample, records a finding and downloads the findings as XLSX."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from marketplace.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_auditor_from_chart_to_finding_and_xlsx(page, live_server):
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    # The auditor signs in with the password and the demo's second factor (issue 12).
    sign_in(page, live_server, "auditor@demo.example.cn", DEMO_PASSWORD)

    page.goto(f"/admin/dashboard?year={date.today().year}")
    chart = page.locator('[data-chart="flags"][data-ready="true"]')
    chart.wait_for()
    # The bar of the first rule that flagged an order, clicked where ECharts drew it.
    counts = page.locator('[data-testid="table-flags"] tbody tr td.num').all_inner_texts()
    index = next(i for i, text in enumerate(counts) if float(text) > 0)
    x, y = page.evaluate(
        """([index, value]) => {
            const node = document.querySelector('[data-chart="flags"]');
            return node.echartsInstance.convertToPixel({seriesIndex: 0}, [index, value / 2]);
        }""",
        [index, float(counts[index])],
    )
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_url(re.compile(r"/risk/\?rule="))
    assert "风险提示" in page.locator("h1").inner_text()

    order_link = page.locator("table tbody tr td a").first
    order_text = order_link.inner_text()
    order_id = int(order_text.lstrip("#"))
    order_link.click()
    page.wait_for_url(re.compile(rf"/risk/orders/{order_id}$"))
    assert page.locator("h1").inner_text() == f"订单 #{order_id} 的风险"

    page.goto("/risk/samples")
    page.fill("input[name=size]", "50")
    page.fill("input[name=seed]", "2026")
    page.fill("input[name=min_score]", "1")
    page.click("form.grid-form button[type=submit]")
    page.wait_for_url(re.compile(r"/risk/samples/\d+$"))
    item = page.locator(f'section.panel:has(h2 a[href$="/risk/orders/{order_id}"])')
    item.locator("select[name=outcome]").select_option("irregular")
    item.locator("textarea[name=notes]").fill("现场核查：检测报告与样品不符。")
    item.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/risk/samples/\d+#item-\d+$"))
    assert page.locator(".flash-success").inner_text() == "审计结论已记录。"

    with page.expect_download() as download_info:
        page.click("text=下载审计结论（XLSX）")
    download = download_info.value
    data = Path(download.path()).read_bytes()
    assert data[:2] == b"PK"
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "finding_id"
    assert any(row[2] == order_id and row[4] == "irregular" for row in rows[1:])
    assert refused == [], refused
