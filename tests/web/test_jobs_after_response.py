"""Without Redis, a request's background jobs run after its response was sent (issue 16):
the response never waits for an e-mail; a failed request runs none."""

from __future__ import annotations

from flask import abort

from marketplace import jobs
from marketplace.db import get_db

JOB = "marketplace.notifications.services.deliver"


def test_jobs_asked_for_by_a_request_run_after_its_response(make_app, monkeypatch):
    app = make_app(JOBS_AFTER_RESPONSE="true")
    ran: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(
        jobs, "run_job", lambda path, *args, request_id=None: ran.append((path, args))
    )

    @app.post("/_job/<int:n>")
    def ask(n: int) -> str:
        jobs.enqueue(get_db().session, JOB, n)
        if n == 0:
            abort(400)  # a failed request: rolled back, its jobs dropped
        return "ok"

    client = app.test_client()
    response = client.post("/_job/7")
    assert response.status_code == 200 and ran == []  # answered; the job has not run yet
    response.close()  # what the WSGI server does once the body is sent
    assert ran == [(JOB, (7,))]

    failed = client.post("/_job/0")
    failed.close()
    assert failed.status_code == 400 and ran == [(JOB, (7,))]


def test_tests_and_jobs_outside_requests_run_at_the_commit(make_app, monkeypatch):
    app = make_app()  # JOBS_AFTER_RESPONSE defaults to false in the testing environment
    assert app.config["SETTINGS"].jobs_after_response is False
    ran: list[str] = []
    monkeypatch.setattr(jobs, "run_job", lambda path, *args, request_id=None: ran.append(path))

    @app.post("/_job")
    def ask() -> str:
        jobs.enqueue(get_db().session, JOB, 1)
        return "ok"

    assert app.test_client().post("/_job").status_code == 200
    assert ran == [JOB]
