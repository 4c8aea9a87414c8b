"""CSRF tokens expire: with the session that issued them (sign-in and sign-out start a new
one) and after the session's absolute lifetime; and exports go through the one writer that
neutralises formula-leading cells (marketplace/exports.py, tested with the exports)."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.support.fixtures import PASSWORD


@pytest.fixture
def csrf_app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_a_token_from_before_sign_in_is_void_after_it(csrf_app, create_user):
    user = create_user()
    client = csrf_app.test_client()
    before = _token(client.get("/login").text)
    signed_in = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": before}
    )
    assert signed_in.status_code == 302
    # The form a victim left open before signing in cannot be submitted afterwards.
    stale = client.post(
        "/account/tokens", data={"name": "x", "scopes": "orders:read", "csrf_token": before}
    )
    assert stale.status_code == 400
    fresh = _token(client.get("/account").text)
    assert (
        client.post(
            "/account/tokens", data={"name": "x", "scopes": "orders:read", "csrf_token": fresh}
        ).status_code
        == 302
    )


def test_a_token_older_than_a_session_is_refused(csrf_app, create_user, monkeypatch):
    user = create_user()
    client = csrf_app.test_client()
    login_token = _token(client.get("/login").text)
    client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": login_token}
    )
    fresh = _token(client.get("/account").text)
    with client.session_transaction() as stored:
        raw = stored["csrf_token"]
    # The same session's token, as it was signed 12 hours and a minute ago.
    issued = int(time.time()) - 12 * 3600 - 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
    old = URLSafeTimedSerializer(csrf_app.secret_key, salt="wtf-csrf-token").dumps(raw)
    monkeypatch.undo()
    assert (
        client.post(
            "/account/tokens", data={"name": "x", "scopes": "orders:read", "csrf_token": old}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/account/tokens", data={"name": "x", "scopes": "orders:read", "csrf_token": fresh}
        ).status_code
        == 302
    )
