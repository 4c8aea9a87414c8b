"""Helpers shared by the security tests: they act as an attacker would, with stolen cookies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient


def session_cookie(client: FlaskClient, name: str = "session") -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, "not signed in"
    return cookie.value


def replay(app: Flask, cookie: str, name: str = "session") -> FlaskClient:
    """A second browser (the attacker's) carrying a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie(name, cookie)
    return thief


def signed_in(client: FlaskClient, path: str = "/account") -> bool:
    response = client.get(path)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200, response.status_code
    return True


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """Services that queue e-mail need the application's settings."""
    with app.app_context():
        yield app
