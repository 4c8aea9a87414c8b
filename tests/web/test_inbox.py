"""Issue 13, point 2: every role finds its work in a to-do inbox on the home page, with a
badge in the navigation, each item linked, its age shown and overdue items marked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.auth.models import User
from marketplace.db import utcnow
from marketplace.demo import DEMO_PASSWORD, seed
from marketplace.orders.enums import OrderStatus
from marketplace.orders.models import Order
from vouchers.enums import ApplicationStatus
from vouchers.models import Application


def _text(response) -> str:
    return response.get_data(as_text=True)


def _queue(page: str, key: str) -> str:
    match = re.search(rf'data-testid="queue-{key}">(.*?)</article>', page, re.S)
    assert match, f"no queue {key}"
    return match.group(1)


def _count(page: str, key: str) -> int:
    return int(re.search(rf'data-testid="count-{key}">(\d+)<', page).group(1))


@pytest.fixture
def demo(app, session):
    with app.app_context():  # the demo's orders go through the services, which need settings
        return seed(session)


def _sign_in(auth, email: str) -> None:
    assert auth.login(email, DEMO_PASSWORD).status_code == 302


def _orders(session, email: str, status: OrderStatus, party: str) -> list[Order]:
    user = session.scalar(sa.select(User).where(User.email == email))
    column = Order.enterprise_id if party == "enterprise" else Order.provider_id
    owner = user.enterprise_id if party == "enterprise" else user.provider_id
    return list(session.scalars(sa.select(Order).where(column == owner, Order.status == status)))


def test_the_sme_sees_its_orders_waiting_on_it(client, session, auth, demo):
    _sign_in(auth, "sme@demo.example.cn")
    page = _text(client.get("/"))
    for key, status in (("quotes", OrderStatus.QUOTED), ("deliveries", OrderStatus.DELIVERED)):
        orders = _orders(session, "sme@demo.example.cn", status, "enterprise")
        assert _count(page, key) == len(orders) > 0, key
        for order in orders:
            assert f'href="/orders/{order.id}"' in _queue(page, key)
    assert "今天" in _queue(page, "quotes") or "等待" in _queue(page, "quotes")
    total = sum(int(n) for n in re.findall(r'data-testid="count-\w+">(\d+)<', page))
    assert re.search(rf'data-testid="inbox-badge"[^>]*>{total}<', page)


def test_the_co_payment_waits_on_sme2(client, session, auth, demo):
    _sign_in(auth, "sme2@demo.example.cn")
    page = _text(client.get("/"))
    agreed = _orders(session, "sme2@demo.example.cn", OrderStatus.AGREED, "enterprise")
    assert _count(page, "co_payments") == len(agreed) > 0


def test_the_provider_sees_requests_to_quote(client, session, auth, demo):
    _sign_in(auth, "provider@demo.example.cn")
    page = _text(client.get("/"))
    requested = _orders(session, "provider@demo.example.cn", OrderStatus.REQUESTED, "provider")
    assert _count(page, "to_quote") == len(requested) > 0
    assert 'data-testid="queue-to_deliver"' in page and 'data-testid="queue-claims_back"' in page


def test_the_reviewer_sees_applications_with_links(client, session, auth, demo):
    _sign_in(auth, "reviewer@demo.example.cn")
    page = _text(client.get("/"))
    submitted = list(
        session.scalars(
            sa.select(Application).where(Application.status == ApplicationStatus.SUBMITTED)
        )
    )
    assert _count(page, "applications") == len(submitted) > 0
    for application in submitted:
        assert f'href="/admin/applications/{application.id}"' in _queue(page, "applications")
    for key in ("enterprises", "providers", "disputes", "claims"):
        assert f'data-testid="queue-{key}"' in page


def test_finance_sees_the_bank_transfer_to_record(client, auth, demo):
    _sign_in(auth, "finance@demo.example.cn")
    page = _text(client.get("/"))
    assert _count(page, "transfers") >= 1
    assert "订单 #" in _queue(page, "transfers") and "¥" in _queue(page, "transfers")


def test_read_only_roles_have_no_queue_and_no_badge(client, auth, demo):
    _sign_in(auth, "auditor@demo.example.cn")
    page = _text(client.get("/"))
    assert 'data-testid="inbox"' in page and "没有等待您决定的事项" in page
    assert 'data-testid="inbox-badge"' not in page


def test_anonymous_visitors_see_no_inbox(client, demo):
    page = _text(client.get("/"))
    assert 'data-testid="inbox"' not in page and 'data-testid="inbox-link"' not in page


def test_an_item_waiting_longer_than_its_turnaround_is_overdue(client, session, auth, demo):
    _sign_in(auth, "sme@demo.example.cn")
    (order, *_rest) = _orders(session, "sme@demo.example.cn", OrderStatus.QUOTED, "enterprise")
    session.execute(
        sa.update(Order).where(Order.id == order.id).values(updated_at=utcnow() - timedelta(days=9))
    )
    page = _text(client.get("/"))
    queue = _queue(page, "quotes")
    assert "1 项已超时" in queue
    item = re.search(rf'<li class="overdue"><a href="/orders/{order.id}">.*?</li>', queue, re.S)
    assert item and "等待 9 天" in item.group(0)
    english = _text(client.get("/?lang=en"))
    assert "waiting 9 days" in _queue(english, "quotes") and "1 overdue" in english


def test_finance_sees_a_pending_bank_account_change(
    client, session, auth, create_user, create_provider
):
    """Found by the authorisation matrix: the page crashed while a change was pending."""
    from marketplace.enums import Role
    from providers.models import BankAccountChange

    provider = create_provider(name="昆明待审账户检测中心")
    session.add(
        BankAccountChange(
            provider_id=provider.id,
            bank_account_name=provider.name,
            bank_name="中国银行",
            bank_account_number="6222020012345678901",
        )
    )
    session.flush()
    auth.login(create_user(Role.FINANCE))
    page = client.get("/")
    assert page.status_code == 200 and "昆明待审账户检测中心" in page.text
    assert "6222020012345678901" not in page.text
