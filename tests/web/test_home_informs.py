"""Issue 13, point 6: the home page informs (search, category tiles, this year's figures,
budget bars, notices, the five policies, contact) and the wallet shows a used/held/left bar."""

from __future__ import annotations

import re

from marketplace.clock import today
from marketplace.demo import DEMO_PASSWORD, seed
from marketplace.enums import ServiceCategory
from providers import admission
from vouchers import programmes


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_home_page_informs(app, client, session):
    with app.app_context():
        seed(session)
    page = _text(client.get("/"))
    assert 'role="search"' in page and 'action="/catalogue/"' in page
    tiles = page.split('data-testid="category-tiles"')[1].split("</nav>")[0]
    assert tiles.count('class="tile"') == len(ServiceCategory)
    assert "category=testing" in tiles and ServiceCategory.TESTING.zh in tiles
    assert re.search(r'data-testid="year-issued">¥[\d,]+\.\d\d<', page)
    for budget in programmes.budgets(session):
        if budget.programme.year == today().year:
            bar = page.split(f'data-testid="budget-{budget.programme.id}"')[1].split("</figure>")[0]
            widths = [
                float(w)
                for w in re.findall(r'width="([\d.]+)" height="6" class="bar-(?!track)', bar)
            ]
            parts = budget.spent_fen + budget.committed_fen + budget.available_fen
            assert abs(sum(widths) - 100 * parts / budget.total_fen) < 0.01
    policies = page.split('data-testid="policies"')[1].split("</section>")[0]
    assert policies.count("<li") == 5 and "云政发〔2020〕6号" in policies and "第五条" in policies
    # The notices name the institutions in public notice and until when anyone may object.
    notices = page.split('data-testid="notices"')[1].split("</section>")[0]
    for provider in admission.in_notice(session, today()):
        assert provider.name in notices and provider.notice_ends_on.isoformat() in notices
        assert f"/notices/{provider.id}/objection" in notices
    assert admission.in_notice(session, today())  # the demo has one
    assert 'data-testid="contact"' in page and "12345" in page
    assert 'rel="icon"' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in icon.get_data()
    icon.close()


def test_the_wallet_draws_used_held_and_left(app, client, session, auth):
    with app.app_context():
        seed(session)
    assert auth.login("sme@demo.example.cn", DEMO_PASSWORD).status_code == 302
    page = _text(client.get("/enterprise/"))
    bar = page.split('data-testid="wallet-bar"')[1].split("</figure>")[0]
    values = [int(v) for v in re.findall(r'data-value="(\d+)"', bar)]
    cap = int(re.search(r'data-testid="cap">¥([\d,]+)\.', page).group(1).replace(",", "")) * 100
    assert sum(values) == cap  # used + held + left = the annual cap
    assert "style=" not in bar  # widths are SVG attributes: the strict CSP holds
