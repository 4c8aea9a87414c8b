"""Issue 13, point 5: every field has a visible label.

The demo is seeded, every role follows every link (``tests.support.crawl``), and each form
control on each page — input, select, text area, except hidden fields and buttons — must be
named by a ``<label for>``, by a ``<label>`` around it, or by ``aria-labelledby`` pointing at
visible text (a legend, a heading). A placeholder is not a label: it disappears as one types.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from marketplace.demo import seed
from tests.support.crawl import ACCOUNTS, account_id, crawl, start_pages

#: Controls that need no label of their own: they are buttons or carry no input.
NOT_FIELDS = {"hidden", "submit", "button", "reset", "image"}


class _Controls(HTMLParser):
    """The page's form controls and what labels them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "label":
            if values.get("for"):
                self.label_for.add(values["for"] or "")
            self._in_label += 1
        elif tag in {"input", "select", "textarea"}:
            if tag == "input" and (values.get("type") or "text") in NOT_FIELDS:
                return
            self.controls.append({**values, "tag": tag, "wrapped": "1" if self._in_label else None})

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "label":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._in_label:
            self._in_label -= 1


def unlabelled(html: str) -> list[str]:
    """Each control of the page that no visible label names, as ``tag name``."""
    page = _Controls()
    page.feed(html)
    missing = []
    for control in page.controls:
        by_for = control.get("id") in page.label_for
        by_reference = any(
            ref in page.ids for ref in (control.get("aria-labelledby") or "").split() if ref
        )
        if not (by_for or control.get("wrapped") or by_reference):
            missing.append(f"{control['tag']} {control.get('name') or control.get('id') or '?'}")
    return missing


def test_the_scan_finds_a_field_without_a_label():
    assert unlabelled('<form><input name="q" placeholder="搜索"></form>') == ["input q"]
    assert unlabelled('<form><input name="q" aria-label="搜索"></form>') == ["input q"]
    assert unlabelled('<label for="q">搜索</label><input id="q" name="q">') == []
    assert unlabelled('<label>搜索 <select name="s"></select></label>') == []
    assert (
        unlabelled('<h2 id="h">名称</h2><textarea name="t" aria-labelledby="h"></textarea>') == []
    )
    assert unlabelled('<input type="hidden" name="csrf_token"><button>提交</button>') == []


@pytest.mark.parametrize("account", ACCOUNTS, ids=account_id)
def test_every_field_on_every_page_has_a_label(app, client, session, auth, account):
    with app.app_context():
        seed(session)
    problems: dict[str, list[str]] = {}

    def visit(url: str, html: str) -> None:
        found = unlabelled(html)
        if found:
            problems[url] = found

    pages = crawl(client, start_pages(auth, account), visit)
    assert pages > 1
    report = "\n".join(f"{url}: {', '.join(found)}" for url, found in sorted(problems.items()))
    assert not problems, f"fields without a visible label:\n{report}"
