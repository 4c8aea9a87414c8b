"""The durable record of a long job someone started from a page (a bulk issuance, a large
export): who owns it, where it is (queued → running → done or failed), how far it has come,
and what it produced (a file, a per-row report). The page that started it polls this row."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigInt, IdMixin, enum_column, utcnow
from marketplace.enums import LabelledEnum
from marketplace.statemachine import StateMachine


class JobStatus(LabelledEnum):
    QUEUED = "queued", "排队中", "Queued"
    RUNNING = "running", "进行中", "Running"
    DONE = "done", "已完成", "Done"
    FAILED = "failed", "失败", "Failed"


class JobAction(StrEnum):
    START = "start"
    FINISH = "finish"
    FAIL = "fail"


#: A job is queued when asked for, runs once a worker takes it, and ends done or failed; a job
#: that could not even start (its worker refused it) fails from the queue.
JOB = StateMachine(
    "job",
    {
        (JobStatus.QUEUED, JobAction.START): JobStatus.RUNNING,
        (JobStatus.QUEUED, JobAction.FAIL): JobStatus.FAILED,
        (JobStatus.RUNNING, JobAction.FINISH): JobStatus.DONE,
        (JobStatus.RUNNING, JobAction.FAIL): JobStatus.FAILED,
    },
)

#: Outcomes of a row in a per-row report.
ROW_OK = "ok"
ROW_REFUSED = "refused"


class BackgroundJob(IdMixin, Base):
    __tablename__ = "background_jobs"

    owner_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: What kind of work (``bulk_issuance``, ``export``): chooses the page's wording.
    kind: Mapped[str] = mapped_column(sa.String(40))
    #: What the owner reads in the page's title (already in the owner's language).
    title: Mapped[str] = mapped_column(sa.String(200))
    #: ``package.module.function(context)`` that does the work (jobs.resolve checks it).
    handler: Mapped[str] = mapped_column(sa.String(200))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The uploaded file the job reads (a bulk issuance's rows), kept with the job.
    input_name: Mapped[str | None] = mapped_column(sa.String(200))
    input_data: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    status: Mapped[JobStatus] = enum_column(JobStatus, "job_status", default=JobStatus.QUEUED)
    done: Mapped[int] = mapped_column(sa.Integer, default=0)
    total: Mapped[int | None] = mapped_column(sa.Integer)
    #: Per-row outcomes: [{"row": 2, "outcome": "ok"|"refused", "reason": "…", …}].
    report: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    #: Counts and links for the page at the end ({"ok": 3, "refused": 1, "batch_id": 7}).
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The file the job wrote (under the instance's job directory) and its download name.
    result_path: Mapped[str | None] = mapped_column(sa.String(500))
    result_name: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        sa.CheckConstraint("done >= 0", name="done_not_negative"),
        sa.CheckConstraint(
            "(status IN ('done', 'failed')) = (finished_at IS NOT NULL)", name="finished_has_time"
        ),
    )

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.status is JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.done * 100 // self.total)
