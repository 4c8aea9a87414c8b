"""Throttling that cannot be turned against users: failures counted per account (growing
delays, then a 15-minute lock the owner hears of) beside the per-address limits; behind the
reverse proxy (``TRUSTED_PROXIES``) every limit keys on the real client, so one attacker's
failures do not lock anyone else out; the API's 429 is problem+json with Retry-After."""

from __future__ import annotations

import time

import pytest

from marketplace.auth.throttle import LOCK_AFTER
from marketplace.enums import Role
from tests.support.fixtures import PASSWORD, AuthActions, second_factor_code


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def proxied(make_app, smtp_server):
    """The app behind one reverse proxy, with every limit on and the throttle's clock ours."""
    app = make_app(TRUSTED_PROXIES="1", RATELIMIT_ENABLED=True, **smtp_server.config)
    clock = FakeClock()
    app.extensions["login_throttle"].clock = clock
    return app, clock


def _attempt(client, email: str, password: str, address: str):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # every request arrives from the proxy
    )


def test_brute_force_from_many_addresses_ends_in_a_lock(proxied, create_user, mailbox):
    app, clock = proxied
    client = app.test_client()
    victim = create_user()
    statuses = []
    for guess in range(LOCK_AFTER + 3):
        clock.advance(120)  # the attacker waits out every delay, from a new address each time
        statuses.append(
            _attempt(client, victim.email, f"guess-{guess}", f"203.0.113.{guess}").status_code
        )
    assert statuses[:LOCK_AFTER] == [401] * LOCK_AFTER
    assert statuses[LOCK_AFTER:] == [429] * 3
    # Now even the right password is refused, from yet another address …
    right = _attempt(client, victim.email, PASSWORD, "198.51.100.1")
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert "Too many" in right.text or "次数过多" in right.text
    # … the owner was told, once …
    [notice] = mailbox.to(victim.email)
    assert "locked" in notice["Subject"]
    # … and after the lock the owner signs in.
    clock.advance(15 * 60 + 1)
    assert _attempt(client, victim.email, PASSWORD, "198.51.100.1").status_code == 302


def test_failures_make_the_next_attempt_wait_longer(proxied, create_user):
    app, clock = proxied
    client = app.test_client()
    user = create_user()
    first = [
        _attempt(client, user.email, "wrong-guess", f"192.0.2.{n}").status_code for n in range(4)
    ]
    assert first == [401, 401, 401, 401]  # three free failures, the fourth sets a delay
    waited = _attempt(client, user.email, PASSWORD, "192.0.2.9")
    # Refused before the password is even checked; Retry-After is at least the wait (the
    # per-address limiter may raise it to the end of its own window).
    assert waited.status_code == 429 and int(waited.headers["Retry-After"]) >= 2
    clock.advance(2)
    assert _attempt(client, user.email, "wrong-again", "192.0.2.10").status_code == 401
    # The fifth failure doubles the wait: two seconds are no longer enough.
    clock.advance(2)
    assert _attempt(client, user.email, PASSWORD, "192.0.2.11").status_code == 429
    clock.advance(2)
    assert _attempt(client, user.email, PASSWORD, "192.0.2.12").status_code == 302


def test_unknown_addresses_are_throttled_alike(proxied):
    app, _clock = proxied
    client = app.test_client()
    statuses = [
        _attempt(client, "nobody@example.cn", "guess", f"192.0.2.{n}").status_code for n in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]  # no difference that would reveal accounts


@pytest.mark.parametrize("trusted", [True, False])
def test_behind_the_proxy_one_attacker_does_not_lock_out_another_user(
    make_app, create_user, trusted
):
    config = {"TRUSTED_PROXIES": "1"} if trusted else {}
    app = make_app(RATELIMIT_ENABLED=True, **config)
    clock = FakeClock()
    app.extensions["login_throttle"].clock = clock
    attacker, bystander = app.test_client(), app.test_client()
    target, colleague = create_user(), create_user()
    for guess in range(11):
        clock.advance(120)
        _attempt(attacker, target.email, f"guess-{guess}", "198.51.100.66")
    answer = _attempt(bystander, colleague.email, PASSWORD, "192.0.2.44")
    if trusted:
        assert answer.status_code == 302  # the colleague signs in
    else:
        # Without TRUSTED_PROXIES everyone shares the proxy's address and its limit: what the
        # setting exists to prevent.
        assert answer.status_code == 429


def test_the_api_429_is_problem_json_with_retry_after(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="2 per minute")
    client = app.test_client()
    answers = [client.get("/api/v1/catalogue/services") for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    limited = answers[2]
    assert limited.status_code == 429
    assert limited.headers["Content-Type"] == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.json["status"] == 429


def test_the_api_token_exchange_is_throttled_per_account(proxied, create_user, session):
    app, _clock = proxied
    client = app.test_client()
    user = create_user(Role.ENTERPRISE)
    ask = {"email": user.email, "name": "erp"}
    statuses = [
        client.post(
            "/api/v1/auth/tokens",
            json={**ask, "password": "wrong-guess"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
        )
        for n in range(5)
    ]
    assert [s.status_code for s in statuses] == [401, 401, 401, 401, 429]
    refused = statuses[-1]
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json["code"] == "too_many_attempts" and refused.headers["Retry-After"]


def test_a_right_sign_in_clears_the_count(proxied, create_user, session):
    app, _clock = proxied
    client = app.test_client()
    user = create_user(Role.FINANCE)
    for n in range(3):
        _attempt(client, user.email, "wrong-guess", f"192.0.2.{n}")
    AuthActions(client, session).login(user)
    client.post("/logout")
    statuses = [
        _attempt(client, user.email, "wrong-guess", f"192.0.2.{n}").status_code for n in range(3)
    ]
    assert statuses == [401, 401, 401]  # counting starts again: no delay yet
    assert second_factor_code(session, user)
