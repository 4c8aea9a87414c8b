"""Background jobs over time: each person's list of their own jobs, and ``flask jobs sweep``
(abandoned jobs end failed saying why; files are removed after their keeping time or when no
job refers to them; a running job's file is never touched)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.jobs import tracked
from marketplace.jobs.models import BackgroundJob, JobStatus
from tests.support.fixtures import AuthActions


def _job(session, owner, status=JobStatus.DONE, *, age=timedelta(0), **fields):
    started = utcnow() - age
    finished = status in (JobStatus.DONE, JobStatus.FAILED)
    job = BackgroundJob(
        owner_id=owner.id,
        kind="export",
        title=fields.pop("title", "导出：订单（CSV）"),
        handler=tracked.RUNNER,
        params={},
        status=status,
        done=0,
        summary={},
        created_at=started,
        started_at=None if status is JobStatus.QUEUED else started,
        finished_at=started if finished else None,
        **fields,
    )
    session.add(job)
    session.flush()
    return job


@pytest.fixture
def reviewer(create_user, auth):
    user = create_user(Role.REVIEWER)
    auth.login(user)
    return user


def test_my_jobs_lists_only_mine_newest_first_a_page_at_a_time(
    client, session, reviewer, create_user
):
    other = create_user(Role.REVIEWER)
    theirs = _job(session, other, title="别人的导出")
    mine = [_job(session, reviewer, title=f"导出 {n:02d}") for n in range(23)]
    page = client.get("/jobs/").get_data(as_text=True)
    assert "别人的导出" not in page and f'href="/jobs/{theirs.id}"' not in page
    shown = [f"导出 {n:02d}" for n in range(22, 2, -1)]  # the newest 20
    positions = [page.index(title) for title in shown]
    assert positions == sorted(positions)
    assert "导出 02" not in page
    older = client.get(f"/jobs/?before={mine[3].id}").get_data(as_text=True)
    assert all(f"导出 {n:02d}" in older for n in (0, 1, 2)) and "导出 03" not in older
    assert 'data-testid="older-jobs"' not in older


def test_my_jobs_when_there_are_none(client, reviewer):
    page = client.get("/jobs/?lang=en").get_data(as_text=True)
    assert 'data-testid="no-jobs"' in page


def test_my_jobs_needs_a_sign_in(client, session, create_user):
    AuthActions(client, session).logout()
    assert client.get("/jobs/").status_code == 302


def _sweep(app):
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_sweep_ends_abandoned_jobs_and_keeps_live_ones(app, session, reviewer):
    limit = tracked.ABANDONED_AFTER
    stale_queued = _job(session, reviewer, JobStatus.QUEUED, age=limit + timedelta(minutes=1))
    stale_running = _job(session, reviewer, JobStatus.RUNNING, age=limit + timedelta(minutes=1))
    live = _job(session, reviewer, JobStatus.RUNNING, age=limit - timedelta(minutes=1))
    fresh = _job(session, reviewer, JobStatus.QUEUED)
    assert "2 abandoned job(s) ended" in _sweep(app)
    for job in (stale_queued, stale_running, live, fresh):
        session.refresh(job)
    assert stale_queued.status is JobStatus.FAILED and stale_running.status is JobStatus.FAILED
    assert stale_running.error == tracked.ABANDONED and stale_running.finished_at is not None
    assert live.status is JobStatus.RUNNING and fresh.status is JobStatus.QUEUED


def test_the_sweep_removes_expired_and_stray_files_after_the_commit(app, client, session, reviewer):
    with app.app_context():
        directory = tracked.job_dir()
    kept_for = tracked.KEPT_FOR
    old = _job(session, reviewer, age=kept_for + timedelta(hours=1), input_data=b"credit codes")
    recent = _job(session, reviewer, age=kept_for - timedelta(hours=1))
    running = _job(session, reviewer, JobStatus.RUNNING)
    failed = _job(session, reviewer, JobStatus.FAILED)
    files = {}
    for job in (old, recent, running, failed):
        files[job.id] = directory / f"job-{job.id}.csv"
        files[job.id].write_text("a,b\n", encoding="utf-8")
    old.result_path, old.result_name = str(files[old.id]), "old.csv"
    recent.result_path, recent.result_name = str(files[recent.id]), "recent.csv"
    session.flush()
    unknown = directory / "job-999999999.xlsx"  # no such job
    unknown.write_text("x", encoding="utf-8")
    unrelated = directory / "README.txt"
    unrelated.write_text("not ours", encoding="utf-8")

    output = _sweep(app)
    assert "1 job(s) past 7 days cleared, 2 stray file(s) removed" in output
    assert not files[old.id].exists() and not unknown.exists()
    assert not files[failed.id].exists()  # a failed job's partial file
    assert files[recent.id].exists() and files[running.id].exists() and unrelated.exists()
    session.refresh(old)
    assert old.result_path is None and old.input_data is None and old.summary["expired"]

    page = client.get(f"/jobs/{old.id}").get_data(as_text=True)
    assert 'data-testid="job-expired"' in page and 'data-testid="job-file"' not in page
    assert client.get(f"/jobs/{old.id}/file").status_code == 404
    assert "0 job(s) past 7 days cleared, 0 stray file(s) removed" in _sweep(app)


def test_a_sweep_that_fails_removes_no_file(app, session, reviewer, monkeypatch):
    with app.app_context():
        directory = tracked.job_dir()
    stray = directory / "job-999999998.csv"
    stray.write_text("x", encoding="utf-8")

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away mid-sweep")

    monkeypatch.setattr(tracked.JOB, "move", broken)
    _job(session, reviewer, JobStatus.QUEUED, age=tracked.ABANDONED_AFTER * 2)
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code != 0
    assert stray.exists()  # files go only once the sweep's transaction committed
