"""The order pages, per role: the whole walk through the forms, lists, downloads, mediation,
and the refusals (other organisation 404, read-only roles 403, wrong state 409, stale 412)."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Dispute, Order
from marketplace.payments.models import Payment
from tests.support.order_fixtures import invoice_number
from tests.support.provider_fixtures import ELF, PDF
from vouchers.verify import verify_ledger


@pytest.fixture
def now():
    return utcnow()


def _order(session, order_id):
    session.expire_all()
    return session.get(Order, order_id)


def test_whole_walk_through_the_pages(session, app, login, order_world, create_service, now):
    programme = order_world.programme(local_date(now).year)
    enterprise = order_world.create_enterprise()
    voucher = order_world.voucher_of(enterprise, programme, now=now)
    service = create_service(price_fen=120_000)
    order_world.admit(service.provider, programme)
    sme = login(order_world.sme(enterprise))
    seller = login(order_world.provider_user(service.provider))
    finance = login(order_world.staff(Role.FINANCE))

    page = sme.get(f"/orders/new?service_id={service.id}")
    assert page.status_code == 200 and service.title in page.get_data(as_text=True)
    sent = sme.post(f"/orders/new?service_id={service.id}", data={"quantity": "2", "note": "两批"})
    assert sent.status_code == 302
    order_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert _order(session, order_id).status is S.REQUESTED

    # Fixed price: an empty price accepts at list price × quantity.
    quoted = seller.post(f"/orders/{order_id}/quote", data={"price": "", "version": "1"})
    assert quoted.status_code == 302
    assert _order(session, order_id).price_fen == 240_000

    detail = sme.get(f"/orders/{order_id}").get_data(as_text=True)
    assert (voucher.serial in detail and "Accept" in detail) or "确认报价" in detail
    accepted = sme.post(
        f"/orders/{order_id}/accept",
        data={"voucher_id": str(voucher.id), "requested": "", "agree": "y", "version": "2"},
    )
    assert accepted.status_code == 302, accepted.get_data(as_text=True)
    order = _order(session, order_id)
    assert (order.status, order.voucher_part_fen, order.co_payment_fen) == (
        S.AGREED,
        120_000,
        120_000,
    )
    pay_page = sme.get(f"/orders/{order_id}").get_data(as_text=True)
    payment = session.scalar(sa.select(Payment).where(Payment.reference == f"order:{order_id}"))
    assert payment.remittance_code in pay_page

    recorded = finance.post(
        f"/admin/payments/{payment.id}/receipt",
        data={
            "bank_reference": f"WEB-{order_id}",
            "amount": "1200.00",
            "version": str(payment.version),
        },
    )
    assert recorded.status_code == 302
    assert _order(session, order_id).status is S.PAID

    delivered = seller.post(
        f"/orders/{order_id}/deliver",
        data={
            "invoice_code": "",
            "invoice_number": invoice_number(),
            "issued_on": local_date(utcnow()).isoformat(),
            "amount": "2400.00",
            "buyer_taxpayer_id": enterprise.credit_code,
            "seller_taxpayer_id": service.provider.credit_code,
            "report": (io.BytesIO(PDF), "报告.pdf"),
            "note": "",
            "version": "4",
        },
        content_type="multipart/form-data",
    )
    assert delivered.status_code == 302, delivered.get_data(as_text=True)
    assert _order(session, order_id).status is S.DELIVERED
    download = sme.get(f"/orders/{order_id}/report")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Cache-Control"] == "private, no-store"

    confirmed = sme.post(f"/orders/{order_id}/confirm", data={"version": "5"})
    assert confirmed.status_code == 302
    rated = sme.post(f"/orders/{order_id}/rate", data={"stars": "5", "comment": "很好"})
    assert rated.status_code == 302
    final = sme.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'data-testid="rating"' in final
    assert _order(session, order_id).status is S.CONFIRMED
    assert verify_ledger(session).ok


def test_lists_show_each_role_its_own(session, login, order_world, create_order, now):
    mine = create_order(S.REQUESTED, now=now)
    theirs = create_order(S.REQUESTED, now=now)
    sme_page = login(order_world.sme(mine)).get("/orders/").get_data(as_text=True)
    assert f'data-testid="order-{mine.id}"' in sme_page
    assert f'data-testid="order-{theirs.id}"' not in sme_page
    seller_page = login(order_world.provider_user(theirs)).get("/orders/").get_data(as_text=True)
    assert f'data-testid="order-{theirs.id}"' in seller_page
    assert f'data-testid="order-{mine.id}"' not in seller_page
    auditor_page = login(order_world.staff(Role.AUDITOR)).get("/orders/?status=requested")
    text = auditor_page.get_data(as_text=True)
    assert f'data-testid="order-{mine.id}"' in text and f'data-testid="order-{theirs.id}"' in text


def test_refusals(session, app, login, order_world, create_order, now):
    order = create_order(S.QUOTED, now=now)
    assert app.test_client().get(f"/orders/{order.id}").status_code == 302  # to the login page
    stranger = login(order_world.sme(order_world.create_enterprise()))
    assert stranger.get(f"/orders/{order.id}").status_code == 404
    assert stranger.post(f"/orders/{order.id}/cancel", data={"reason": "x"}).status_code == 404
    auditor = login(order_world.staff(Role.AUDITOR))
    assert auditor.get(f"/orders/{order.id}").status_code == 200
    assert auditor.post(f"/orders/{order.id}/cancel", data={"reason": "x"}).status_code == 403
    sysadmin = login(order_world.staff(Role.SYSADMIN))
    assert sysadmin.post(f"/orders/{order.id}/cancel", data={"reason": "x"}).status_code == 403
    sme = login(order_world.sme(order))
    wrong_state = sme.post(f"/orders/{order.id}/confirm", data={"version": "2"})
    assert wrong_state.status_code == 409
    stale = sme.post(f"/orders/{order.id}/cancel", data={"reason": "不需要了", "version": "1"})
    assert stale.status_code == 412
    seller = login(order_world.provider_user(order))
    refused = seller.post(f"/orders/{order.id}/accept", data={"voucher_id": "", "agree": "y"})
    assert refused.status_code == 403
    assert seller.get(f"/orders/new?service_id={order.service_id}").status_code == 403
    assert sme.get("/orders/new?service_id=999999999").status_code == 404
    assert sme.get("/orders/new").status_code == 404
    assert _order(session, order.id).status is S.QUOTED


def test_delivery_form_errors_rerender(session, login, order_world, create_order, now):
    order = create_order(S.PAID, now=now)
    seller = login(order_world.provider_user(order))
    data = {
        "invoice_number": invoice_number(),
        "issued_on": local_date(utcnow()).isoformat(),
        "amount": "1.00",
        "buyer_taxpayer_id": order.enterprise.credit_code,
        "seller_taxpayer_id": order.provider.credit_code,
        "version": "4",
    }
    mismatch = seller.post(
        f"/orders/{order.id}/deliver",
        data={**data, "report": (io.BytesIO(PDF), "r.pdf")},
        content_type="multipart/form-data",
    )
    assert mismatch.status_code == 409
    exe = seller.post(
        f"/orders/{order.id}/deliver",
        data={**data, "amount": "2000.00", "report": (io.BytesIO(ELF), "r.pdf")},
        content_type="multipart/form-data",
    )
    assert exe.status_code == 422
    missing = seller.post(f"/orders/{order.id}/deliver", data=data)
    assert missing.status_code == 400
    assert _order(session, order.id).status is S.PAID


def test_cancel_and_finance_refund_pages(session, login, order_world, create_order, now):
    order = create_order(S.PAID, now=now)
    sme = login(order_world.sme(order))
    assert (
        sme.post(
            f"/orders/{order.id}/cancel", data={"reason": "计划调整", "version": "4"}
        ).status_code
        == 302
    )
    finance = login(order_world.staff(Role.FINANCE))
    page = finance.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'data-testid="refund-due"' in page
    assert (
        finance.post(f"/orders/{order.id}/refund", data={"bank_reference": "WEB-RF-1"}).status_code
        == 302
    )
    assert _order(session, order.id).refund_due_fen == 0
    again = finance.post(f"/orders/{order.id}/refund", data={"bank_reference": "WEB-RF-2"})
    assert again.status_code == 409


def test_mediation_pages(session, login, order_world, create_order, now):
    order = create_order(S.DELIVERED, now=now)
    sme = login(order_world.sme(order))
    seller = login(order_world.provider_user(order))
    reviewer = login(order_world.staff(Role.REVIEWER))
    finance = login(order_world.staff(Role.FINANCE))
    assert sme.get(f"/orders/{order.id}/mediation").status_code == 404
    opened = sme.post(f"/orders/{order.id}/dispute", data={"reason": "报告不完整", "version": "5"})
    assert opened.status_code == 302
    queue = reviewer.get("/orders/disputes").get_data(as_text=True)
    assert f"/orders/{order.id}/mediation" in queue
    assert sme.get("/orders/disputes").status_code == 403
    assert (
        seller.post(
            f"/orders/{order.id}/mediation/messages", data={"body": "已补充数据"}
        ).status_code
        == 302
    )
    uploaded = seller.post(
        f"/orders/{order.id}/mediation/documents",
        data={"document": (io.BytesIO(PDF), "补充数据.pdf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    dispute = session.scalar(sa.select(Dispute).where(Dispute.order_id == order.id))
    document = dispute.documents[0]
    url = f"/orders/{order.id}/mediation/documents/{document.id}"
    assert reviewer.get(url).data == PDF
    assert login(order_world.sme(order_world.create_enterprise())).get(url).status_code == 404
    finance_page = finance.get(f"/orders/{order.id}/mediation").get_data(as_text=True)
    assert "已补充数据" in finance_page and "mediation/decision" not in finance_page
    assert (
        finance.post(f"/orders/{order.id}/mediation/messages", data={"body": "x"}).status_code
        == 403
    )
    assert (
        sme.post(
            f"/orders/{order.id}/mediation/decision", data={"outcome": "dismiss", "note": "x"}
        ).status_code
        == 403
    )
    decided = reviewer.post(
        f"/orders/{order.id}/mediation/decision",
        data={
            "outcome": "uphold_full",
            "note": "报告缺失",
            "refund": "",
            "restore": "",
            "version": "6",
        },
    )
    assert decided.status_code == 302, decided.get_data(as_text=True)
    assert _order(session, order.id).status is S.REFUNDED
    closed = sme.post(f"/orders/{order.id}/mediation/messages", data={"body": "谢谢"})
    assert closed.status_code == 409
    assert verify_ledger(session).ok


def test_every_status_renders_for_every_role(
    session, login, order_world, create_order, create_service, now
):
    from tests.support.order_fixtures import REACHABLE

    enterprise, service = order_world.create_enterprise(), create_service()
    orders = [
        create_order(status, enterprise=enterprise, service=service, now=now)
        for status in REACHABLE
    ]
    parties = [
        login(order_world.sme(enterprise)),
        login(order_world.provider_user(service.provider)),
    ]
    staff = [login(order_world.staff(role)) for role in (Role.REVIEWER, Role.FINANCE, Role.AUDITOR)]
    for order in orders:
        for client in parties + staff:
            page = client.get(f"/orders/{order.id}")
            assert page.status_code == 200, (order.status, page.status_code)
            assert f'data-testid="status">{order.status.zh}' in page.get_data(as_text=True)
            if order.dispute is not None:
                assert client.get(f"/orders/{order.id}/mediation").status_code == 200
    for client in staff:
        assert client.get("/orders/disputes?status=all").status_code == 200
