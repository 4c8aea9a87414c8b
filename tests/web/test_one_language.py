"""Issue 13, point 4: a Chinese page is Chinese.

The demo data is seeded, then every role signs in and follows every link of the site in
Chinese (breadth first, each URL shape a few times), and the visible text of each page is
scanned for English words and raw codes (snake_case statuses, dotted audit actions, bare
GB/T 2260 region codes). What may stay Latin is listed in ``ALLOWED`` with its reason;
serials, tokens, credit codes and e-mail addresses are data, shown in ``<code>`` or matched
by their own patterns.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from marketplace.demo import seed
from tests.support.crawl import ACCOUNTS, account_id, crawl, start_pages

#: Latin words that belong on a Chinese page, and why.
ALLOWED = frozenset(
    {
        # Names of standards, schemes and formats that Chinese text uses as they are.
        "CMA",
        "CNAS",
        "PDF",
        "CSV",
        "XLSX",
        "API",
        "QR",
        "GB",
        "ID",
        "OpenAPI",
        "Stripe",
        "EMC",
        "IP",
        "SME",
        "UTF",
        # The language switch offers English by its own name.
        "English",
        "Excel",
        "JSON",
        "JPEG",
        "PNG",
        "SHA",
    }
)
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+(?:-[A-Za-z]+)*")
#: Acronyms (SEM, XRD, LC-MS in a service's title) are names, not English words.
ACRONYM = re.compile(r"^[A-Z]{2,5}(?:-[A-Z]{1,5})?$")
RAW_CODE = re.compile(
    r"\b[a-z]+(?:_[a-z]+)+\b"  # snake_case vocabulary values
    r"|\b[a-z]+\.[a-z_]+\b"  # audit actions such as order.confirm
    r"|(?<![\d.,:¥#-])\b53(?:\d\d){0,2}\b(?![\d.,%])"  # a bare Yunnan region code
)
#: Data, not words: e-mail addresses, URLs, file names, serials and codes.
DATA = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|https?://\S+"
    r"|\b[\w-]+\.(?:pdf|csv|xlsx|png|jpg)\b"
    r"|\b(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6,}\b"
    r"|\b[A-Z]{2}\d{4}[A-Z0-9-]+\b"
)
SKIP_TAGS = {"script", "style", "code", "pre", "svg", "textarea"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in SKIP_TAGS or values.get("translate") == "no" or values.get("lang") == "en":
            self._skip.append(tag)
            return
        for attribute in ("placeholder", "title", "aria-label"):
            if values.get(attribute) and not self._skip:
                self.text.append(values[attribute] or "")
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.text.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _problems(text: str) -> list[str]:
    text = DATA.sub(" ", text)
    found = [m.group(0) for m in RAW_CODE.finditer(text)]
    found += [
        w
        for w in WORD.findall(RAW_CODE.sub(" ", text))
        if w not in ALLOWED and not ACRONYM.match(w)
    ]
    return found


@pytest.mark.parametrize("account", ACCOUNTS, ids=account_id)
def test_every_page_of_every_role_is_chinese(app, client, session, auth, account):
    with app.app_context():  # the demo's orders go through the services, which need settings
        seed(session)
    problems: dict[str, list[str]] = {}

    def visit(url: str, html: str) -> None:
        parser = _Page()
        parser.feed(html)
        found = _problems(" ".join(parser.text))
        if found:
            problems[url] = sorted(set(found))

    crawl(client, start_pages(auth, account), visit)
    report = "\n".join(f"{url}: {', '.join(words)}" for url, words in sorted(problems.items()))
    assert not problems, f"English words or raw codes on Chinese pages:\n{report}"


def test_the_scan_finds_english_and_codes():
    """The scanner itself: it must be able to fail."""
    assert _problems("状态 verified") == ["verified"]
    assert _problems("步骤 order.confirm") == ["order.confirm"]
    assert _problems("地区 530102 与 53") == ["530102", "53"]
    assert _problems("阶段 in_notice") == ["in_notice"]
    assert (
        _problems("金额 ¥530.00，CMA 证书 sme@demo.example.cn 比例 53%，订单 #53，时间 14:53") == []
    )
