"""Long jobs a person waits for, with a durable record the page polls (issue 13, point 8).

A page starts one with :func:`start` inside its request; the record is written in the
request's transaction and the work is queued for after the commit (:func:`marketplace.jobs.enqueue`
with ``long=True``: RQ with Redis, a worker thread without). The worker calls :func:`run`,
which moves the record queued → running, hands a :class:`JobContext` to the job's handler and
ends it done (with its per-row report, summary or file) or failed (with the reason).

The handler does its work in chunks, each in its own transaction (``context.transaction()``),
and reports ``context.progress(session, done, total)`` inside the chunk, so the progress is
committed with the work it counts. Only the job's owner sees it: :func:`owned` answers
NotFound for anyone else's job, and :func:`of_owner` lists a person's own jobs.

:func:`sweep` (``flask jobs sweep``, from cron) keeps the records honest and the disk small: a
job still queued or running long after any worker would have finished it was abandoned (its
process stopped: a deploy, a crash) and ends *failed* saying so; a finished job's file and
uploaded input are removed after :data:`KEPT_FOR` (the record and its per-row report stay);
files no finished job refers to (left by a job that failed mid-write) are removed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import jobs
from marketplace.config import current_settings
from marketplace.db import after_commit, unit_of_work, utcnow
from marketplace.errors import NotFound
from marketplace.jobs.models import JOB, BackgroundJob, JobAction, JobStatus

log = logging.getLogger(__name__)

RUNNER = "marketplace.jobs.tracked.run"
#: The columns of a per-row report file.
REPORT_KEYS = ("row", "outcome", "reason")
#: How long a finished job's file and uploaded input are kept; the record itself stays.
KEPT_FOR = timedelta(days=7)
#: A job queued or running for this long was abandoned: RQ stops a long job after
#: ``LONG_JOB_TIMEOUT``, and a worker thread dies with its process.
ABANDONED_AFTER = timedelta(seconds=2 * jobs.LONG_JOB_TIMEOUT)
ABANDONED = "任务中断：执行它的进程已停止，请重新开始 / interrupted: its worker stopped; please start it again"
#: Files jobs write: ``job-<id>.<suffix>`` (see JobContext.result_path).
_JOB_FILE = re.compile(r"^job-(\d+)\.")


def job_dir() -> Path:
    """Where jobs write their files (the instance's ``jobs`` directory)."""
    path = current_settings().instance_dir / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def start(
    session: Session,
    *,
    owner_id: int,
    kind: str,
    title: str,
    handler: str,
    params: Mapping[str, Any] | None = None,
    input_name: str | None = None,
    input_data: bytes | None = None,
) -> BackgroundJob:
    """Record a job for ``owner_id`` and queue ``handler(context)`` for after the commit.

    Raises JobError when ``handler`` is not one of the application's functions.
    """
    jobs.resolve(handler)
    job = BackgroundJob(
        owner_id=owner_id,
        kind=kind,
        title=title[:200],
        handler=handler,
        params=dict(params or {}),
        input_name=input_name,
        input_data=input_data,
        status=JobStatus.QUEUED,
        done=0,
        summary={},
    )
    session.add(job)
    session.flush()
    jobs.enqueue(session, RUNNER, job.id, long=True)
    return job


def owned(session: Session, job_id: int, user_id: int) -> BackgroundJob:
    """The job ``job_id`` if ``user_id`` owns it; NotFound otherwise (also for others' jobs,
    so that an id reveals nothing)."""
    job = session.get(BackgroundJob, job_id)
    if job is None or job.owner_id != user_id:
        raise NotFound("没有这个任务 / no such job")
    return job


def of_owner(
    session: Session, owner_id: int, *, before: int | None = None, limit: int = 20
) -> list[BackgroundJob]:
    """``owner_id``'s jobs, newest first; ``before`` (a job id) gives the next page."""
    stmt = sa.select(BackgroundJob).where(BackgroundJob.owner_id == owner_id)
    if before is not None:
        stmt = stmt.where(BackgroundJob.id < before)
    return list(session.scalars(stmt.order_by(BackgroundJob.id.desc()).limit(limit)))


@dataclass
class JobContext:
    """What a handler gets: the job's id, owner, parameters and input, and its transactions."""

    job_id: int
    owner_id: int
    params: dict[str, Any]
    input_name: str | None
    input_data: bytes | None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One chunk of the work: committed on success, rolled back on an error."""
        with unit_of_work() as session:
            yield session

    def job(self, session: Session) -> BackgroundJob:
        job = session.get(BackgroundJob, self.job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"job {self.job_id} vanished")
        return job

    def progress(self, session: Session, done: int, total: int | None = None) -> None:
        """Record how far the job has come, in the chunk's transaction."""
        job = self.job(session)
        job.done = done
        if total is not None:
            job.total = total

    def result_path(self, suffix: str) -> Path:
        return job_dir() / f"job-{self.job_id}{suffix}"

    def finish(
        self,
        session: Session,
        *,
        summary: Mapping[str, Any] | None = None,
        report: Sequence[Mapping[str, Any]] | None = None,
        result_path: Path | None = None,
        result_name: str | None = None,
    ) -> None:
        """End the job done, in the last chunk's transaction (so the result and the record
        commit together)."""
        job = self.job(session)
        JOB.move(job, JobAction.FINISH)
        job.finished_at = utcnow()
        job.summary = dict(summary or {})
        if report is not None:
            job.report = [dict(row) for row in report]
        if result_path is not None:
            job.result_path = str(result_path)
            job.result_name = result_name
        if job.total is None:
            job.total = job.done


@jobs.own_transactions
def run(job_id: int) -> None:
    """Run the job ``job_id`` (RQ or a worker thread). A job that is no longer queued (run
    already, by a retry or a second worker) is left alone; a handler's exception ends it
    failed with the reason, and is not raised again (the record says what happened)."""
    with unit_of_work() as session:
        job = session.get(BackgroundJob, job_id, with_for_update=True)
        if job is None or job.status is not JobStatus.QUEUED:
            return
        JOB.move(job, JobAction.START)
        job.started_at = utcnow()
        context = JobContext(job.id, job.owner_id, dict(job.params), job.input_name, job.input_data)
        handler = job.handler
    try:
        jobs.resolve(handler)(context)
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, handler)
        _fail(job_id, exc)
        return
    with unit_of_work() as session:
        job = session.get(BackgroundJob, job_id)
        if job is not None and job.status is JobStatus.RUNNING:
            # The handler returned without finishing: nothing to show, but it is over.
            JOB.move(job, JobAction.FINISH)
            job.finished_at = utcnow()


def _fail(job_id: int, exc: Exception) -> None:
    reason = getattr(exc, "message", None) or f"{type(exc).__name__}"
    with unit_of_work() as session:
        job = session.get(BackgroundJob, job_id, with_for_update=True)
        if job is None or job.finished:
            return
        JOB.move(job, JobAction.FAIL)
        job.finished_at = utcnow()
        job.error = str(reason)[:500]
        if job.result_path and os.path.exists(job.result_path):
            os.unlink(job.result_path)
        job.result_path = None


def status_document(job: BackgroundJob, lang: str) -> dict[str, Any]:
    """What the polling page reads (also the API's job resource)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "title": job.title,
        "status": job.status.value,
        "status_label": job.status.en if lang == "en" else job.status.zh,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "finished": job.finished,
        "summary": job.summary,
        "error": job.error,
        "has_file": bool(job.result_path),
        "has_report": job.report is not None,
    }


@dataclass(frozen=True)
class SweepResult:
    abandoned: list[int]
    expired: list[int]
    stray_files: list[str]


def _remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def sweep(session: Session, *, now: datetime | None = None) -> SweepResult:
    """End abandoned jobs, expire old files, find stray ones; the files go after the commit."""
    now = now or utcnow()
    abandoned = list(
        session.scalars(
            sa.select(BackgroundJob)
            .where(
                sa.or_(
                    sa.and_(
                        BackgroundJob.status == JobStatus.QUEUED,
                        BackgroundJob.created_at < now - ABANDONED_AFTER,
                    ),
                    sa.and_(
                        BackgroundJob.status == JobStatus.RUNNING,
                        BackgroundJob.started_at < now - ABANDONED_AFTER,
                    ),
                )
            )
            .with_for_update()
        )
    )
    for job in abandoned:
        JOB.move(job, JobAction.FAIL)
        job.finished_at = now
        job.error = ABANDONED
    expired = list(
        session.scalars(
            sa.select(BackgroundJob)
            .where(
                BackgroundJob.finished_at < now - KEPT_FOR,
                sa.or_(
                    BackgroundJob.result_path.is_not(None), BackgroundJob.input_data.is_not(None)
                ),
            )
            .with_for_update()
        )
    )
    doomed: list[Path] = []
    for job in expired:
        if job.result_path:
            doomed.append(Path(job.result_path))
        job.result_path = None
        job.input_data = None
        job.summary = {**job.summary, "expired": True}
    session.flush()
    # A file is kept while its job may still write it or its record points at it.
    files = {
        path: int(match.group(1))
        for path in sorted(job_dir().iterdir())
        if (match := _JOB_FILE.match(path.name)) is not None and path.is_file()
    }
    known = {
        job_id: (status, result_path)
        for job_id, status, result_path in session.execute(
            sa.select(BackgroundJob.id, BackgroundJob.status, BackgroundJob.result_path).where(
                BackgroundJob.id.in_(set(files.values()))
            )
        )
    }
    stray = [
        path
        for path, job_id in files.items()
        if path not in doomed
        and (
            (record := known.get(job_id)) is None
            or (record[0] not in (JobStatus.QUEUED, JobStatus.RUNNING) and record[1] != str(path))
        )
    ]
    after_commit(session, lambda: _remove_files([*doomed, *stray]))
    return SweepResult(
        abandoned=[job.id for job in abandoned],
        expired=[job.id for job in expired],
        stray_files=[path.name for path in stray],
    )
