"""Issue 13, point 7: long pages say where they stand and what is next first; passed checks
and the history fold away; actors are named; table cells carry their column's label for the
phone's stacked cards; list filters sit behind a button."""

from __future__ import annotations

import re

from marketplace.db import utcnow
from marketplace.orders.enums import OrderStatus as S
from marketplace.web.tables import label_cells


def test_cells_are_labelled_by_their_column():
    page = (
        "<table><thead><tr><th>订单</th><th colspan=2>金额 &amp; 税</th><th></th></tr></thead>"
        "<tbody><tr><td>#1</td><td class=num>¥1</td><td>¥0.06</td><td><a>查看</a></td></tr>"
        '<tr><th scope="row">合计</th><td colspan="2">¥1.06</td><td data-label="x">y</td></tr>'
        "</tbody></table>"
    )
    labelled = label_cells(page)
    assert '<td data-label="订单">#1</td>' in labelled
    assert '<td data-label="金额 &amp; 税" class=num>¥1</td>' in labelled
    assert '<td data-label="金额 &amp; 税">¥0.06</td>' in labelled
    assert "<td><a>查看</a></td>" in labelled  # a column without a header stays unlabelled
    assert '<th data-label="订单" scope="row">合计</th>' in labelled
    assert '<td data-label="金额 &amp; 税" colspan="2">' in labelled
    assert '<td data-label="x">y</td>' in labelled  # an explicit label is kept
    # No header, or kept as a table: untouched. Nested tables keep their own headers.
    assert label_cells("<table><tr><td>a</td></tr></table>") == "<table><tr><td>a</td></tr></table>"
    kept = "<table data-keep-table><thead><tr><th>h</th></tr></thead><tr><td>a</td></tr></table>"
    assert label_cells(kept) == kept
    nested = (
        "<table><thead><tr><th>外</th></tr></thead><tbody><tr><td>"
        "<table><thead><tr><th>内</th></tr></thead><tbody><tr><td>i</td></tr></tbody></table>"
        "</td></tr></tbody></table>"
    )
    assert '<td data-label="内">i</td>' in label_cells(nested)
    assert label_cells(nested).startswith(
        '<table><thead><tr><th>外</th></tr></thead><tbody><tr><td data-label="外">'
    )


def test_pages_leave_with_labelled_cells(session, login, order_world, create_order):
    order = create_order(S.PAID, now=utcnow())
    seller = login(order_world.provider_user(order))
    html = seller.get("/orders/", query_string={"lang": "zh"}).get_data(as_text=True)
    assert re.search(r'<td data-label="[^"]+"', html)


def test_the_order_page_says_where_it_stands_first(session, login, order_world, create_order):
    order = create_order(S.PAID, now=utcnow())
    seller = login(order_world.provider_user(order))
    html = seller.get(f"/orders/{order.id}", query_string={"lang": "en"}).get_data(as_text=True)
    progress = html.index('data-testid="progress"')
    # First: after the title, before the facts, the forms, the terms and the history.
    assert progress < html.index('class="facts"') < html.index('id="act-deliver"')
    assert html.index('id="act-deliver"') < html.index('data-testid="history"')
    current = re.search(
        r'<li class="step-current" aria-current="step"><span class="step-number">(\d+)\.</span> '
        r"([^<]+)</li>",
        html,
    )
    assert current and current.groups() == ("4", S.PAID.en)
    assert html.count('class="step-done"') == 3  # requested, quoted, agreed
    nxt = html[progress:].split("</section>", 1)[0]
    assert "Your next step" in nxt and 'href="#act-deliver"' in nxt and "deliver" in nxt
    # The enterprise waits: it reads who acts next, with no link to a form it does not have.
    buyer = login(order_world.sme(order))
    theirs = buyer.get(f"/orders/{order.id}", query_string={"lang": "en"}).get_data(as_text=True)
    waiting = theirs.split('data-testid="next-action"', 1)[1].split("</p>", 1)[0]
    assert "The provider will deliver" in waiting and "href=" not in waiting
    # The history is folded, and names the people who acted rather than their ids.
    history = html.split('data-testid="history"', 1)[1]
    assert html.count('<details class="panel table-wrap" data-testid="history">') == 1
    # Its own people by name; the other party's people by their role only.
    assert order_world.provider_user(order).display_name in history
    assert order_world.sme(order).display_name not in history
    assert "Enterprise (SME)" in history


def test_a_claim_folds_its_passed_checks_and_names_its_actors(
    client, auth, session, settlement_world
):
    w = settlement_world
    order = w.recent_order()
    claim = w.claim(order, now=utcnow())
    auth.login(w.reviewer)
    html = client.get(f"/admin/settlement/claims/{claim.id}", query_string={"lang": "en"}).get_data(
        as_text=True
    )
    checks = html.split('data-testid="checklist"', 1)[1].split("</details>", 1)[0]
    shown, folded = checks.split('data-testid="passed-checks"', 1)
    passed = folded.count('data-passed="yes"')
    assert passed >= 10 and f"{passed} of 15 checks passed" in folded
    assert 'data-passed="no"' not in folded and "manual-review" not in folded
    # What stays in view is what needs a look: failed checks and those to check by hand.
    in_view = shown.count("<li ")
    assert in_view == 15 - passed
    assert in_view == shown.count('data-passed="no"') + shown.count('data-testid="manual-review"')
    nxt = html.split('data-testid="claim-next"', 1)[1].split("</section>", 1)[0]
    assert "Your next step" in nxt and 'href="#decide"' in nxt
    assert html.index('data-testid="claim-next"') < html.index('id="decide"')
    history = html.split("Claim history", 1)[1]
    assert w.seller(order).display_name in history and "Actor id" not in html
    # The provider sees who acts next, and its own people by name.
    auth.logout()
    auth.login(w.seller(order))
    own = client.get(f"/settlement/claims/{claim.id}", query_string={"lang": "en"})
    text = own.get_data(as_text=True)
    assert "A reviewer will review the claim" in text
    assert w.seller(order).display_name in text.split("Claim history", 1)[1]


def test_filters_fold_behind_a_button_and_open_when_set(app, client, session):
    closed = client.get("/catalogue/", query_string={"q": "检测"}).get_data(as_text=True)
    assert re.search(r'<details class="filters" data-testid="filters">\s*<summary>', closed)
    assert 'name="q"' in closed.split('data-testid="filters"')[0]  # the search box stays out
    opened = client.get("/catalogue/", query_string={"category": "testing"}).get_data(as_text=True)
    assert '<details class="filters" data-testid="filters" open>' in opened
    assert re.search(r'<span class="badge badge-count">1</span>', opened)
