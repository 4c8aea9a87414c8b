"""Business metrics, read from the database (and Redis) at scrape time.

Why from the database and not counters bumped in the code: gunicorn runs several worker
processes and restarts them; a count kept in one process's memory would be partial and reset
on every deploy. The database holds the truth for every worker, so the totals below are exact
and monotonic, and Prometheus derives the per-minute rates:
``rate(marketplace_holds_placed_total[5m]) * 60``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.db import utcnow
from marketplace.jobs import queue
from marketplace.notifications.models import EmailStatus, OutboundEmail
from marketplace.settlement.enums import PayoutLineStatus
from marketplace.settlement.models import PayoutLine
from vouchers import programmes
from vouchers.enums import HoldStatus
from vouchers.models import Hold

log = logging.getLogger(__name__)


def _age_seconds(oldest: datetime | None, now: datetime) -> float:
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


class BusinessCollector(Collector):
    """One scrape: a handful of aggregate queries in one read-only session."""

    def __init__(self, session: Session, settings: Settings, *, now: datetime | None = None):
        self.session = session
        self.settings = settings
        self.now = now or utcnow()

    def collect(self) -> Iterator[Any]:
        yield from self._money_movements()
        yield from self._outbox()
        yield from self._budgets()
        yield from self._queue()

    def _money_movements(self) -> Iterator[Any]:
        s = self.session
        placed = s.scalar(sa.select(sa.func.count()).select_from(Hold)) or 0
        holds = CounterMetricFamily(
            "marketplace_holds_placed", "Voucher holds ever placed (rate() gives holds per minute)"
        )
        holds.add_metric([], placed)
        yield holds
        captured = (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(Hold)
                .where(Hold.status == HoldStatus.CAPTURED)
            )
            or 0
        )
        captures = CounterMetricFamily(
            "marketplace_hold_captures", "Voucher holds captured (voucher money spent)"
        )
        captures.add_metric([], captured)
        yield captures
        paid_count, paid_fen = s.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(PayoutLine.amount_fen), 0))
            .select_from(PayoutLine)
            .where(PayoutLine.status == PayoutLineStatus.PAID)
        ).one()
        payouts = CounterMetricFamily(
            "marketplace_payouts", "Payout lines the bank confirmed as paid"
        )
        payouts.add_metric([], int(paid_count))
        yield payouts
        payout_fen = CounterMetricFamily(
            "marketplace_payouts_fen", "Money paid out to providers, in fen"
        )
        payout_fen.add_metric([], int(paid_fen))
        yield payout_fen

    def _outbox(self) -> Iterator[Any]:
        count, oldest = self.session.execute(
            sa.select(sa.func.count(), sa.func.min(OutboundEmail.created_at)).where(
                OutboundEmail.status == EmailStatus.QUEUED
            )
        ).one()
        backlog = GaugeMetricFamily("marketplace_outbox_backlog", "E-mails queued, not yet sent")
        backlog.add_metric([], int(count))
        yield backlog
        age = GaugeMetricFamily(
            "marketplace_outbox_oldest_age_seconds", "Age of the oldest unsent e-mail"
        )
        age.add_metric([], _age_seconds(_aware(oldest), self.now))
        yield age

    def _budgets(self) -> Iterator[Any]:
        available = GaugeMetricFamily(
            "marketplace_budget_available_fen",
            "Budget headroom per programme: not yet granted as vouchers, in fen",
            labels=("programme_id", "year", "kind"),
        )
        ratio = GaugeMetricFamily(
            "marketplace_budget_available_ratio",
            "Budget headroom per programme as a share of its total (0-1)",
            labels=("programme_id", "year", "kind"),
        )
        for budget in programmes.budgets(self.session):
            labels = [
                str(budget.programme.id),
                str(budget.programme.year),
                budget.programme.kind.value,
            ]
            available.add_metric(labels, budget.available_fen)
            ratio.add_metric(
                labels, budget.available_fen / budget.total_fen if budget.total_fen else 0.0
            )
        yield available
        yield ratio

    def _queue(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "marketplace_redis_up", "1 when Redis answers (only when REDIS_URL is set)"
        )
        if not self.settings.redis_url:
            return
        depth = GaugeMetricFamily("marketplace_job_queue_depth", "Jobs waiting in the queue")
        age = GaugeMetricFamily(
            "marketplace_job_queue_oldest_age_seconds", "Age of the oldest waiting job"
        )
        failed = GaugeMetricFamily(
            "marketplace_jobs_failed", "Jobs that failed after their retries (RQ failed registry)"
        )
        try:
            depth_value, oldest, failed_value = _queue_state(self.settings)
        except Exception:
            log.warning("metrics: Redis unavailable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        depth.add_metric([], depth_value)
        age.add_metric([], _age_seconds(oldest, self.now))
        failed.add_metric([], failed_value)
        yield from (up, depth, age, failed)


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type: SQLite hands back a naive UTC value (or a string).
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=utcnow().tzinfo)


def _queue_state(settings: Settings) -> tuple[int, datetime | None, int]:
    q = queue(settings)
    depth = q.count
    oldest: datetime | None = None
    ids = q.get_job_ids(0, 1)
    if ids:
        job = q.fetch_job(ids[0])
        if job is not None and job.enqueued_at is not None:
            oldest = _aware(job.enqueued_at)
    return depth, oldest, len(q.failed_job_registry)
