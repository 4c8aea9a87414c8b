"""The settlement JSON API: every endpoint with its roles, object-level checks, stable error
codes, Idempotency-Key on money-moving POSTs and If-Match on decisions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.settlement.enums import ClaimLineStatus
from marketplace.settlement.models import ClaimLine
from tests.support.settlement_fixtures import set_bank_account

API = "/api/v1"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.fixture
def tokens(api_token, settlement_world):
    w = settlement_world
    return {
        "reviewer": api_token(w.reviewer),
        "finance": api_token(w.finance, step_up=True),
        "second_finance": api_token(w.second_finance, step_up=True),
    }


def _submit(client, api_token, w, *orders):
    response = client.post(
        f"{API}/claims",
        json={"order_ids": [o.id for o in orders]},
        headers=api_token(w.seller(orders[0])),
    )
    assert response.status_code == 201, response.json
    return response.json


def test_claimable_orders_and_submission(client, api_token, settlement_world, create_user):
    w = settlement_world
    order = w.recent_order()
    seller = api_token(w.seller(order))
    listed = client.get(f"{API}/settlement/claimable-orders", headers=seller)
    assert listed.status_code == 200
    (item,) = listed.json
    assert item["order_id"] == order.id and item["ready"] and item["precheck_passed"]
    assert item["voucher_part_fen"] == 100_000 and len(item["checklist"]) == 15
    assert item["invoice"]["number"] == order.invoice.number
    for role in (Role.ENTERPRISE, Role.REVIEWER, Role.FINANCE):
        headers = api_token(create_user(role))
        assert client.get(f"{API}/settlement/claimable-orders", headers=headers).status_code == 403
        assert (
            client.post(
                f"{API}/claims", json={"order_ids": [order.id]}, headers=headers
            ).status_code
            == 403
        )

    body = _submit(client, api_token, w, order)
    assert body["status"] == "in_review" and body["amount_fen"] == 100_000
    (line,) = body["lines"]
    assert line["order_status"] == "claimed" and line["precheck_passed"]
    assert [c["rule"] for c in line["checklist"]][-7:] == [
        "not_disputed",
        "not_related",
        "voucher_not_revoked",
        "invoice_items",
        "invoice_not_reversed",
        "invoice_verified",
        "documents",
    ]
    assert body["events"][0]["action"] == "submit"
    assert client.get(f"{API}/settlement/claimable-orders", headers=seller).json == []


def test_submission_errors_have_stable_codes(client, api_token, settlement_world, create_order):
    w = settlement_world
    order = w.recent_order()
    seller = api_token(w.seller(order))
    other = w.recent_order()
    refused = client.post(f"{API}/claims", json={"order_ids": [other.id]}, headers=seller)
    assert refused.status_code == 404 and refused.json["code"] == "order_not_found"
    _submit(client, api_token, w, order)
    again = client.post(f"{API}/claims", json={"order_ids": [order.id]}, headers=seller)
    assert again.status_code == 409 and again.json["code"] == "not_claimable"
    disputed = create_order(OrderStatus.DISPUTED, now=utcnow() - timedelta(days=3))
    response = client.post(
        f"{API}/claims", json={"order_ids": [disputed.id]}, headers=api_token(w.seller(disputed))
    )
    assert response.status_code == 409 and response.json["code"] == "order_disputed"
    invalid = client.post(f"{API}/claims", json={"order_ids": []}, headers=seller)
    assert invalid.status_code == 422 and "order_ids" in invalid.json["errors"]


def test_claims_are_visible_to_their_provider_and_administrators(
    client, api_token, settlement_world, create_user
):
    w = settlement_world
    order = w.recent_order()
    mine = _submit(client, api_token, w, order)
    theirs = _submit(client, api_token, w, w.recent_order())
    seller = api_token(w.seller(order))
    own = client.get(f"{API}/claims", headers=seller).json
    assert [c["id"] for c in own["items"]] == [mine["id"]]
    hidden = client.get(f"{API}/claims/{theirs['id']}", headers=seller)
    assert hidden.status_code == 404 and hidden.json["code"] == "claim_not_found"
    auditor = api_token(create_user(Role.AUDITOR))
    every = client.get(f"{API}/claims?limit=1", headers=auditor).json
    assert [c["id"] for c in every["items"]] == [theirs["id"]] and every["next_cursor"]
    filtered = client.get(
        f"{API}/claims?status=in_review&provider_id={mine['provider_id']}", headers=auditor
    ).json
    assert [c["id"] for c in filtered["items"]] == [mine["id"]]
    assert client.get(f"{API}/claims/{mine['id']}", headers=auditor).json["lines"]
    assert (
        client.get(f"{API}/claims", headers=api_token(create_user(Role.ENTERPRISE))).status_code
        == 403
    )


def test_review_and_finance_decisions(client, api_token, settlement_world, tokens, session):
    w = settlement_world
    first = w.recent_order()
    second = w.recent_order(provider=first.provider)
    claim = _submit(client, api_token, w, first, second)
    url = f"{API}/claims/{claim['id']}"
    line_one, line_two = (line["id"] for line in claim["lines"])

    assert (
        client.post(f"{url}/review/approve", json={}, headers=tokens["finance"]).status_code == 403
    )
    blank = client.post(f"{url}/review/reject", json={"reason": "   "}, headers=tokens["reviewer"])
    assert blank.status_code == 422 and "reason" in blank.json["errors"]
    changes = client.post(
        f"{url}/review/request-changes",
        json={"reason": "补充验收单", "line_ids": [line_two]},
        headers=tokens["reviewer"],
    )
    assert changes.status_code == 200
    assert [ln["status"] for ln in changes.json["lines"]] == ["pending_review", "changes_requested"]
    approved = client.post(
        f"{url}/review/approve",
        json={"note": "材料齐全", "version": changes.json["version"]},
        headers=tokens["reviewer"],
    )
    assert approved.status_code == 200 and approved.json["status"] == "awaiting_finance"

    resubmitted = client.post(f"{url}/resubmit", json={}, headers=api_token(w.seller(first)))
    assert resubmitted.status_code == 200
    assert resubmitted.json["lines"][1]["status"] == "pending_review"
    rejected = client.post(
        f"{url}/review/reject",
        json={"reason": "重复申报", "line_ids": [line_two]},
        headers=tokens["reviewer"],
    )
    assert rejected.json["lines"][1]["decision_reason"] == "重复申报"

    finance_url = f"{url}/finance/approve"
    assert client.post(finance_url, json={}, headers=tokens["finance"]).status_code == 428
    stale = client.post(
        finance_url,
        json={},
        headers={**tokens["finance"], **_key(), "If-Match": str(approved.json["version"])},
    )
    assert stale.status_code == 412 and stale.json["code"] == "precondition_failed"
    key = _key()
    done = client.post(
        finance_url, json={"line_ids": [line_one]}, headers={**tokens["finance"], **key}
    )
    assert done.status_code == 200 and done.json["status"] == "approved"
    replay = client.post(
        finance_url, json={"line_ids": [line_one]}, headers={**tokens["finance"], **key}
    )
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json == done.json
    session.expire_all()
    assert first.status is OrderStatus.CLAIM_APPROVED and second.status is OrderStatus.CONFIRMED


def test_failing_checks_and_separated_duties_over_the_api(
    client, api_token, settlement_world, tokens, session
):
    w = settlement_world
    order = w.recent_order()
    order.invoice.amount_fen += 1
    session.flush()
    claim = _submit(client, api_token, w, order)
    url = f"{API}/claims/{claim['id']}"
    assert claim["lines"][0]["checklist"][0]["passed"] is False
    refused = client.post(f"{url}/review/approve", json={}, headers=tokens["reviewer"])
    assert refused.status_code == 409 and refused.json["code"] == "invoice_amount_mismatch"

    clean = _submit(client, api_token, w, w.recent_order())
    reviewer = w.reviewer
    client.post(f"{API}/claims/{clean['id']}/review/approve", json={}, headers=tokens["reviewer"])
    reviewer.role = Role.FINANCE
    session.flush()
    same = client.post(
        f"{API}/claims/{clean['id']}/finance/approve",
        json={},
        headers={**api_token(reviewer, step_up=True), **_key()},
    )
    assert same.status_code == 403 and same.json["code"] == "separation_of_duties"
    for decision in ("return", "reject"):
        out_of_turn = client.post(
            f"{url}/finance/{decision}", json={"reason": "x"}, headers=tokens["finance"]
        )
        assert out_of_turn.status_code == 409 and out_of_turn.json["code"] == "claim_state_conflict"


def test_payout_batches_over_the_api(
    client, api_token, settlement_world, tokens, session, create_user
):
    w = settlement_world
    first = w.recent_order()
    second = w.recent_order()
    for order in (first, second):
        claim = w.claim(order, now=utcnow())
        w.review(claim, now=utcnow())
        w.finance_decide(claim, now=utcnow())
    set_bank_account(first.provider)
    session.flush()
    finance = tokens["finance"]
    queue = client.get(f"{API}/payout-queue", headers=finance).json
    assert {(q["order_id"], q["bank_account_on_file"]) for q in queue} == {
        (first.id, True),
        (second.id, False),
    }
    assert client.post(f"{API}/payout-batches", json={}, headers=finance).status_code == 428
    missing = client.post(
        f"{API}/payout-batches",
        json={"claim_line_ids": [q["claim_line_id"] for q in queue]},
        headers={**finance, **_key()},
    )
    assert missing.status_code == 409 and missing.json["code"] == "bank_account_missing"
    created = client.post(f"{API}/payout-batches", json={}, headers={**finance, **_key()})
    assert created.status_code == 201
    batch = created.json
    assert batch["status"] == "draft" and batch["total_fen"] == 100_000
    assert batch["skipped_providers"] == [
        {"provider_id": second.provider_id, "name": second.provider.name}
    ]
    url = f"{API}/payout-batches/{batch['id']}"
    line = batch["lines"][0]
    assert line["order_ids"] == [first.id] and line["reference"].startswith("VMPAY")

    payment_file = client.get(f"{url}/payment-file", headers=finance).json
    assert payment_file["filename"].endswith(".csv")
    assert f"{line['id']},{first.provider.name}" in payment_file["content"]

    paid = {"paid": [{"line_id": line["id"], "bank_transaction_id": "T-1", "date": "2026-07-01"}]}
    early = client.post(f"{url}/confirmation", json=paid, headers={**finance, **_key()})
    assert early.status_code == 409 and early.json["code"] == "payout_state_conflict"
    assert client.post(f"{url}/sent", headers=finance).status_code == 428
    # Four eyes: the officer who built the batch cannot send it; another one does.
    own = client.post(
        f"{url}/sent", headers={**finance, **_key(), "If-Match": str(batch["version"])}
    )
    assert own.status_code == 403 and own.json["code"] == "separation_of_duties"
    finance = tokens["second_finance"]
    sent = client.post(
        f"{url}/sent", headers={**finance, **_key(), "If-Match": str(batch["version"])}
    )
    assert sent.status_code == 200 and sent.json["status"] == "sent"
    assert sent.json["needs_second_approval"] is False and sent.json["approved_by_id"] is None
    builder_import = client.post(
        f"{url}/confirmation", json=paid, headers={**tokens["finance"], **_key()}
    )
    assert builder_import.status_code == 403
    assert builder_import.json["code"] == "separation_of_duties"
    template = client.get(f"{url}/confirmation-template", headers=finance).json
    assert template["filename"] == f"confirmation-{batch['reference']}.csv"
    assert f"{line['id']},{line['reference']},paid,," in template["content"]
    seller = api_token(w.seller(first))
    assert client.get(f"{url}/confirmation-template", headers=seller).status_code == 403

    unknown = client.post(
        f"{url}/confirmation",
        json={"failed": [{"line_id": line["id"] + 1000, "date": "2026-07-01"}]},
        headers={**finance, **_key()},
    )
    assert unknown.status_code == 409 and unknown.json["code"] == "confirmation_mismatch"
    assert list(unknown.json["rows"]) == ["row 1"]
    imported = client.post(f"{url}/confirmation", json=paid, headers={**finance, **_key()})
    assert imported.status_code == 200
    assert imported.json["applied"] == [line["id"]]
    assert imported.json["batch"]["status"] == "completed"
    again = client.post(f"{url}/confirmation", json=paid, headers={**finance, **_key()})
    assert again.json["applied"] == [] and again.json["unchanged"] == [line["id"]]
    conflicting = client.post(
        f"{url}/confirmation-csv",
        json={"csv": f"line_id,status,bank_transaction_id,date\n{line['id']},failed,,2026-07-01\n"},
        headers={**finance, **_key()},
    )
    assert conflicting.status_code == 409 and conflicting.json["code"] == "confirmation_conflict"
    unreadable = client.post(
        f"{url}/confirmation-csv",
        json={"csv": "status,date\npaid,x\n"},
        headers={**finance, **_key()},
    )
    assert unreadable.status_code == 422 and unreadable.json["code"] == "confirmation_invalid"
    assert list(unreadable.json["errors"]) == ["csv"]
    session.expire_all()
    assert first.status is OrderStatus.PAID_OUT and second.status is OrderStatus.CLAIM_APPROVED

    listed = client.get(f"{API}/payout-batches?status=completed", headers=finance).json
    assert [b["id"] for b in listed["items"]] == [batch["id"]]
    auditor = api_token(create_user(Role.AUDITOR))
    assert client.get(url, headers=auditor).json["lines"][0]["status"] == "paid"
    assert (
        client.post(f"{API}/payout-batches", json={}, headers={**auditor, **_key()}).status_code
        == 403
    )
    for role in (Role.PROVIDER, Role.REVIEWER, Role.SYSADMIN):
        assert client.get(url, headers=api_token(create_user(role))).status_code == 403
    assert client.get(f"{API}/payout-batches/999999", headers=finance).json["code"] == (
        "payout_batch_not_found"
    )
    paid_line = session.scalars(sa.select(ClaimLine).where(ClaimLine.order_id == first.id)).one()
    assert paid_line.status is ClaimLineStatus.PAID and paid_line.payout_line_id == line["id"]


def test_a_large_batch_is_approved_over_the_api_before_it_is_sent(
    make_app, api_token, settlement_world, session
):
    w = settlement_world
    order = w.recent_order()
    claim = w.claim(order, now=utcnow())
    w.review(claim, now=utcnow())
    w.finance_decide(claim, now=utcnow())
    set_bank_account(order.provider)
    session.flush()
    client = make_app(PAYOUT_SECOND_APPROVAL_ABOVE_FEN="0").test_client()
    builder, approver, sender = (
        api_token(u, step_up=True) for u in (w.finance, w.second_finance, w.third_finance)
    )
    batch = client.post(f"{API}/payout-batches", json={}, headers={**builder, **_key()}).json
    assert batch["needs_second_approval"] is True and batch["approved_by_id"] is None
    url = f"{API}/payout-batches/{batch['id']}"

    def step(path, headers, version):
        return client.post(f"{url}/{path}", headers={**headers, **_key(), "If-Match": str(version)})

    unapproved = step("sent", sender, batch["version"])
    assert unapproved.status_code == 409 and unapproved.json["code"] == "second_approval_required"
    assert step("approval", builder, batch["version"]).json["code"] == "separation_of_duties"
    assert client.post(f"{url}/approval", headers=approver).status_code == 428
    stale = step("approval", approver, batch["version"] + 5)
    assert stale.status_code == 412
    approved = step("approval", approver, batch["version"])
    assert approved.status_code == 200
    assert approved.json["approved_by_id"] == w.second_finance.id
    assert approved.json["approved_at"] is not None
    assert step("sent", approver, approved.json["version"]).status_code == 403
    sent = step("sent", sender, approved.json["version"])
    assert sent.status_code == 200 and sent.json["status"] == "sent"
    auditor = api_token(w.create_user(Role.AUDITOR))
    assert step("approval", auditor, sent.json["version"]).status_code == 403
