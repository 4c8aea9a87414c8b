"""Background jobs that run only after the unit of work that asked for them has committed.

Usage, from any service::

    from marketplace import jobs

    jobs.enqueue(session, "marketplace.notifications.services.deliver", message.id)

``enqueue`` registers an :func:`marketplace.db.after_commit` callback on ``session``; a rollback
drops the job, so nothing is ever sent or called for data that was not saved. After the commit
the job either

* runs **inline**, in the same process, when ``REDIS_URL`` is not set (development, the demo),
  after the response has been sent when the job was asked for by a request
  (``JOBS_AFTER_RESPONSE``, on except in tests); a failure is logged and never turns the
  already-committed request into an error; or
* goes onto the **RQ** queue ``JOB_QUEUE`` on Redis, where ``flask jobs worker`` runs it and
  RQ retries a failure three times (after 10 s, 1 min and 5 min).

Either way the job function runs in **its own transaction** (:func:`marketplace.db.run_in_transaction`)
and is called as ``func(session, *args)``. Arguments must be plain values (ids, strings,
numbers): the job reloads its rows, so it sees the committed state, not a stale copy.

**Long jobs** a person waits for (a bulk issuance, a large export: :mod:`marketplace.jobs.tracked`)
are the same jobs with ``long=True``: without Redis they run on a **worker thread** once the
request's response has been sent (so the page that started them can poll their progress;
with ``JOBS_AFTER_RESPONSE`` off, as in tests, at the commit like any job), and RQ does not
retry them: their durable record says *failed*, and the owner starts again.
Their function manages its own transactions (:func:`own_transactions`), one per chunk of
work, so that its progress is committed as it goes.

Jobs must be safe to run twice (RQ retries, a crash after the work but before the commit):
every job in this code base checks the row's state first and derives any outbound
idempotency key from the row. Work whose dispatch was lost (Redis down at commit time) is
picked up by each area's sweeper command (``flask payments sync``,
``flask notifications send-pending``).

The id of the request that queued a job (:mod:`marketplace.observability`) travels with it:
every log line the job writes carries the same ``request_id`` as the request's own line.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import current_app, has_app_context, has_request_context
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from marketplace.config import Settings, current_settings
from marketplace.db import (
    after_commit,
    after_response,
    db_session,
    run_in_transaction,
    transactional_command,
)
from marketplace.observability import current_request_id, request_id_bound

log = logging.getLogger(__name__)

JobArg = str | int | float | bool | None
#: Only functions in our own packages may be named by a job (the queue is not a way to run
#: arbitrary code).
ALLOWED_PREFIXES = ("marketplace.", "vouchers.", "providers.")
RETRY_INTERVALS = (10, 60, 300)
#: RQ's time limit for a long job (seconds): a million-row export takes minutes, not hours.
LONG_JOB_TIMEOUT = 3600


class JobError(ValueError):
    """A job was declared wrongly (unknown function, unsupported argument)."""


def resolve(func_path: str) -> Callable[..., Any]:
    """The function named ``package.module.function``; JobError if it is not one of ours."""
    if not func_path.startswith(ALLOWED_PREFIXES):
        raise JobError(f"job {func_path!r} is outside the application's packages")
    module_name, _, name = func_path.rpartition(".")
    try:
        func = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise JobError(f"job {func_path!r} does not name a function") from None
    if not callable(func):
        raise JobError(f"job {func_path!r} does not name a function")
    return func


F = TypeVar("F", bound=Callable[..., Any])


def own_transactions(func: F) -> F:
    """Mark a job function that opens its own transactions (``func(*args)``, no session):
    a long job commits its progress chunk by chunk."""
    func.own_transactions = True  # type: ignore[attr-defined]
    return func


def enqueue(session: Session, func_path: str, *args: JobArg, long: bool = False) -> None:
    """Run ``func_path(session, *args)`` in its own transaction once ``session`` commits
    (``long``: on a worker thread without Redis, never retried by RQ; see the module's notes).

    Raises JobError at once (inside the caller's transaction) for an unknown function or an
    argument that is not a plain value, so mistakes surface where they are made.
    """
    resolve(func_path)
    for arg in args:
        if not isinstance(arg, str | int | float | bool | type(None)):
            raise JobError(f"job argument {arg!r} is not a plain value")
    settings: Settings = current_settings()
    after_commit(
        session,
        functools.partial(_dispatch, settings, func_path, args, current_request_id(), long=long),
    )


def dispatch_now(func_path: str, *args: JobArg) -> None:
    """Run (or queue) a job now, outside any unit of work: for a notice that must go out even
    though the request that asked for it failed (a sign-in refused and rolled back). The job
    still runs in its own transaction."""
    resolve(func_path)
    _dispatch(current_settings(), func_path, args, current_request_id())


def _dispatch(
    settings: Settings,
    func_path: str,
    args: tuple[JobArg, ...],
    request_id: str | None = None,
    *,
    long: bool = False,
) -> None:
    if settings.redis_url:
        from redis.exceptions import RedisError
        from rq import Retry

        retry = None if long else Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS))
        try:
            queue(settings).enqueue(
                run_job,
                func_path,
                *args,
                request_id=request_id,
                retry=retry,
                description=func_path,
                job_timeout=LONG_JOB_TIMEOUT if long else None,
            )
        except RedisError:
            # The commit stands; the sweeper commands redo work whose dispatch was lost.
            log.exception("could not queue job %s%r on Redis", func_path, args)
            if not long:
                return
            # Someone is watching this one's page and no sweeper would pick it up: it runs
            # here, on a worker thread, instead.
        else:
            return
    if long and (settings.jobs_after_response or settings.redis_url):
        # This runs after the caller's commit, so the job's record is there for the thread.
        # It starts now rather than once the response is sent: a response's close callback
        # is the server's to call, and the test server (werkzeug's) was seen to skip it, which
        # left a watched job queued for ever.
        _start_thread(current_app._get_current_object(), func_path, args, request_id)  # type: ignore[attr-defined]
        return
    if settings.jobs_after_response and has_request_context():
        # The response does not wait for the e-mail: the job runs once it has been sent.
        after_response(functools.partial(_run_inline, func_path, args, request_id))
        return
    _run_inline(func_path, args, request_id)


def _run_inline(func_path: str, args: tuple[JobArg, ...], request_id: str | None) -> None:
    try:
        run_job(func_path, *args, request_id=request_id)
    except Exception:
        log.exception("inline job %s%r failed", func_path, args)


#: Threads of long jobs started by this process (without Redis), for join_threads.
_THREADS: list[threading.Thread] = []
_THREADS_LOCK = threading.Lock()


def _start_thread(
    app: Any, func_path: str, args: tuple[JobArg, ...], request_id: str | None
) -> None:
    def work() -> None:
        with app.app_context():
            _run_inline(func_path, args, request_id)

    thread = threading.Thread(target=work, name=f"job {func_path}", daemon=True)
    with _THREADS_LOCK:
        _THREADS[:] = [t for t in _THREADS if t.is_alive()]
        _THREADS.append(thread)
    thread.start()


def join_threads(timeout: float | None = None) -> None:
    """Wait for the long jobs this process runs on threads (tests; a clean shutdown)."""
    with _THREADS_LOCK:
        running = list(_THREADS)
    for thread in running:
        thread.join(timeout)


def run_job(func_path: str, *args: JobArg, request_id: str | None = None) -> Any:
    """Entry point for RQ and for inline runs: one job, one transaction, inside the app.

    Jobs need the application (settings, database): inline runs have the request's, and
    ``flask jobs worker`` runs queued jobs inside the application it was started with. A bare
    ``rq worker`` has none and is refused here rather than half-configured.
    """
    func = resolve(func_path)
    if not has_app_context():
        raise JobError(f"job {func_path!r} needs the application: run `flask jobs worker`")
    with request_id_bound(request_id or current_request_id()):
        log.info("job %s", func_path, extra={"fields": {"event": "job", "job": func_path}})
        if getattr(func, "own_transactions", False):
            return func(*args)
        return run_in_transaction(lambda session: func(session, *args))


@functools.cache
def _redis(url: str) -> Any:
    from redis import Redis

    return Redis.from_url(url)


def redis_client(url: str) -> Any:
    """The process's client for ``url`` (one connection pool per URL)."""
    return _redis(url)


def queue(settings: Settings) -> Any:
    """The RQ queue of this deployment (``JOB_QUEUE`` on ``REDIS_URL``)."""
    from rq import Queue

    if not settings.redis_url:
        raise JobError("REDIS_URL is not set: jobs run inline and there is no queue")
    return Queue(settings.job_queue, connection=_redis(settings.redis_url))


# --------------------------------------------------------------------------- CLI

jobs_cli = AppGroup("jobs", help="Background jobs (RQ on Redis).")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run queued jobs. Jobs execute in this process (no fork), inside the application."""
    from rq import SimpleWorker

    settings: Settings = current_settings()
    q = queue(settings)
    click.echo(f"working on queue {settings.job_queue!r}")
    SimpleWorker([q], connection=q.connection).work(burst=burst)


@jobs_cli.command("sweep")
@transactional_command
def sweep_command() -> None:
    """End abandoned jobs and remove expired or stray job files (cron: daily)."""
    from marketplace.jobs import tracked

    result = tracked.sweep(db_session())
    click.echo(
        f"{len(result.abandoned)} abandoned job(s) ended, {len(result.expired)} job(s) past "
        f"{tracked.KEPT_FOR.days} days cleared, {len(result.stray_files)} stray file(s) removed"
    )
