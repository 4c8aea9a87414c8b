"""The orders JSON API: an end-to-end walk with real tokens, each endpoint, each refusal."""

from __future__ import annotations

import base64
import uuid

import pytest
import sqlalchemy as sa

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order
from marketplace.payments.models import Payment
from tests.support.order_fixtures import invoice_number
from tests.support.provider_fixtures import ELF, PDF
from vouchers import ledger
from vouchers.enums import AccountKind
from vouchers.verify import verify_ledger


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _invoice(order: Order | dict, **overrides):
    get = order.get if isinstance(order, dict) else lambda k: getattr(order, k)
    body = {
        "code": "053002300111",
        "number": invoice_number(),
        "issued_on": local_date(utcnow()).isoformat(),
        "amount_fen": get("price_fen"),
        "buyer_taxpayer_id": "",
        "seller_taxpayer_id": "",
    }
    body.update(overrides)
    return body


@pytest.fixture
def now():
    return utcnow()


def test_end_to_end_over_the_api(client, session, order_world, api_token, create_service, now):
    """request → quote → accept (voucher) → pay (bank transfer recorded by finance) → deliver
    (report + invoice) → confirm → rate, each by its own party's token; the ledger verifies."""
    programme = order_world.programme(local_date(now).year)
    enterprise = order_world.create_enterprise()
    voucher = order_world.voucher_of(enterprise, programme, now=now)
    service = create_service(price_fen=150_000)
    order_world.admit(service.provider, programme)
    sme = api_token(order_world.sme(enterprise))
    seller = api_token(order_world.provider_user(service.provider))
    finance = api_token(order_world.staff(Role.FINANCE))

    created = client.post(
        "/api/v1/orders", json={"service_id": service.id, "note": "两批样品"}, headers=sme
    )
    assert created.status_code == 201, created.json
    order = created.json
    assert (order["status"], order["allowed_actions"]) == ("requested", ["cancel"])
    url = f"/api/v1/orders/{order['id']}"

    quoted = client.post(f"{url}/quote", json={"price_fen": 180_000}, headers=seller)
    assert quoted.status_code == 200 and quoted.json["price_fen"] == 180_000

    accepted = client.post(
        f"{url}/accept",
        json={"voucher_id": voucher.id, "agree": True, "version": quoted.json["version"]},
        headers={**sme, **_key()},
    )
    assert accepted.status_code == 200, accepted.json
    assert (accepted.json["voucher_part_fen"], accepted.json["co_payment_fen"]) == (90_000, 90_000)

    pay = client.get(f"{url}/payment", headers=sme).json
    assert pay["status"] == "pending" and pay["remittance_code"] in pay["instructions"]
    receipt = client.post(
        f"/api/v1/payments/{pay['payment_id']}/offline-receipt",
        json={"bank_reference": f"E2E-{order['id']}", "amount_fen": 90_000},
        headers={**finance, **_key()},
    )
    assert receipt.status_code == 200, receipt.json
    paid = client.get(url, headers=sme).json
    assert paid["status"] == "paid" and paid["due_on"]

    delivered = client.post(
        f"{url}/deliver",
        json={
            "invoice": _invoice(
                paid,
                buyer_taxpayer_id=enterprise.credit_code,
                seller_taxpayer_id=service.provider.credit_code,
            ),
            "report": {"filename": "检测报告.pdf", "content_base64": _b64(PDF)},
            "note": "报告见附件",
        },
        headers=seller,
    )
    assert delivered.status_code == 200, delivered.json
    assert delivered.json["invoice"]["amount_fen"] == 180_000
    report = client.get(f"{url}/report", headers=sme).json
    assert base64.b64decode(report["content_base64"]) == PDF

    confirmed = client.post(
        f"{url}/confirm",
        headers={**sme, **_key(), "If-Match": f'"{delivered.json["version"]}"'},
    )
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["status"] == "confirmed"
    assert [e["action"] for e in confirmed.json["events"]] == [
        "quote",
        "accept",
        "pay",
        "deliver",
        "confirm",
    ]
    rated = client.post(f"{url}/rate", json={"stars": 5, "comment": "专业"}, headers=sme)
    assert rated.status_code == 201 and rated.json["stars"] == 5

    session.expire_all()
    payable = ledger.get_account(
        session,
        AccountKind.PROVIDER_PAYABLE,
        programme_id=programme.id,
        provider_id=service.provider_id,
    )
    assert ledger.balance_of(session, payable) == 90_000
    report_ = verify_ledger(session)
    assert report_.ok and report_.breach_count == 0


def test_list_filters_and_pages_per_role(client, order_world, create_order, api_token, now):
    mine = [create_order(S.REQUESTED, now=now) for _ in range(3)]
    enterprise = mine[0].enterprise
    more = create_order(S.QUOTED, enterprise=enterprise, now=now)
    sme = api_token(order_world.sme(enterprise))
    first = client.get("/api/v1/orders?limit=1", headers=sme).json
    assert [o["id"] for o in first["items"]] == [more.id]
    second = client.get(f"/api/v1/orders?limit=5&cursor={first['next_cursor']}", headers=sme).json
    assert [o["id"] for o in second["items"]] == [mine[0].id]
    quoted = client.get("/api/v1/orders?status=quoted", headers=sme).json
    assert [o["id"] for o in quoted["items"]] == [more.id]
    seller = api_token(order_world.provider_user(mine[1]))
    assert [o["id"] for o in client.get("/api/v1/orders", headers=seller).json["items"]] == [
        mine[1].id
    ]
    auditor = api_token(order_world.staff(Role.AUDITOR))
    assert len(client.get("/api/v1/orders", headers=auditor).json["items"]) == 4
    assert client.get("/api/v1/orders?status=lost", headers=sme).status_code == 422


def test_other_parties_get_404_and_wrong_roles_403(
    client, order_world, create_order, api_token, now
):
    order = create_order(S.REQUESTED, now=now)
    url = f"/api/v1/orders/{order.id}"
    stranger = api_token(order_world.sme(order_world.create_enterprise()))
    other_provider = api_token(order_world.provider_user(order_world.create_provider()))
    assert client.get(url, headers=stranger).json["code"] == "order_not_found"
    refused = client.post(f"{url}/quote", json={"price_fen": 100}, headers=other_provider)
    assert refused.status_code == 404
    as_sme = client.post(
        f"{url}/quote", json={"price_fen": 100}, headers=api_token(order_world.sme(order))
    )
    assert as_sme.status_code == 403 and as_sme.json["code"] == "forbidden"
    assert client.post(f"{url}/quote", json={"price_fen": 100}).status_code == 401
    session_order = order_world.session.get(Order, order.id)
    assert session_order.status is S.REQUESTED


def test_illegal_transition_stale_version_and_idempotency(
    client, order_world, create_order, api_token, now
):
    order = create_order(S.QUOTED, now=now)
    url = f"/api/v1/orders/{order.id}"
    sme = api_token(order_world.sme(order))
    seller = api_token(order_world.provider_user(order))
    # Confirming a quoted order is not a step of the state machine.
    wrong_state = client.post(f"{url}/confirm", headers={**sme, **_key()})
    assert wrong_state.status_code == 409 and wrong_state.json["code"] == "illegal_transition"
    assert wrong_state.json["status"] == 409
    # Money-moving steps need an Idempotency-Key.
    body = {"voucher_id": None, "agree": True}
    assert client.post(f"{url}/accept", json=body, headers=sme).status_code == 428
    stale = client.post(f"{url}/accept", json={**body, "version": 1}, headers={**sme, **_key()})
    assert stale.status_code == 412 and stale.json["current_version"] == 2
    header_stale = client.post(
        f"{url}/quote", json={"price_fen": 5}, headers={**seller, "If-Match": '"1"'}
    )
    assert header_stale.status_code == 412
    disagree = client.post(
        f"{url}/quote", json={"price_fen": 5, "version": 2}, headers={**seller, "If-Match": "3"}
    )
    assert disagree.status_code == 400 and disagree.json["code"] == "invalid_if_match"
    key = _key()
    first = client.post(f"{url}/accept", json=body, headers={**sme, **key})
    replay = client.post(f"{url}/accept", json=body, headers={**sme, **key})
    assert first.status_code == replay.status_code == 200
    assert first.json == replay.json
    assert (
        order_world.session.scalar(
            sa.select(sa.func.count())
            .select_from(Payment)
            .where(Payment.reference == f"order:{order.id}")
        )
        == 1
    )
    not_agreed = client.post(f"{url}/accept", json={"agree": False}, headers={**sme, **_key()})
    assert not_agreed.status_code == 422 and "agree" in not_agreed.json["errors"]


def test_decline_and_cancel(client, order_world, create_order, api_token, now):
    declined = create_order(S.REQUESTED, now=now)
    seller = api_token(order_world.provider_user(declined))
    response = client.post(
        f"/api/v1/orders/{declined.id}/decline", json={"reason": "排期已满"}, headers=seller
    )
    assert response.status_code == 200 and response.json["status"] == "declined"
    blank = client.post(
        f"/api/v1/orders/{declined.id}/decline", json={"reason": "  "}, headers=seller
    )
    assert blank.status_code == 422
    paid = create_order(S.PAID, now=now)
    sme = api_token(order_world.sme(paid))
    cancelled = client.post(
        f"/api/v1/orders/{paid.id}/cancel", json={"reason": "计划调整"}, headers={**sme, **_key()}
    )
    assert cancelled.status_code == 200, cancelled.json
    assert (cancelled.json["status"], cancelled.json["refund_due_fen"]) == ("cancelled", 100_000)
    finance = api_token(order_world.staff(Role.FINANCE))
    refund = client.post(
        f"/api/v1/orders/{paid.id}/refund",
        json={"bank_reference": "RF-API-1"},
        headers={**finance, **_key()},
    )
    assert refund.status_code == 201 and refund.json["amount_fen"] == 100_000
    assert refund.json["status"] == "succeeded"
    after = client.get(f"/api/v1/orders/{paid.id}", headers=sme).json
    assert after["refund_due_fen"] == 0
    again = client.post(f"/api/v1/orders/{paid.id}/refund", json={}, headers={**finance, **_key()})
    assert again.status_code == 409 and again.json["code"] == "no_refund_due"


def test_deliver_refusals(client, order_world, create_order, api_token, now):
    order = create_order(S.PAID, now=now)
    url = f"/api/v1/orders/{order.id}/deliver"
    seller = api_token(order_world.provider_user(order))
    good = _invoice(
        order,
        buyer_taxpayer_id=order.enterprise.credit_code,
        seller_taxpayer_id=order.provider.credit_code,
    )
    pdf = {"filename": "r.pdf", "content_base64": _b64(PDF)}
    mismatch = client.post(
        url, json={"invoice": {**good, "amount_fen": 1}, "report": pdf}, headers=seller
    )
    assert mismatch.status_code == 409 and mismatch.json["code"] == "invoice_mismatch"
    assert "amount_fen" in mismatch.json["errors"]
    exe = client.post(
        url,
        json={"invoice": good, "report": {"filename": "r.pdf", "content_base64": _b64(ELF)}},
        headers=seller,
    )
    assert exe.status_code == 422 and exe.json["code"] == "unsupported_file_type"
    not_base64 = client.post(
        url,
        json={"invoice": good, "report": {"filename": "r.pdf", "content_base64": "%%%"}},
        headers=seller,
    )
    assert not_base64.status_code == 422 and "report" in not_base64.json["errors"]
    bad_number = client.post(
        url, json={"invoice": {**good, "number": "12"}, "report": pdf}, headers=seller
    )
    assert bad_number.status_code == 422
    done = client.post(url, json={"invoice": good, "report": pdf}, headers=seller)
    assert done.status_code == 200
    other = create_order(S.PAID, now=now)
    reused = client.post(
        f"/api/v1/orders/{other.id}/deliver",
        json={
            "invoice": {
                **good,
                "amount_fen": other.price_fen,
                "buyer_taxpayer_id": other.enterprise.credit_code,
                "seller_taxpayer_id": other.provider.credit_code,
            },
            "report": pdf,
        },
        headers=api_token(order_world.provider_user(other)),
    )
    assert reused.status_code == 409 and reused.json["code"] == "invoice_reused"


def test_dispute_mediation_and_decision(client, order_world, create_order, api_token, now):
    order = create_order(S.DELIVERED, now=now)
    url = f"/api/v1/orders/{order.id}"
    sme = api_token(order_world.sme(order))
    seller = api_token(order_world.provider_user(order))
    reviewer = api_token(order_world.staff(Role.REVIEWER))
    finance = api_token(order_world.staff(Role.FINANCE))
    opened = client.post(f"{url}/dispute", json={"reason": "报告数据缺失"}, headers=sme)
    assert opened.status_code == 201 and opened.json["status"] == "open"
    assert client.post(f"{url}/dispute", json={"reason": "x"}, headers=seller).status_code == 403
    for headers in (sme, seller, reviewer):
        posted = client.post(f"{url}/dispute/messages", json={"body": "意见"}, headers=headers)
        assert posted.status_code == 201
    assert (
        client.post(f"{url}/dispute/messages", json={"body": "x"}, headers=finance).status_code
        == 403
    )
    document = client.post(
        f"{url}/dispute/documents",
        json={"filename": "evidence.pdf", "content_base64": _b64(PDF)},
        headers=seller,
    )
    assert document.status_code == 201 and document.json["party"] == "provider"
    queue = client.get("/api/v1/orders/disputes?status=open", headers=reviewer).json
    assert [d["order_id"] for d in queue["items"]] == [order.id]
    assert client.get("/api/v1/orders/disputes", headers=sme).status_code == 403
    detail = client.get(f"{url}/dispute", headers=finance).json
    assert len(detail["messages"]) == 3 and len(detail["documents"]) == 1
    decision = {
        "outcome": "uphold_partial",
        "note": "部分数据缺失",
        "refund_fen": 10_000,
        "voucher_restore_fen": 10_000,
    }
    assert (
        client.post(f"{url}/dispute/decision", json=decision, headers=reviewer).status_code == 428
    )
    invalid = client.post(
        f"{url}/dispute/decision",
        json={**decision, "refund_fen": 60_000, "voucher_restore_fen": 0},
        headers={**reviewer, **_key()},
    )
    assert invalid.status_code == 409 and invalid.json["code"] == "remedy_invalid"
    decided = client.post(f"{url}/dispute/decision", json=decision, headers={**reviewer, **_key()})
    assert decided.status_code == 200, decided.json
    assert (decided.json["status"], decided.json["refund_fen"]) == ("upheld_partial", 10_000)
    final = client.get(url, headers=sme).json
    assert (final["status"], final["price_fen"], final["price_reduction_fen"]) == (
        "confirmed",
        180_000,
        20_000,
    )
    assert verify_ledger(order_world.session).ok


def test_dispute_documents_are_read_back(client, order_world, create_order, api_token, now):
    """The mediation page's evidence downloads: the parties and administrators read a
    document back with its content; another organisation, or another order's document, is 404."""
    order = create_order(S.DELIVERED, now=now)
    url = f"/api/v1/orders/{order.id}"
    sme = api_token(order_world.sme(order))
    seller = api_token(order_world.provider_user(order))
    assert (
        client.post(f"{url}/dispute", json={"reason": "数据缺失"}, headers=sme).status_code == 201
    )
    added = client.post(
        f"{url}/dispute/documents",
        json={"filename": "证据.pdf", "content_base64": _b64(PDF)},
        headers=seller,
    )
    assert added.status_code == 201, added.json
    document_url = f"{url}/dispute/documents/{added.json['id']}"
    for headers in (sme, seller, api_token(order_world.staff(Role.AUDITOR))):
        read = client.get(document_url, headers=headers)
        assert read.status_code == 200, read.json
        assert base64.b64decode(read.json["content_base64"]) == PDF
        assert (read.json["original_filename"], read.json["party"]) == ("证据.pdf", "provider")
        assert read.json["content_type"] == "application/pdf"
    stranger = api_token(order_world.sme(order_world.create_enterprise()))
    assert client.get(document_url, headers=stranger).json["code"] == "order_not_found"
    other_seller = api_token(order_world.provider_user(order_world.create_provider()))
    assert client.get(document_url, headers=other_seller).status_code == 404
    other = create_order(S.DELIVERED, now=now)
    other_sme = api_token(order_world.sme(other))
    client.post(f"/api/v1/orders/{other.id}/dispute", json={"reason": "不符"}, headers=other_sme)
    wrong_order = client.get(
        f"/api/v1/orders/{other.id}/dispute/documents/{added.json['id']}", headers=other_sme
    )
    assert wrong_order.status_code == 404 and wrong_order.json["code"] == "dispute_not_found"
    assert client.get(f"{url}/dispute/documents/999999", headers=sme).status_code == 404
    assert client.get(document_url).status_code == 401
    assert client.get(f"{document_url}?inline=1", headers=sme).status_code == 422


def test_payment_info_and_report_visibility(client, order_world, create_order, api_token, now):
    order = create_order(S.DELIVERED, now=now)
    url = f"/api/v1/orders/{order.id}"
    stranger = api_token(order_world.sme(order_world.create_enterprise()))
    assert client.get(f"{url}/report", headers=stranger).status_code == 404
    auditor = api_token(order_world.staff(Role.AUDITOR))
    assert client.get(f"{url}/report", headers=auditor).status_code == 200
    info = client.get(f"{url}/payment", headers=auditor).json
    assert info["status"] == "succeeded" and info["instructions"] is None
    fresh = create_order(S.QUOTED, now=now)
    missing = client.get(f"/api/v1/orders/{fresh.id}/payment", headers=auditor)
    assert missing.status_code == 404
    assert client.get(f"/api/v1/orders/{fresh.id}/report", headers=auditor).status_code == 404


def test_an_order_payment_is_refunded_only_through_its_order(
    client, session, order_world, create_order, api_token, now
):
    # A free refund of the co-payment would leave the voucher above 50% of what the SME paid.
    order = create_order(S.PAID, now=now)
    payment = session.scalar(sa.select(Payment).where(Payment.reference == f"order:{order.id}"))
    finance = api_token(order_world.staff(Role.FINANCE))
    refused = client.post(
        f"/api/v1/payments/{payment.id}/refunds",
        json={"amount_fen": 1_000, "reason": "好意退款", "bank_reference": "GOODWILL-1"},
        headers={**finance, **_key()},
    )
    assert refused.status_code == 409 and refused.json["code"] == "refund_not_allowed"
    assert "order" in refused.json["detail"]
    session.expire_all()
    assert payment.refunded_fen == 0 and not payment.refunds
