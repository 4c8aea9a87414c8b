"""Browser tests: the real app served over HTTP on 127.0.0.1, driven by headless Chromium.

The browser is Debian's Chromium (``scripts/ensure-chromium.sh`` installs it); Playwright only
drives it and never downloads a browser. Without Chromium these tests skip with a reason, and
under CI=true they fail.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from marketplace import create_app
from marketplace.auth.models import User
from marketplace.db import unit_of_work
from marketplace.demo import DEMO_TOTP_SECRET, seed
from tests.conftest import IN_CI, app_config
from tests.support.fixtures import second_factor_code

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = _chromium()
    if path is None:
        message = "Chromium is not installed (run scripts/ensure-chromium.sh or install 'chromium')"
        if IN_CI:
            pytest.fail(message + " — CI=true requires the browser tests", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@dataclass
class LiveServer:
    url: str
    app: object


@contextmanager
def serve(database, tmp: Path, name: str, **overrides: object) -> Iterator[LiveServer]:
    """The app on a fresh database ``name`` seeded with the demo data, on a free port."""
    app = create_app(app_config(database.fresh(name), tmp, WTF_CSRF_ENABLED=True, **overrides))
    with app.app_context(), unit_of_work() as session:
        seed(session)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["db"].engine.dispose()


@pytest.fixture(scope="session")
def live_server(database, tmp_path_factory) -> Iterator[LiveServer]:
    """The app on a fresh database seeded with the demo data, served on a free port."""
    tmp: Path = tmp_path_factory.mktemp(f"live-{database.backend}")
    with serve(database, tmp, "live") as server:
        yield server


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    # Nothing may leave the machine: any request to another host fails the test.
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(live_server.url) and not request.url.startswith("data:")
            else None
        ),
    )
    yield page
    context.close()
    assert outside == [], f"page requested outside resources: {outside}"


def sign_in(page, live_server: LiveServer, email: str, password: str) -> None:
    """Sign in through the pages as a person would: the password, then — for administrators
    and anyone enrolled — the code their authenticator shows (the demo's TOTP secret)."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    if "/login/second-factor" not in page.url:
        return
    with live_server.app.app_context(), unit_of_work() as session:  # type: ignore[attr-defined]
        user = session.scalar(sa.select(User).where(User.email == email))
        assert user is not None and user.totp_secret == DEMO_TOTP_SECRET
        code = second_factor_code(session, user)
    page.fill("input[name=code]", code)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
