"""Per-request overhead (issue 16): signed-cookie sessions build their signing serializer once,
and not at all for requests without a session cookie; signing and verification are Flask's.
And Flask asks whether a hook is a coroutine function once per function, not per request."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from marketplace.security import LeanSessionInterface


def test_sessions_sign_as_flask_does_with_one_serializer(app, monkeypatch):
    assert isinstance(app.session_interface, LeanSessionInterface)
    built: list[int] = []
    original = SecureCookieSessionInterface.get_signing_serializer

    def counting(self, flask_app):
        built.append(1)
        return original(self, flask_app)

    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", counting)
    client = app.test_client()
    for _ in range(3):  # no cookie: no serializer, an empty session
        assert client.get("/healthz").status_code == 200
    assert built == []

    with client.session_transaction() as session:
        session["lang"] = "en"
    for _ in range(3):
        with client.session_transaction() as session:
            assert session["lang"] == "en"
    assert built == [1]

    # A cookie signed with another key is refused (an empty session), as Flask refuses it.
    name = app.config["SESSION_COOKIE_NAME"]
    value = client.get_cookie(name).value
    client.set_cookie(name, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    with client.session_transaction() as session:
        assert "lang" not in session
    # Rotating the key builds a new serializer.
    app.secret_key = "another-secret-key-with-enough-length-0123456789"
    with client.session_transaction() as session:
        assert "lang" not in session
    assert built == [1, 1]


def test_flask_asks_whether_a_hook_is_a_coroutine_once_per_function(app, monkeypatch):
    import flask.app

    asked: list[object] = []
    original = flask.app.iscoroutinefunction

    def counting(func):
        asked.append(func)
        return original(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", counting)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    first = len(asked)
    assert first > 5  # the view and each hook, the first time
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert len(asked) == first
