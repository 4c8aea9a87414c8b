"""Issue 13, point 8: long work runs as a background job with a durable record, a progress
bar that polls it, and a per-row report; only its owner sees it.

Bulk issuance and the large exports, on both databases: inline at the commit (the testing
default), on a worker thread (without Redis, as in production) and on a real RQ worker
against the Redis at 127.0.0.1:6379 (skipped without it outside CI; under CI=true a failure).
"""

from __future__ import annotations

import csv
import io
import re
import threading
import uuid

import openpyxl
import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from marketplace import clock, jobs
from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.config import current_settings
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.jobs import tracked
from marketplace.jobs.models import BackgroundJob, JobStatus
from tests.conftest import IN_CI
from tests.support.fixtures import AuthActions
from tests.web.test_one_language import _Page, _problems
from vouchers import issuance
from vouchers.models import IssuanceBatch, Voucher

YEAR = clock.local_date(utcnow()).year
REDIS_URL = "redis://127.0.0.1:6379/0"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _not_chinese(page: str) -> list[str]:
    """What the one-language scan (tests/web/test_one_language.py) finds on a Chinese page."""
    parsed = _Page()
    parsed.feed(page)
    return _problems(" ".join(parsed.text))


@pytest.fixture
def programme(funded_programme):
    return funded_programme(year=YEAR)


@pytest.fixture
def reviewer(create_user, auth):
    user = create_user(Role.REVIEWER)
    auth.login(user)
    return user


def _upload(client, programme, data: bytes, name: str = "batch.csv"):
    return client.post(
        f"/admin/programmes/{programme.id}/bulk-issuances",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _job_id(response) -> int:
    assert response.status_code == 302, _text(response)
    match = re.fullmatch(r"/jobs/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _mixed_file(create_enterprise) -> tuple[bytes, list[str]]:
    good = create_enterprise()
    other = create_enterprise()
    blacklisted = create_enterprise(blacklisted=True, blacklist_reason="失信")
    data = (
        "credit_code,amount_yuan,note\n"
        f"{good.credit_code},8000,首批\n"
        f"{blacklisted.credit_code},5000,\n"
        f"{other.credit_code},6000.50,\n"
        f"{good.credit_code},1000,重复\n"
    ).encode("utf-8-sig")
    return data, [good.credit_code, other.credit_code]


# --------------------------------------------------------------------------- bulk issuance


def test_bulk_issuance_runs_as_a_job_with_a_per_row_report(
    client, session, reviewer, programme, create_enterprise
):
    data, issued_codes = _mixed_file(create_enterprise)
    job_id = _job_id(_upload(client, programme, data))

    job = session.get(BackgroundJob, job_id)
    session.refresh(job)
    assert job.owner_id == reviewer.id and job.kind == "bulk_issuance"
    assert job.status is JobStatus.DONE and (job.done, job.total) == (4, 4)
    assert job.started_at is not None and job.finished_at is not None
    assert [(r["row"], r["outcome"]) for r in job.report] == [
        (2, "ok"),
        (3, "refused"),
        (4, "ok"),
        (5, "refused"),
    ]
    assert job.summary["ok"] == 2 and job.summary["refused"] == 2
    vouchers = session.scalars(sa.select(Voucher).order_by(Voucher.id)).all()
    assert [v.enterprise.credit_code for v in vouchers] == issued_codes
    assert [v.face_value_fen for v in vouchers] == [800_000, 600_050]
    # The batch keeps its rules: its report and the one audit record of the whole batch.
    batch = session.scalars(sa.select(IssuanceBatch)).one()
    assert (batch.issued_count, batch.refused_count, batch.issued_fen) == (2, 2, 1_400_050)
    audits = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "vouchers.bulk_issued")
    ).all()
    assert len(audits) == 1 and audits[0].detail["issued"] == 2

    page = _text(client.get(f"/jobs/{job_id}"))
    assert 'data-testid="job-outcome" class="flash flash-success"' in page
    assert "enterprise_blacklisted" in page and "duplicate_row" in page
    assert 'value="100"' in page and "job-progress.js" not in page  # finished: no polling
    assert _not_chinese(page) == []

    status = client.get(f"/jobs/{job_id}/status").get_json()
    assert status["status"] == "done" and status["percent"] == 100 and status["finished"]

    report = _text(client.get(f"/jobs/{job_id}/report.csv")).lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(report)))
    assert lines[0] == ["行号", "结果", "原因", "统一社会信用代码", "电子券编号"]
    assert [line[:2] for line in lines[1:]] == [
        ["2", "成功"],
        ["3", "已拒绝"],
        ["4", "成功"],
        ["5", "已拒绝"],
    ]
    xlsx = client.get(f"/jobs/{job_id}/report.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.max_row == 5 and sheet["B3"].value == "已拒绝"

    # The same file again: a job that issues nothing and says so in the warning style.
    again = _job_id(_upload(client, programme, data))
    page = _text(client.get(f"/jobs/{again}"))
    assert 'class="flash flash-warning"' in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 2


def test_a_job_where_every_row_was_refused_is_a_warning(
    client, reviewer, programme, create_enterprise
):
    blacklisted = create_enterprise(blacklisted=True, blacklist_reason="失信")
    data = f"credit_code,amount_yuan\n{blacklisted.credit_code},5000\n".encode()
    page = _text(client.get(f"/jobs/{_job_id(_upload(client, programme, data))}"))
    assert re.search(r'class="flash flash-warning" role="status">[^<]*0[^<]*<', page)
    assert 'job-outcome" class="flash flash-success' not in page


def test_the_running_page_polls_and_offers_a_refresh_link(client, session, reviewer):
    job = BackgroundJob(
        owner_id=reviewer.id,
        kind="export",
        title="导出：审计记录（CSV）",
        handler=tracked.RUNNER,
        params={},
        status=JobStatus.QUEUED,
        done=0,
        summary={},
    )
    session.add(job)
    session.flush()
    page = _text(client.get(f"/jobs/{job.id}"))
    assert "js/job-progress.js" in page and f'data-job-status-url="/jobs/{job.id}/status"' in page
    assert f'href="/jobs/{job.id}"' in page  # without JavaScript: refresh
    status = client.get(f"/jobs/{job.id}/status")
    assert status.headers["Cache-Control"] == "no-store"
    assert status.get_json()["status"] == "queued" and not status.get_json()["finished"]


def test_only_the_owner_sees_a_job(
    client, session, reviewer, programme, create_enterprise, create_user
):
    data, _codes = _mixed_file(create_enterprise)
    job_id = _job_id(_upload(client, programme, data))
    assert client.get(f"/jobs/{job_id}").status_code == 200

    other = create_user(Role.REVIEWER)  # same role, not the owner
    AuthActions(client, session).logout()
    AuthActions(client, session).login(other)
    for path in ("", "/status", "/report.csv", "/report.xlsx", "/file"):
        assert client.get(f"/jobs/{job_id}{path}").status_code == 404, path
    AuthActions(client, session).logout()
    assert client.get(f"/jobs/{job_id}").status_code == 302  # anonymous: sign in first


def test_the_template_in_csv_and_xlsx_has_the_columns_and_sample_rows(
    client, session, reviewer, programme, create_enterprise
):
    text = _text(client.get("/admin/bulk-issuance-template.csv")).lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == list(issuance.TEMPLATE_HEADER) and len(lines) == 3
    workbook = client.get("/admin/bulk-issuance-template.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).active
    assert [c.value for c in sheet[1]] == list(issuance.TEMPLATE_HEADER)
    assert sheet.max_row == 3

    # Filled in as a spreadsheet and uploaded as XLSX: read like the CSV.
    enterprise = create_enterprise()
    sheet["A2"] = enterprise.credit_code
    sheet["B2"] = 12000  # a number, as a spreadsheet stores it
    sheet.delete_rows(3)
    filled = io.BytesIO()
    sheet.parent.save(filled)
    job_id = _job_id(_upload(client, programme, filled.getvalue(), "filled.xlsx"))
    job = session.get(BackgroundJob, job_id)
    session.refresh(job)
    assert [r["outcome"] for r in job.report] == ["ok"]
    assert session.scalars(sa.select(Voucher)).one().face_value_fen == 1_200_000


def test_an_unreadable_upload_is_refused_on_the_page_and_starts_no_job(
    client, session, reviewer, programme
):
    response = _upload(client, programme, b"PK\x03\x04 not really a workbook", "bad.xlsx")
    assert response.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(BackgroundJob)) == 0


def test_a_failing_job_is_recorded_failed_with_its_reason(session, app, create_user):
    owner = create_user(Role.REVIEWER)
    with app.test_request_context():
        job = tracked.start(
            session,
            owner_id=owner.id,
            kind="bulk_issuance",
            title="x",
            handler=issuance.JOB_HANDLER,
            params={"programme_id": 1},
            input_name="empty.csv",
            input_data=b"credit_code,amount_yuan\n",
        )
        session.flush()
        tracked.run(job.id)
        session.refresh(job)
        assert job.status is JobStatus.FAILED and job.finished_at is not None
        assert "没有数据行" in job.error
        tracked.run(job.id)  # a second worker (or RQ's retry) leaves a finished job alone
        session.refresh(job)
        assert job.status is JobStatus.FAILED


# --------------------------------------------------------------------------- exports


def _start_export(client, url: str):
    return client.post("/jobs/exports", data={"url": url})


def test_a_large_export_runs_as_a_job_under_the_screens_filters(
    app, client, session, create_user, auth, programme, create_enterprise
):
    reviewer = create_user(Role.REVIEWER)
    auth.login(reviewer)
    data, _codes = _mixed_file(create_enterprise)
    _job_id(_upload(client, programme, data))
    auth.logout()
    auditor = create_user(Role.AUDITOR)
    auth.login(auditor)
    wanted = session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action.like("vouchers.%"))
    )
    assert wanted and wanted < session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    # The file marks each record sealed or not, and the sealer runs after requests at most once
    # a second: sealed now, the job's file and the direct download below cannot differ by it.
    with app.app_context():
        chain.seal(session)

    job_id = _job_id(_start_export(client, "/admin/audit.csv?action=vouchers."))
    job = session.get(BackgroundJob, job_id)
    session.refresh(job)
    assert job.status is JobStatus.DONE, job.error
    assert (job.done, job.total) == (wanted, wanted) and job.summary == {"rows": wanted}
    # The file holds client addresses: the job records the export, as a direct download does.
    recorded = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "personal_data.exported")
    ).all()
    assert [(e.actor_id, e.detail["export"]) for e in recorded] == [(auditor.id, "audit_trail.csv")]
    page = _text(client.get(f"/jobs/{job_id}"))
    assert 'data-testid="job-file"' in page and "audit-trail.csv" in page
    assert _not_chinese(page) == []
    body = client.get(f"/jobs/{job_id}/file")
    assert body.headers["Content-Disposition"].endswith("audit-trail.csv")
    lines = list(csv.reader(io.StringIO(body.get_data(as_text=True).lstrip("\ufeff"))))
    body.close()
    direct = _text(client.get("/admin/audit.csv?action=vouchers.")).lstrip("\ufeff")
    assert lines == list(csv.reader(io.StringIO(direct)))  # the very same file
    assert len(lines) == wanted + 1

    xlsx_id = _job_id(_start_export(client, "/admin/audit.xlsx?action=vouchers.&lang=en"))
    body = client.get(f"/jobs/{xlsx_id}/file")
    sheet = openpyxl.load_workbook(io.BytesIO(body.data)).active
    body.close()
    assert sheet.max_row == wanted + 1 and sheet["A1"].value == "id"  # the language asked for

    auth.logout()
    auth.login(reviewer)  # not the owner
    assert client.get(f"/jobs/{job_id}/file").status_code == 404


def test_an_export_job_keeps_the_exports_permissions(client, session, create_user, auth):
    sme = create_user(Role.ENTERPRISE)
    auth.login(sme)
    # Not an export: refused at once.
    assert _start_export(client, "/admin/programmes").status_code == 404
    assert _start_export(client, "https://elsewhere.example/admin/audit.csv").status_code == 404
    # An administrators' export asked for by an SME: the job runs as the SME and is refused.
    job_id = _job_id(_start_export(client, "/admin/audit.csv"))
    job = session.get(BackgroundJob, job_id)
    session.refresh(job)
    assert job.status is JobStatus.FAILED and job.result_path is None
    assert client.get(f"/jobs/{job_id}/file").status_code == 404
    # Its own orders: allowed.
    mine = _job_id(_start_export(client, "/orders/export.csv"))
    job = session.get(BackgroundJob, mine)
    session.refresh(job)
    assert job.status is JobStatus.DONE and job.result_name == "orders.csv"


# --------------------------------------------------------------------------- where jobs run


def test_without_redis_a_job_runs_on_a_worker_thread(
    make_app, session, create_user, programme, create_enterprise, monkeypatch
):
    app = make_app(JOBS_AFTER_RESPONSE="true")
    client = app.test_client()
    reviewer = create_user(Role.REVIEWER)
    AuthActions(client, session).login(reviewer)
    readers: list[str] = []
    real = issuance.parse_upload

    def noting_thread(*args, **kwargs):
        readers.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(issuance, "parse_upload", noting_thread)
    data, _codes = _mixed_file(create_enterprise)
    response = _upload(client, programme, data)
    job_id = _job_id(response)
    response.close()
    jobs.join_threads(timeout=120)
    job = session.get(BackgroundJob, job_id)
    session.refresh(job)
    assert job.status is JobStatus.DONE and job.summary["ok"] == 2
    assert [r["outcome"] for r in job.report] == ["ok", "refused", "ok", "refused"]
    # The request only checked the file; the job's own reading was on a worker thread.
    assert any(name.startswith("job ") for name in readers), readers


@pytest.fixture
def redis_queue_name():
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except RedisError:
        if IN_CI:
            pytest.fail(f"Redis is needed at {REDIS_URL} for the RQ worker test", pytrace=False)
        pytest.skip(f"!!! no Redis at {REDIS_URL}: the RQ worker test cannot run")
    return f"test-jobs-{uuid.uuid4().hex[:12]}"


def test_with_redis_a_real_rq_worker_runs_the_job(
    make_app, session, create_user, programme, create_enterprise, redis_queue_name
):
    app = make_app(REDIS_URL=REDIS_URL, JOB_QUEUE=redis_queue_name)
    client = app.test_client()
    reviewer = create_user(Role.REVIEWER)
    AuthActions(client, session).login(reviewer)
    data, _codes = _mixed_file(create_enterprise)
    job_id = _job_id(_upload(client, programme, data))
    job = session.get(BackgroundJob, job_id)
    assert job.status is JobStatus.QUEUED
    with app.app_context():
        queue = jobs.queue(current_settings())
        try:
            assert queue.count == 1
            worker = SimpleWorker([queue], connection=queue.connection)
            assert worker.work(burst=True)
        finally:
            queue.delete(delete_jobs=True)
    session.refresh(job)
    assert job.status is JobStatus.DONE and job.summary["ok"] == 2
    status = client.get(f"/jobs/{job_id}/status").get_json()
    assert status["percent"] == 100 and status["status_label"] == "已完成"


def test_with_redis_down_the_job_runs_on_a_worker_thread_instead(
    make_app, session, create_user, programme, create_enterprise, caplog
):
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens on the discard port
    client = app.test_client()
    reviewer = create_user(Role.REVIEWER)
    AuthActions(client, session).login(reviewer)
    data, _codes = _mixed_file(create_enterprise)
    response = _upload(client, programme, data)
    job = session.get(BackgroundJob, _job_id(response))
    assert "could not queue job" in caplog.text
    response.close()
    jobs.join_threads(timeout=120)
    session.refresh(job)
    assert job.status is JobStatus.DONE and job.summary["ok"] == 2
