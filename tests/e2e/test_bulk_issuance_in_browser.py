"""Issue 13, point 8 in a real browser: a reviewer uploads a bulk issuance file; the job page's
progress bar (static/js/job-progress.js, under the strict CSP) polls the running job and,
when it ends, the page shows the per-row report with its downloads.

The server runs jobs as production does without Redis: on a worker thread after the response.
The job is held before its first chunk until the page has shown the running bar, so the
polling is what brings the report (no sleeps, no timing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace.db import unit_of_work
from marketplace.demo import DEMO_PASSWORD
from marketplace.errors import DomainError
from tests.e2e.conftest import LiveServer, serve, sign_in
from vouchers import issuance
from vouchers.applications import check_eligible
from vouchers.models import Application, Enterprise, Programme

pytestmark = pytest.mark.e2e


def _issuable(session, programme: Programme) -> Iterator[Enterprise]:
    """Demo enterprises the programme could issue to (eligible, no application yet)."""
    taken = sa.select(Application.enterprise_id).where(Application.programme_id == programme.id)
    for enterprise in session.scalars(
        sa.select(Enterprise).where(Enterprise.id.not_in(taken)).order_by(Enterprise.id)
    ):
        try:
            check_eligible(programme, enterprise, [])
        except DomainError:
            continue
        yield enterprise


@pytest.fixture(scope="module")
def jobs_server(database, tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"live-jobs-{database.backend}")
    with serve(database, tmp, "live_jobs", JOBS_AFTER_RESPONSE="true") as server:
        yield server


@pytest.fixture
def held_job(monkeypatch) -> threading.Event:
    """The bulk issuance, running, waits for this event before it reads its file (outside
    any transaction: on SQLite a transaction would hold the write lock every request takes)."""
    release = threading.Event()
    real = issuance.parse_upload

    def waiting(*args, **kwargs):
        if threading.current_thread().name.startswith("job "):  # not the page's own check
            assert release.wait(timeout=120), "the test never released the job"
        return real(*args, **kwargs)

    monkeypatch.setattr(issuance, "parse_upload", waiting)
    return release


def test_reviewer_uploads_a_file_and_watches_the_progress_reach_the_report(
    browser, jobs_server, held_job
):
    with jobs_server.app.app_context(), unit_of_work() as session:  # type: ignore[attr-defined]
        programme = session.scalars(sa.select(Programme).order_by(Programme.id)).first()
        assert programme is not None
        programme_id = programme.id
        code = next(_issuable(session, programme)).credit_code
    # One row issued; a malformed code and the same enterprise again refused.
    rows = f"{code},1000,\n91530102MA6T0000X0,1000,\n{code},500,\n"
    context = browser.new_context(base_url=jobs_server.url, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    # A download ends its request as "aborted" in Chromium: not a failure.
    page.on(
        "requestfailed",
        lambda r: None if "/report." in r.url else problems.append(f"failed: {r.url}"),
    )
    try:
        sign_in(page, jobs_server, "reviewer@demo.example.cn", DEMO_PASSWORD)
        page.goto(f"/admin/programmes/{programme_id}")
        assert (
            page.locator("[data-testid=template-xlsx]")
            .get_attribute("href")
            .endswith("/admin/bulk-issuance-template.xlsx")
        )
        page.set_input_files(
            "input[name=file]",
            {
                "name": "第一批.csv",
                "mimeType": "text/csv",
                "buffer": ("credit_code,amount_yuan,note\n" + rows).encode("utf-8"),
            },
        )
        page.click("form[enctype] button[type=submit]")
        page.wait_for_url("**/jobs/*")
        bar = page.locator("[data-testid=job-progress]")
        # The job is running (held): the page shows the bar and polls.
        assert page.locator("[data-testid=job-report]").count() == 0
        assert page.locator("[data-testid=job-refresh] a").count() == 1
        # (Generous timeouts: the machine may be loaded; nothing here waits on a clock.)
        page.locator("[data-testid=job-status]", has_text="进行中").wait_for(timeout=90_000)
        held_job.set()
        # The script sees the end and reloads: the report, the bar full.
        page.locator("[data-testid=job-report]").wait_for(timeout=90_000)
        assert bar.get_attribute("value") == "100"
        assert page.locator("[data-testid=job-status]").inner_text() == "已完成"
        outcome = page.locator("[data-testid=job-outcome]")
        assert "flash-success" in outcome.get_attribute("class")
        assert "1" in outcome.inner_text() and "2" in outcome.inner_text()
        cells = page.locator("[data-testid=job-report] tbody tr td:nth-child(2)")
        assert cells.all_inner_texts() == ["成功", "已拒绝", "已拒绝"]
        with page.expect_download() as download:
            page.click("text=下载逐行结果（CSV）")
        text = Path(download.value.path()).read_text(encoding="utf-8").lstrip("\ufeff")
        assert text.splitlines()[0].startswith("行号,结果,原因")
        assert problems == []
    finally:
        held_job.set()
        context.close()
