"""Following every link of the site as one signed-in person: the crawler the page scans share
(one language per page, labels on every field)."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from marketplace.demo import DEMO_PASSWORD

#: Links not followed: they sign out, switch language, download files or leave the pages.
NOT_FOLLOWED = re.compile(r"^/(logout|static/|api/)|[?&]lang=|\.(pdf|csv|xlsx)(\?|$)|/download")
PER_SHAPE = 2
MAX_PAGES = 160

#: Every demo role (None: anonymous), as the scans sign in.
ACCOUNTS = [
    None,
    "sme@demo.example.cn",
    "sme2@demo.example.cn",
    "provider@demo.example.cn",
    "reviewer@demo.example.cn",
    "finance@demo.example.cn",
    "auditor@demo.example.cn",
    "admin@demo.example.cn",
]


def account_id(account: str | None) -> str:
    return (account or "anonymous").split("@")[0]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def start_pages(auth, account: str | None) -> list[str]:
    """Sign ``account`` in (None: stay anonymous) and give the pages its crawl starts from."""
    if account is None:
        return ["/", "/verify", "/no-such-page"]
    assert auth.login(account, DEMO_PASSWORD).status_code == 302
    return ["/", "/account"]


def crawl(client, start: list[str], visit: Callable[[str, str], None]) -> int:
    """Follow every local link breadth first (each URL shape ``PER_SHAPE`` times, at most
    ``MAX_PAGES`` pages), calling ``visit(url, html)`` for each HTML page; the pages seen."""
    queue = deque(start)
    seen: set[str] = set()
    shapes: Counter[str] = Counter()
    pages = 0
    while queue and pages < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        shape = _shape(urlsplit(url).path)
        if shapes[shape] >= PER_SHAPE:
            continue
        shapes[shape] += 1
        response = client.get(url)
        if response.status_code in {301, 302, 303} or response.mimetype != "text/html":
            continue
        pages += 1
        html = response.get_data(as_text=True)
        visit(url, html)
        parser = _Links()
        parser.feed(html)
        for link in parser.links:
            target, _fragment = urldefrag(urljoin(url, link))
            parts = urlsplit(target)
            if parts.netloc not in {"", "localhost"}:
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if not NOT_FOLLOWED.search(local):
                queue.append(local)
    return pages
