"""The payments JSON API: roles, pagination and filters, idempotent money-moving POSTs."""

from __future__ import annotations

import uuid

import pytest

from marketplace.audit.models import AuditEvent
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus, WebhookOutcome
from marketplace.payments.models import PaymentRefund, WebhookEvent
from tests.conftest import rows


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.fixture
def finance_headers(api_token, finance):
    return api_token(finance)


def test_roles(client, api_token, create_user, create_payment, finance_headers):
    payment = create_payment()
    assert client.get("/api/v1/payments").status_code == 401
    for role in (Role.ENTERPRISE, Role.PROVIDER, Role.REVIEWER, Role.SYSADMIN):
        headers = api_token(create_user(role))
        assert client.get("/api/v1/payments", headers=headers).status_code == 403
        assert client.get(f"/api/v1/payments/{payment.id}", headers=headers).status_code == 403
    auditor = api_token(create_user(Role.AUDITOR))
    assert client.get(f"/api/v1/payments/{payment.id}", headers=auditor).status_code == 200
    refused = client.post(
        f"/api/v1/payments/{payment.id}/offline-receipt",
        json={"bank_reference": "X", "amount_fen": payment.amount_fen},
        headers={**auditor, **_key()},
    )
    assert refused.status_code == 403
    assert client.get("/api/v1/payments", headers=finance_headers).status_code == 200


def test_list_is_cursor_paginated_and_filtered(client, create_payment, finance_headers):
    made = [create_payment(reference=f"order:api{n}") for n in range(5)]
    create_payment(reference="claim:api", status=PaymentStatus.SUCCEEDED, external_id="B-claim")
    first = client.get("/api/v1/payments?reference=order:&limit=3", headers=finance_headers).json
    assert [p["id"] for p in first["items"]] == [p.id for p in reversed(made)][:3]
    second = client.get(
        f"/api/v1/payments?reference=order:&limit=3&cursor={first['next_cursor']}",
        headers=finance_headers,
    ).json
    assert [p["id"] for p in second["items"]] == [made[1].id, made[0].id]
    assert second["next_cursor"] is None
    item = first["items"][0]
    assert (
        item["amount_fen"] == 150_000 and item["currency"] == "CNY" and item["refundable_fen"] == 0
    )
    paid = client.get(
        "/api/v1/payments?status=succeeded&gateway=offline", headers=finance_headers
    ).json
    assert [p["reference"] for p in paid["items"]] == ["claim:api"]
    bad = client.get("/api/v1/payments?status=lost", headers=finance_headers)
    assert bad.status_code == 422 and "status" in bad.json["errors"]


def test_detail_and_not_found(client, create_payment, finance_headers):
    payment = create_payment()
    body = client.get(f"/api/v1/payments/{payment.id}", headers=finance_headers).json
    assert body["reference"] == payment.reference and body["refunds"] == []
    assert body["remittance_code"] == payment.remittance_code and body["version"] == payment.version
    missing = client.get("/api/v1/payments/999999", headers=finance_headers)
    assert missing.status_code == 404 and missing.json["code"] == "payment_not_found"


def test_webhook_events_of_a_payment(client, session, api_token, create_user, create_payment):
    """What the payment page shows under the payment: the gateway events it received."""
    payment = create_payment(gateway=GatewayKind.STRIPE, external_id="pi_events")
    other = create_payment(gateway=GatewayKind.STRIPE, external_id="pi_other")
    received = [
        (payment, WebhookOutcome.APPLIED),
        (other, WebhookOutcome.APPLIED),
        (payment, WebhookOutcome.IGNORED),
    ]
    for n, (target, outcome) in enumerate(received):
        session.add(
            WebhookEvent(
                gateway=GatewayKind.STRIPE,
                event_id=f"evt_parity_{n}",
                event_type="payment_intent.succeeded",
                occurred_at=utcnow(),
                payment_id=target.id,
                outcome=outcome,
                note="replayed" if outcome is WebhookOutcome.IGNORED else None,
            )
        )
    session.flush()
    url = f"/api/v1/payments/{payment.id}/webhook-events"
    auditor = api_token(create_user(Role.AUDITOR))
    events = client.get(url, headers=auditor)
    assert events.status_code == 200, events.json
    assert [(e["event_id"], e["outcome"]) for e in events.json] == [
        ("evt_parity_0", "applied"),
        ("evt_parity_2", "ignored"),
    ]
    assert events.json[1]["note"] == "replayed" and events.json[0]["gateway"] == "stripe"
    offline = create_payment()
    finance = api_token(create_user(Role.FINANCE))
    assert client.get(f"/api/v1/payments/{offline.id}/webhook-events", headers=finance).json == []
    assert client.get(url, headers=api_token(create_user(Role.ENTERPRISE))).status_code == 403
    assert client.get(url).status_code == 401
    missing = client.get("/api/v1/payments/999999/webhook-events", headers=finance)
    assert missing.status_code == 404 and missing.json["code"] == "payment_not_found"
    assert client.get(f"{url}?limit=5", headers=finance).status_code == 422


def test_offline_receipt_needs_a_key_and_replays(
    client, create_payment, finance_headers, session, finance
):
    payment = create_payment(amount_fen=80_000)
    url = f"/api/v1/payments/{payment.id}/offline-receipt"
    body = {"bank_reference": "ABC-1", "amount_fen": 80_000}
    assert client.post(url, json=body, headers=finance_headers).status_code == 428

    headers = {**finance_headers, **_key(), "If-Match": f'"{payment.version}"'}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)

    assert first.status_code == 200 and first.json["status"] == "succeeded"
    assert first.json["recorded_by_id"] == finance.id and first.json["refundable_fen"] == 80_000
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    succeeded = rows(
        session,
        AuditEvent,
        AuditEvent.action == "payment.succeeded",
        AuditEvent.subject_id == payment.id,
    )
    assert len(succeeded) == 1


def test_offline_receipt_refusals(client, create_payment, finance_headers, session):
    payment = create_payment(amount_fen=80_000)
    url = f"/api/v1/payments/{payment.id}/offline-receipt"
    mismatch = client.post(
        url, json={"bank_reference": "R", "amount_fen": 1}, headers={**finance_headers, **_key()}
    )
    assert mismatch.status_code == 422 and mismatch.json["code"] == "payment_amount_mismatch"
    stale = client.post(
        url,
        json={"bank_reference": "R", "amount_fen": 80_000, "version": payment.version + 1},
        headers={**finance_headers, **_key()},
    )
    assert stale.status_code == 412 and stale.json["code"] == "precondition_failed"
    unknown = client.post(
        url,
        json={"bank_reference": "R", "amount_fen": 80_000, "note": "x"},
        headers={**finance_headers, **_key()},
    )
    assert unknown.status_code == 422 and "note" in unknown.json["errors"]
    floaty = client.post(
        url,
        json={"bank_reference": "R", "amount_fen": 800.5},
        headers={**finance_headers, **_key()},
    )
    assert floaty.status_code == 422
    bad_match = client.post(
        url,
        json={"bank_reference": "R", "amount_fen": 80_000},
        headers={**finance_headers, **_key(), "If-Match": "latest"},
    )
    assert bad_match.status_code == 400
    session.expire_all()
    assert payment.status is PaymentStatus.PENDING


def test_offline_refunds(client, create_payment, finance_headers, session):
    payment = create_payment(
        amount_fen=10_000, status=PaymentStatus.SUCCEEDED, external_id="IN-api"
    )
    url = f"/api/v1/payments/{payment.id}/refunds"
    made = client.post(
        url,
        json={"amount_fen": 4_000, "reason": "部分退款", "bank_reference": "OUT-api"},
        headers={**finance_headers, **_key()},
    )
    assert made.status_code == 201
    assert (made.json["status"], made.json["external_id"], made.json["amount_fen"]) == (
        "succeeded",
        "OUT-api",
        4_000,
    )
    too_much = client.post(
        url,
        json={"amount_fen": 6_001, "reason": "x", "bank_reference": "OUT-2"},
        headers={**finance_headers, **_key()},
    )
    assert too_much.status_code == 409 and too_much.json["code"] == "refund_not_allowed"
    assert (
        client.post(url, json={"amount_fen": 1, "reason": "x"}, headers=finance_headers).status_code
        == 428
    )
    detail = client.get(f"/api/v1/payments/{payment.id}", headers=finance_headers).json
    assert detail["refunded_fen"] == 4_000 and detail["refundable_fen"] == 6_000
    assert [r["external_id"] for r in detail["refunds"]] == ["OUT-api"]


def test_stripe_refund_and_sync(stripe_app, stripe_ctx, session, dashboard, api_token, create_user):
    from marketplace.db import commit
    from marketplace.payments import services
    from tests.support.payment_fixtures import unique_reference

    payment = services.start_payment(session, unique_reference(), 6_600, description="api")
    commit(session)
    session.refresh(payment)
    dashboard.pay(payment.external_id)
    client = stripe_app.test_client()
    headers = api_token(create_user(Role.FINANCE))

    synced = client.post(f"/api/v1/payments/{payment.id}/sync", headers=headers)
    assert synced.status_code == 200 and synced.json["status"] == "succeeded"
    made = client.post(
        f"/api/v1/payments/{payment.id}/refunds",
        json={"amount_fen": 600, "reason": "差价退还"},
        headers={**headers, **_key()},
    )
    assert made.status_code == 201 and made.json["status"] == "pending"  # sent after the commit
    session.expire_all()
    [refund] = rows(session, PaymentRefund, PaymentRefund.payment_id == payment.id)
    assert refund.status is RefundStatus.SUCCEEDED and refund.external_id.startswith("re_")
    assert payment.refunded_fen == 600
    assert payment.gateway is GatewayKind.STRIPE


def test_endpoints_are_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/payments",
        "/api/v1/payments/{payment_id}",
        "/api/v1/payments/{payment_id}/offline-receipt",
        "/api/v1/payments/{payment_id}/refunds",
        "/api/v1/payments/{payment_id}/sync",
        "/api/v1/payments/{payment_id}/webhook-events",
    ):
        assert path in spec["paths"], path
