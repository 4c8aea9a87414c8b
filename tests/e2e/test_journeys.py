"""Issue 13's proof: every role's day, in a real headless Chromium, in both languages, on a
desktop and at phone width (375 px).

Each journey signs in as a demo account (administrators with their second factor), starts at
its to-do inbox and walks to the pages the role works on, moving through the navigation as a
person does (on a phone: the folded menu). Every page is checked for its language, for not
overflowing the screen sideways, and — on a phone — for the menu folded behind its button and
tables shown as stacked cards. A journey fails on any console error, uncaught script error,
failed request or response of 400 or more. Each step's screenshot is saved under the test
run's temporary directory; ``make screenshots`` (``E2E_SCREENSHOTS=docs/screenshots``) also
writes the few that the README shows.

The journeys only read, so they share the session's live server (and its demo data) with the
other browser tests in any order; one browser per session, one context per journey.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from marketplace.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 860}

#: (role, language, width, step) → the file name the README shows it under.
README_SHOTS = {
    ("enterprise", "zh", "phone", "wallet"): "wallet-phone-zh.png",
    ("enterprise", "zh", "desktop", "service"): "service-estimate-zh.png",
    ("enterprise", "en", "phone", "order"): "order-next-step-phone-en.png",
    ("provider", "zh", "phone", "menu"): "menu-phone-zh.png",
    ("provider", "zh", "phone", "orders"): "orders-as-cards-phone-zh.png",
    ("reviewer", "zh", "desktop", "home"): "inbox-reviewer-zh.png",
    ("auditor", "en", "desktop", "dashboard"): "dashboard-auditor-en.png",
}


@dataclass
class Journey:
    """One role's walk: the page, where it is, what went wrong, and its screenshots."""

    page: object
    role: str
    lang: str
    width: str
    shots: Path
    problems: list[str] = field(default_factory=list)
    taken: list[Path] = field(default_factory=list)

    @property
    def phone(self) -> bool:
        return self.width == "phone"

    def check(self, step: str) -> None:
        """What every page must be: in the journey's language, no wider than the screen,
        and on a phone with its menu folded and its tables as cards."""
        page = self.page
        page.wait_for_load_state()
        expected = "en" if self.lang == "en" else "zh-Hans"
        lang = page.evaluate("document.documentElement.lang")
        assert lang == expected, f"{step}: page language {lang}, expected {expected}"
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{step}: the page is {overflow}px wider than the screen"
        menu = page.locator("[data-testid=menu-button]")
        nav = page.locator("#main-nav")
        if self.phone:
            assert menu.is_visible() and not nav.is_visible(), f"{step}: menu not folded"
            cell = page.locator("table > tbody > tr > td[data-label]").first
            if cell.count() and cell.is_visible():
                display, before = cell.evaluate(
                    """td => [getComputedStyle(td).display,
                              getComputedStyle(td, '::before').content]"""
                )
                assert display == "grid" and before not in ("none", "normal", '""'), (
                    f"{step}: table not stacked as cards ({display}, {before})"
                )
        else:
            assert not menu.is_visible() and nav.is_visible(), f"{step}: menu hidden on desktop"
        self.shot(step)

    def shot(self, step: str) -> None:
        path = self.shots / f"{self.role}-{self.lang}-{self.width}-{step}.png"
        self.page.screenshot(path=str(path), full_page=False)
        self.taken.append(path)
        readme = os.environ.get("E2E_SCREENSHOTS")
        name = README_SHOTS.get((self.role, self.lang, self.width, step))
        if readme and name:
            Path(readme).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(readme) / name), full_page=False)

    def menu(self, href: str, step: str, *, shoot_menu: bool = False) -> None:
        """Go to ``href`` through the main navigation (unfolding it first on a phone, and
        with ``shoot_menu`` taking a picture of it unfolded)."""
        page = self.page
        if self.phone:
            page.click("[data-testid=menu-button]")
            assert page.locator("#main-nav").is_visible()
            if shoot_menu:
                self.shot("menu")
        page.click(f'#main-nav a[href="{href}"]')
        page.wait_for_url(re.compile(re.escape(href) + r"(\?.*)?(#.*)?$"))
        self.check(step)

    def open(self, path: str, step: str) -> None:
        self.page.goto(path)
        self.check(step)

    def follow(self, selector: str, step: str) -> bool:
        """Click the first link matching ``selector``, if the page has one."""
        link = self.page.locator(selector).first
        if not link.count():
            return False
        link.click()
        self.check(step)
        return True


def _failed(request) -> str:
    """A request that failed, except the browser's own favicon fetch, which it abandons
    when the page it was for is left before it finished (not a fault of the page)."""
    if request.failure == "net::ERR_ABORTED" and request.url.endswith("/favicon.svg"):
        return ""
    return f"request failed: {request.url} {request.failure}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def journey(browser, live_server, shots, request) -> Iterator[Callable[..., Journey]]:
    contexts = []
    journeys: list[Journey] = []

    def start(role: str, email: str, lang: str, width: str) -> Journey:
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-GB" if lang == "en" else "zh-CN",
            viewport=PHONE if width == "phone" else DESKTOP,
            device_scale_factor=1,
        )
        contexts.append(context)
        page = context.new_page()
        walk = Journey(page, role, lang, width, shots)
        journeys.append(walk)
        origin = live_server.url
        page.on(
            "console",
            lambda m: (
                walk.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: walk.problems.append(f"script error: {e}"))
        page.on("requestfailed", lambda r: walk.problems.append(_failed(r)) if _failed(r) else None)
        page.on(
            "response",
            lambda r: walk.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.on(
            "request",
            lambda r: (
                walk.problems.append(f"outside request: {r.url}")
                if not r.url.startswith(origin) and not r.url.startswith("data:")
                else None
            ),
        )
        page.goto(f"/?lang={lang}")
        sign_in(page, live_server, email, DEMO_PASSWORD)
        page.wait_for_url(re.compile(r"/account$"))
        return walk

    yield start
    for context in contexts:
        context.close()
    for walk in journeys:
        assert walk.problems == [], f"{walk.role}/{walk.lang}/{walk.width}: {walk.problems}"
        assert walk.taken and all(p.stat().st_size > 0 for p in walk.taken)


def enterprise(j: Journey) -> None:
    j.open("/", "home")
    assert j.page.locator("[data-testid=inbox]").is_visible()
    j.menu("/enterprise/", "wallet")
    assert j.page.locator(".bar svg").first.is_visible()  # used / held / left
    assert j.follow("table a[href^='/enterprise/vouchers/']", "voucher")
    j.open("/catalogue/", "search")
    filters = j.page.locator("details[data-testid=filters]")
    if j.phone:  # folded behind its button until asked for
        assert not j.page.locator("select[name=category]").is_visible()
        filters.locator("summary").click()
    assert j.page.locator("select[name=category]").is_visible()
    assert j.follow("[data-testid=result] h2 a", "service")
    assert j.page.locator("[data-testid=contact-provider]").is_visible()
    j.menu("/orders/", "orders")
    assert j.follow("table a[href^='/orders/']", "order")
    progress = j.page.locator("[data-testid=progress]")
    box = progress.bounding_box()
    assert box is not None and box["y"] < j.page.viewport_size["height"], "progress not first"
    j.shot("order")


def provider(j: Journey) -> None:
    j.open("/", "home")
    j.menu("/provider/", "portal")
    assert j.page.locator("[data-testid=provider-status]").is_visible()
    j.open("/provider/services", "services")
    j.menu("/orders/", "orders", shoot_menu=True)
    assert j.follow("table a[href^='/orders/']", "order")
    assert j.page.locator("[data-testid=next-action]").is_visible()
    j.open("/settlement/claimable", "claimable")
    folded = j.page.locator("[data-testid=passed-checks]").first
    if folded.count():
        assert folded.get_attribute("open") is None


def reviewer(j: Journey) -> None:
    j.open("/", "home")
    assert j.page.locator("[data-testid=inbox]").is_visible()
    j.follow("[data-testid=inbox] .queue-items a", "inbox-item")
    j.menu("/admin/", "admin")
    j.open("/admin/enterprises", "enterprises")
    j.open("/admin/settlement/claims", "claims")
    j.open("/orders/disputes", "disputes")


def finance(j: Journey) -> None:
    j.open("/", "home")
    j.menu("/admin/payments", "payments")
    j.follow("table a[href^='/admin/payments/']", "payment")
    j.open("/admin/settlement/payouts", "payouts")


def auditor(j: Journey) -> None:
    j.open("/", "home")
    j.open("/admin/dashboard", "dashboard")
    j.page.locator('[data-chart][data-ready="true"]').first.wait_for()
    j.shot("dashboard")
    j.open("/admin/audit", "audit")
    j.menu("/risk/", "risk")


def sysadmin(j: Journey) -> None:
    j.open("/", "home")
    j.menu("/admin/", "admin")
    j.open("/admin/users", "users")
    j.open("/admin/programmes", "programmes")


ROLES: dict[str, tuple[str, Callable[[Journey], None]]] = {
    "enterprise": ("sme@demo.example.cn", enterprise),
    "provider": ("provider@demo.example.cn", provider),
    "reviewer": ("reviewer@demo.example.cn", reviewer),
    "finance": ("finance@demo.example.cn", finance),
    "auditor": ("auditor@demo.example.cn", auditor),
    "sysadmin": ("admin@demo.example.cn", sysadmin),
}


#: Chinese on a phone and English on a desktop against SQLite, the other two against
#: PostgreSQL: each database serves every role in both languages and at both widths, and each
#: combination runs once (the journeys read pages; the databases' own rules have their tests).
ON_SQLITE = {("zh", "phone"), ("en", "desktop")}


def _combinations(backend: str) -> list[tuple[str, str, str]]:
    return [
        (role, lang, width)
        for role in ROLES
        for lang in ("zh", "en")
        for width in ("phone", "desktop")
        if ((lang, width) in ON_SQLITE) == (backend == "sqlite")
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each class's database, and its share of the combinations."""
    backend = getattr(metafunc.cls, "BACKEND", None)
    if backend is not None and metafunc.function.__name__ == "test_journey":
        metafunc.parametrize("backend", [backend], scope="session")
        metafunc.parametrize(("role", "lang", "width"), _combinations(backend))


# One class per database keeps its journeys together whatever the order of the run, so each
# live server is set up once; the group keeps them on one worker, with one browser.
@pytest.mark.xdist_group("journeys")
class _Journeys:
    BACKEND: str

    def test_journey(self, journey, role, lang, width):
        email, walk = ROLES[role]
        walk(journey(role, email, lang, width))


class TestJourneysOnSQLite(_Journeys):
    BACKEND = "sqlite"


class TestJourneysOnPostgreSQL(_Journeys):
    BACKEND = "postgresql"
