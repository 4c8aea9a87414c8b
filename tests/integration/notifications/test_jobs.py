"""The job queue: after-commit dispatch, inline without Redis, through RQ on the real Redis."""

from __future__ import annotations

import logging

import pytest
from rq import Queue, SimpleWorker

from marketplace import jobs
from marketplace.db import commit, rollback
from marketplace.notifications import notify
from marketplace.notifications.models import EmailStatus, OutboundEmail
from marketplace.payments import services
from tests.conftest import rows
from tests.support.payment_fixtures import stripe_config, unique_reference


def _queue(app) -> Queue:
    return jobs.queue(app.config["SETTINGS"])


def _work(app, queue: Queue) -> None:
    """An RQ worker in this process, burst mode: runs what is queued, then returns."""
    # Named after the queue, so the fixture's cleanup removes its registration keys too.
    worker = SimpleWorker([queue], connection=queue.connection, name=f"{queue.name}-worker")
    with app.app_context():
        worker.work(burst=True, logging_level="WARNING")


@pytest.fixture
def rq_app(make_app, redis_url, job_queue_name, smtp_server):
    return make_app(REDIS_URL=redis_url, JOB_QUEUE=job_queue_name, **smtp_server.config)


def test_with_redis_the_mail_goes_through_rq_after_the_commit(
    session, rq_app, mailbox, create_user
):
    user = create_user()
    queue = _queue(rq_app)
    with rq_app.app_context():
        message = notify(
            session,
            user,
            "payment_received",
            name="x",
            amount_fen=900,
            description="d",
            payment_id=3,
        )
        assert queue.count == 0  # nothing before the commit
        commit(session)
    assert queue.count == 1
    assert mailbox.messages == []  # queued, not yet run

    _work(rq_app, queue)

    assert queue.count == 0
    [mail] = mailbox.to(user.email)
    assert mail["Subject"].startswith("付款成功：¥9.00")
    session.refresh(message)
    assert message.status is EmailStatus.SENT
    assert len(queue.finished_job_registry) == 1


def test_with_redis_a_rollback_queues_nothing(session, rq_app, mailbox, create_user):
    user = create_user()
    queue = _queue(rq_app)
    with rq_app.app_context():
        notify(
            session, user, "payment_received", name="x", amount_fen=1, description="d", payment_id=1
        )
        rollback(session)
        commit(session)
    assert queue.count == 0
    _work(rq_app, queue)
    assert mailbox.messages == []
    assert rows(session, OutboundEmail, OutboundEmail.user_id == user.id) == []


def test_with_redis_the_payment_intent_is_opened_by_the_worker(
    session, make_app, redis_url, job_queue_name, local_stripe, stripe_keys, dashboard
):
    app = make_app(
        REDIS_URL=redis_url, JOB_QUEUE=job_queue_name, **stripe_config(local_stripe, stripe_keys)
    )
    queue = _queue(app)
    with app.app_context():
        payment = services.start_payment(session, unique_reference(), 8_800, description="rq")
        commit(session)
    assert dashboard.intents_for(payment.reference) == []
    _work(app, queue)
    [intent] = dashboard.intents_for(payment.reference)
    session.refresh(payment)
    assert payment.external_id == intent["id"]


def test_enqueue_refuses_mistakes_at_once(session, app):
    with app.app_context():
        with pytest.raises(jobs.JobError, match="outside"):
            jobs.enqueue(session, "os.system", "true")
        with pytest.raises(jobs.JobError, match="does not name"):
            jobs.enqueue(session, "marketplace.notifications.services.no_such_job", 1)
        with pytest.raises(jobs.JobError, match="plain value"):
            jobs.enqueue(session, "marketplace.notifications.services.deliver", object())
        with pytest.raises(jobs.JobError, match="REDIS_URL"):
            jobs.queue(app.config["SETTINGS"])
    # Nothing queued but the audit trail's sealing job (queued by any recording, at most once a
    # second per process, so its presence here depends on timing).
    assert not [
        c for c in session.info.get("after_commit_callbacks", []) if "seal_job" not in repr(c)
    ]


def test_inline_job_runs_in_its_own_transaction_and_failures_are_logged(session, app, caplog):
    with app.app_context():
        jobs.enqueue(session, "marketplace.payments.services.sync_from_gateway", 10**9)
        with caplog.at_level(logging.ERROR, logger="marketplace.jobs"):
            commit(session)
    [failure] = [r for r in caplog.records if "inline job" in r.getMessage()]
    assert "sync_from_gateway" in failure.getMessage()
    assert failure.exc_info is not None and "payment_not_found" in repr(failure.exc_info[1].code)
