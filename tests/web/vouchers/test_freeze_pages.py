"""Frozen orders on the pages and through the API: the reviewer sees what a listing froze
and decides each; other administrators read; the enterprise sees nothing of it."""

from __future__ import annotations

import pytest

from marketplace.auth.models import User
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from tests.support.voucher_fixtures import VOUCHER_NOW
from vouchers import enterprises
from vouchers.enums import FreezeStatus
from vouchers.models import HoldFreeze

API = "/api/v1"


@pytest.fixture
def frozen(session, create_order, order_world):
    order = create_order(OrderStatus.AGREED)
    reviewer = order_world.staff(Role.REVIEWER)
    with order_world.app.app_context():
        enterprises.blacklist_enterprise(
            session,
            order.enterprise_id,
            reason="失信被执行人",
            source="最高人民法院",
            listed_on=VOUCHER_NOW.date(),
            actor_id=reviewer.id,
            today=VOUCHER_NOW.date(),
        )
    session.flush()
    freeze = session.query(HoldFreeze).filter_by(hold_id=order.hold_id).one()
    return order, freeze, reviewer


def test_reviewer_decides_a_frozen_order_on_the_page(client, auth, session, frozen):
    order, freeze, reviewer = frozen
    auth.login(reviewer)
    page = client.get("/admin/freezes").get_data(as_text=True)
    assert order.enterprise.name in page and order.hold.order_ref in page and "冻结待审" in page
    refused = client.post(
        f"/admin/freezes/{freeze.id}/decision", data={"decision": "unfreeze", "reason": ""}
    )
    assert refused.status_code == 400
    done = client.post(
        f"/admin/freezes/{freeze.id}/decision",
        data={"decision": "unfreeze", "reason": "交易真实，列入名单前已签约"},
    )
    assert done.status_code == 302
    session.refresh(freeze)
    assert freeze.status is FreezeStatus.UNFROZEN
    english = client.get("/admin/freezes?status=unfrozen&lang=en").get_data(as_text=True)
    assert "Unfrozen" in english and "交易真实" in english


def test_auditors_read_but_cannot_decide(client, auth, create_user, frozen):
    _order, freeze, _reviewer = frozen
    auth.login(create_user(Role.AUDITOR))
    assert client.get("/admin/freezes").status_code == 200
    response = client.post(
        f"/admin/freezes/{freeze.id}/decision", data={"decision": "release", "reason": "x"}
    )
    assert response.status_code == 403


def test_the_api_lists_and_decides(client, session, api_token, create_user, frozen):
    order, freeze, reviewer = frozen
    headers = api_token(reviewer)
    listing = client.get(f"{API}/freezes", headers=headers).json
    item = next(i for i in listing["items"] if i["id"] == freeze.id)
    assert (item["order_ref"], item["status"], item["enterprise_name"]) == (
        order.hold.order_ref,
        "frozen",
        order.enterprise.name,
    )
    bad = client.post(
        f"{API}/freezes/{freeze.id}/decision",
        json={"decision": "lift", "reason": "x"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.content_type.startswith("application/problem+json")
    released = client.post(
        f"{API}/freezes/{freeze.id}/decision",
        json={"decision": "release", "reason": "虚假交易，退回预算"},
        headers=headers,
    )
    assert released.status_code == 200 and released.json["status"] == "released"
    again = client.post(
        f"{API}/freezes/{freeze.id}/decision",
        json={"decision": "unfreeze", "reason": "再次"},
        headers=headers,
    )
    assert (again.status_code, again.json["code"]) == (409, "invalid_transition")
    auditor = api_token(create_user(Role.AUDITOR))
    forbidden = client.post(
        f"{API}/freezes/{freeze.id}/decision",
        json={"decision": "release", "reason": "x"},
        headers=auditor,
    )
    assert forbidden.status_code == 403
    sme = api_token(order_world_sme(session, order))
    assert client.get(f"{API}/freezes", headers=sme).status_code == 403


def order_world_sme(session, order):
    return session.query(User).filter_by(enterprise_id=order.enterprise_id).first()
