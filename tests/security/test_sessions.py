"""Sessions end: a copied cookie is dead after sign-out, "sign out everywhere", a role change
or a suspension; sessions time out when idle and after 12 hours whatever happens; signed-in
pages are never cached; production names the cookie ``__Host-session``."""

from __future__ import annotations

import time

import pytest

from marketplace.auth import services, sessions
from marketplace.enums import Role
from tests.security.conftest import replay, session_cookie, signed_in
from tests.support.fixtures import AuthActions


def test_a_cookie_replayed_after_logout_opens_nothing(app, client, auth, create_user):
    user = create_user()
    auth.login(user)
    stolen = session_cookie(client)
    assert signed_in(replay(app, stolen))  # the copy works while the owner is signed in
    auth.logout()
    thief = replay(app, stolen)
    assert not signed_in(thief)
    assert not signed_in(replay(app, stolen), "/enterprise/")
    # The refused cookie is cleared, so the browser stops presenting it.
    assert thief.get_cookie("session") is None or "_user_id" not in thief.get("/").text


def test_signing_out_everywhere_else_keeps_this_session_only(app, client, auth, create_user):
    user = create_user()
    auth.login(user)
    other_device = app.test_client()
    other_device.post("/login", data={"email": user.email, "password": "correct-horse-battery"})
    assert signed_in(other_device)
    response = client.post("/account/sessions/end-others")
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other_device)


@pytest.mark.parametrize("change", ["role", "suspension"])
def test_role_change_and_suspension_end_sessions(app, client, auth, create_user, session, change):
    user = create_user(Role.AUDITOR)
    auth.login(user)
    assert signed_in(client)
    if change == "role":
        services.change_role(session, user, Role.REVIEWER, actor_id=None)
    else:
        services.set_active(session, user, False, actor_id=None)
    assert not signed_in(client)


def test_a_role_change_to_the_same_role_ends_nothing(client, auth, create_user, session):
    user = create_user(Role.AUDITOR)
    auth.login(user)
    services.change_role(session, user, Role.AUDITOR, actor_id=None)
    assert signed_in(client)


def _age(client, key: str, seconds: int) -> None:
    with client.session_transaction() as stored:
        stored[key] = int(time.time()) - seconds


@pytest.mark.parametrize(
    ("role", "idle_minutes", "still_signed_in"),
    [
        (Role.FINANCE, 29, True),
        (Role.FINANCE, 31, False),
        (Role.ENTERPRISE, 31, True),
        (Role.ENTERPRISE, 121, False),
    ],
)
def test_idle_sessions_end(client, auth, create_user, role, idle_minutes, still_signed_in):
    auth.login(create_user(role))
    _age(client, sessions.LAST_SEEN, idle_minutes * 60)
    assert signed_in(client) is still_signed_in


def test_sessions_end_after_twelve_hours_however_active(client, auth, create_user):
    auth.login(create_user())
    _age(client, sessions.SIGNED_IN_AT, 12 * 3600 + 60)
    _age(client, sessions.LAST_SEEN, 10)
    assert not signed_in(client)


def test_idle_limit_is_configurable(make_app, create_user, session):
    app = make_app(SESSION_IDLE_MINUTES_ADMIN="5")
    client = app.test_client()
    AuthActions(client, session).login(create_user(Role.AUDITOR))
    _age(client, sessions.LAST_SEEN, 4 * 60)
    assert signed_in(client)
    _age(client, sessions.LAST_SEEN, 6 * 60)
    assert not signed_in(client)


def test_a_session_without_its_stamps_is_refused(client, auth, create_user):
    """A cookie signed before this protection existed (no generation) opens nothing."""
    auth.login(create_user())
    with client.session_transaction() as stored:
        del stored[sessions.GENERATION]
    assert not signed_in(client)


def test_signed_in_pages_and_token_answers_are_never_cached(client, auth, create_user, api_token):
    user = create_user()
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    auth.login(user)
    assert client.get("/account").headers["Cache-Control"] == "no-store"
    assert client.get("/").headers["Cache-Control"] == "no-store"
    answer = client.get("/api/v1/me", headers=api_token(user))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"


def test_production_names_the_cookie_host_only(make_app, create_user):
    app = make_app(MARKETPLACE_ENV="production")
    client = app.test_client()
    user = create_user()
    https = {"base_url": "https://voucher.example.cn"}
    response = client.post(
        "/login", data={"email": user.email, "password": "correct-horse-battery"}, **https
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert client.get("/account", **https).status_code == 200


def test_suspending_from_the_command_line_ends_sessions(app, client, auth, create_user):
    user = create_user(Role.REVIEWER)
    auth.login(user)
    result = app.test_cli_runner().invoke(args=["users", "suspend", "--email", user.email])
    assert result.exit_code == 0, result.output
    assert not signed_in(client)
    refused = app.test_cli_runner().invoke(
        args=["users", "set-role", "--email", "x@y.cn", "--role", "finance"]
    )
    assert refused.exit_code != 0 and "no account" in refused.output
