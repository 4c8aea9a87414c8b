"""Settlement pages: the provider's claims, the reviewers' and finance officers' queue, payout
batches; every route gated by role, other organisations' claims not found, auditors read-only."""

from __future__ import annotations

import csv
import io
import re

import pytest

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    PayoutBatchStatus,
    PayoutLineStatus,
)
from marketplace.settlement.models import PayoutBatch
from tests.support.fixtures import AuthActions
from tests.support.settlement_fixtures import set_bank_account


def _claim_now(w, *orders):
    return w.claim(*orders, now=utcnow())


def _approved(w, session, *orders):
    claim = _claim_now(w, *orders)
    w.review(claim, now=utcnow())
    w.finance_decide(claim, now=utcnow())
    for order in orders:
        set_bank_account(order.provider)
    session.flush()
    return claim


def test_pages_are_gated(client, auth, create_user):
    assert client.get("/settlement/").status_code == 302  # to the login page
    auth.login(create_user(Role.ENTERPRISE))
    assert client.get("/settlement/").status_code == 403
    assert client.get("/settlement/claimable").status_code == 403
    auth.logout()
    auth.login(create_user(Role.PROVIDER))
    assert client.get("/admin/settlement/claims").status_code == 403
    assert client.get("/admin/settlement/payouts").status_code == 403
    auth.logout()
    auth.login(create_user(Role.REVIEWER))
    assert client.get("/admin/settlement/claims").status_code == 200
    assert client.get("/admin/settlement/payouts").status_code == 403  # bank files: finance only


def test_a_provider_claims_from_the_page(client, auth, session, settlement_world):
    w = settlement_world
    order = w.recent_order()
    auth.login(w.seller(order))
    page = client.get("/settlement/claimable")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{order.id}"' in html and order.invoice.number in html
    assert html.count('data-passed="yes"') == 15

    empty = client.post("/settlement/claims", data={"note": ""})
    assert empty.status_code == 400

    response = client.post(
        "/settlement/claims", data={"order_ids": [str(order.id)], "note": "六月检测"}
    )
    assert response.status_code == 302
    detail_url = response.headers["Location"]
    session.expire_all()
    assert order.status is OrderStatus.CLAIMED
    detail = client.get(detail_url).get_data(as_text=True)
    assert "六月检测" in detail and 'data-rule="invoice_unique"' in detail
    assert f"#{order.id}" in detail
    listing = client.get("/settlement/").get_data(as_text=True)
    assert re.search(r"DF\d{8}", listing)
    # Claimed orders are no longer offered.
    assert f'value="{order.id}"' not in client.get("/settlement/claimable").get_data(as_text=True)


def test_a_refused_claim_is_explained(client, auth, session, settlement_world):
    w = settlement_world
    mine, theirs = w.recent_order(), w.recent_order()
    auth.login(w.seller(mine))
    response = client.post("/settlement/claims", data={"order_ids": [str(theirs.id)]})
    assert response.status_code == 404
    session.expire_all()
    assert theirs.status is OrderStatus.CONFIRMED


def test_another_providers_claim_is_not_found(client, auth, settlement_world):
    w = settlement_world
    claim = _claim_now(w, w.recent_order())
    other = w.recent_order()
    auth.login(w.seller(other))
    assert client.get(f"/settlement/claims/{claim.id}").status_code == 404
    assert client.post(f"/settlement/claims/{claim.id}/resubmit").status_code == 404


def test_review_and_finance_approval_from_the_pages(client, auth, session, settlement_world):
    w = settlement_world
    order = w.recent_order()
    claim = _claim_now(w, order)
    line = claim.lines[0]
    auth.login(w.reviewer)
    queue = client.get("/admin/settlement/claims").get_data(as_text=True)
    assert claim.reference in queue
    page = client.get(f"/admin/settlement/claims/{claim.id}").get_data(as_text=True)
    assert f'action="/admin/settlement/claims/{claim.id}/review"' in page
    assert "/finance" not in page.split("<h2>")[1]  # no finance form for a reviewer

    no_reason = client.post(
        f"/admin/settlement/claims/{claim.id}/review",
        data={"decision": "reject", "reason": ""},
    )
    assert no_reason.status_code == 422
    ok = client.post(
        f"/admin/settlement/claims/{claim.id}/review",
        data={"decision": "approve", "line_ids": [str(line.id)], "version": str(claim.version)},
    )
    assert ok.status_code == 302
    session.expire_all()
    assert line.status is ClaimLineStatus.REVIEWED
    assert (
        client.post(
            f"/admin/settlement/claims/{claim.id}/finance", data={"decision": "finance_approve"}
        ).status_code
        == 403
    )

    auth.logout()
    auth.login(w.finance)
    assert claim.reference in client.get("/admin/settlement/claims").get_data(as_text=True)
    done = client.post(
        f"/admin/settlement/claims/{claim.id}/finance", data={"decision": "finance_approve"}
    )
    assert done.status_code == 302
    session.expire_all()
    assert line.status is ClaimLineStatus.APPROVED and order.status is OrderStatus.CLAIM_APPROVED


def test_the_reviewer_cannot_approve_for_payment_from_the_page(
    client, auth, session, settlement_world
):
    w = settlement_world
    claim = _claim_now(w, w.recent_order())
    reviewer = w.reviewer
    w.review(claim, now=utcnow())
    reviewer.role = Role.FINANCE
    session.flush()
    auth.login(reviewer)
    response = client.post(
        f"/admin/settlement/claims/{claim.id}/finance", data={"decision": "finance_approve"}
    )
    assert response.status_code == 403
    assert "初审人" in response.get_data(as_text=True)
    session.expire_all()
    assert claim.lines[0].status is ClaimLineStatus.REVIEWED


def test_provider_resubmits_after_changes(client, auth, session, settlement_world):
    w = settlement_world
    order = w.recent_order()
    claim = _claim_now(w, order)
    w.review(claim, ClaimAction.REQUEST_CHANGES, reason="请补充验收单", now=utcnow())
    auth.login(w.seller(order))
    page = client.get(f"/settlement/claims/{claim.id}").get_data(as_text=True)
    assert "请补充验收单" in page and f"/settlement/claims/{claim.id}/resubmit" in page
    response = client.post(
        f"/settlement/claims/{claim.id}/resubmit", data={"version": str(claim.version)}
    )
    assert response.status_code == 302
    session.expire_all()
    assert claim.lines[0].status is ClaimLineStatus.PENDING_REVIEW
    assert order.status is OrderStatus.CLAIMED


def test_auditors_read_but_never_act(client, auth, session, settlement_world, create_user):
    w = settlement_world
    claim = _claim_now(w, w.recent_order())
    auth.login(create_user(Role.AUDITOR))
    page = client.get(f"/admin/settlement/claims/{claim.id}")
    assert page.status_code == 200 and "/review" not in page.get_data(as_text=True)
    assert (
        client.post(
            f"/admin/settlement/claims/{claim.id}/review", data={"decision": "approve"}
        ).status_code
        == 403
    )
    assert client.get("/admin/settlement/payouts").status_code == 200
    assert client.post("/admin/settlement/payouts").status_code == 403


def test_payout_batch_from_the_pages(client, auth, session, settlement_world):
    w = settlement_world
    first = w.recent_order()
    second = w.recent_order(provider=first.provider)
    _approved(w, session, first, second)
    auth.login(w.finance)
    queue = client.get("/admin/settlement/payouts").get_data(as_text=True)
    assert "¥2,000.00" in queue  # two voucher parts of ¥1,000.00

    created = client.post("/admin/settlement/payouts")
    assert created.status_code == 302
    batch_url = created.headers["Location"]
    batch_id = int(batch_url.rstrip("/").rsplit("/", 1)[1])

    download = client.get(f"/admin/settlement/payouts/{batch_id}/payment-file.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    text = download.get_data().decode("utf-8")
    assert text.startswith("\ufeffline_id,provider_name") and ",2000.00,200000,VMPAY" in text
    line_id = int(text.splitlines()[1].split(",")[0].lstrip("\ufeff"))

    early = client.post(
        f"/admin/settlement/payouts/{batch_id}/confirmation",
        data={"file": (io.BytesIO(b"x"), "bank.csv")},
        content_type="multipart/form-data",
    )
    assert early.status_code == 409  # not sent yet
    page = client.get(batch_url).get_data(as_text=True)
    assert (
        'data-testid="four-eyes"' in page and f"/payouts/{batch_id}/sent" not in page
    )  # the builder only reads
    assert client.post(f"/admin/settlement/payouts/{batch_id}/sent").status_code == 403
    auth.logout()
    auth.login(w.second_finance)
    assert f"/payouts/{batch_id}/sent" in client.get(batch_url).get_data(as_text=True)
    assert client.post(f"/admin/settlement/payouts/{batch_id}/sent").status_code == 302

    confirmation = f"line_id,status,bank_transaction_id,date\n{line_id},paid,BK-1,2026-07-01\n"
    # The second import records nothing new: a warning, not a success (issue 13, point 5).
    for expected, style in (("1 line(s) recorded", "success"), ("1 already recorded", "warning")):
        response = client.post(
            f"/admin/settlement/payouts/{batch_id}/confirmation",
            data={"file": (io.BytesIO(confirmation.encode()), "bank.csv")},
            content_type="multipart/form-data",
            follow_redirects=True,
            query_string={"lang": "en"},
        )
        shown = response.get_data(as_text=True)
        assert response.status_code == 200 and expected in shown
        assert f'<div class="flash flash-{style}" role="status">Confirmation imported' in shown
    bad = client.post(
        f"/admin/settlement/payouts/{batch_id}/confirmation",
        data={"file": (io.BytesIO(b"line_id,status,date\n1,lost,x\n"), "bank.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "row 2: " in bad.get_data(as_text=True)
    session.expire_all()
    assert first.status is OrderStatus.PAID_OUT and second.status is OrderStatus.PAID_OUT
    page = client.get(batch_url, query_string={"lang": "zh"}).get_data(as_text=True)
    assert PayoutBatchStatus.COMPLETED.zh in page and PayoutLineStatus.PAID.zh in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_render_in_both_languages(client, auth, session, settlement_world, lang):
    w = settlement_world
    order = w.recent_order()
    claim = _claim_now(w, order)
    auth.login(w.seller(order))
    for url in ("/settlement/", "/settlement/claimable", f"/settlement/claims/{claim.id}"):
        assert client.get(url, query_string={"lang": lang}).status_code == 200
    auth.logout()
    auth.login(w.finance)
    for url in ("/admin/settlement/claims", f"/admin/settlement/claims/{claim.id}"):
        assert client.get(url, query_string={"lang": lang, "status": "all"}).status_code == 200


def test_the_confirmation_template_is_completed_and_imported(
    client, auth, session, settlement_world
):
    w = settlement_world
    order = w.recent_order()
    _approved(w, session, order)
    auth.login(w.finance)
    batch_url = client.post("/admin/settlement/payouts").headers["Location"]
    batch_id = int(batch_url.rstrip("/").rsplit("/", 1)[1])
    auth.logout()
    auth.login(w.second_finance)
    assert client.post(f"/admin/settlement/payouts/{batch_id}/sent").status_code == 302
    assert 'data-testid="confirmation-template"' in client.get(batch_url).get_data(as_text=True)

    template_url = f"/admin/settlement/payouts/{batch_id}/confirmation-template.csv"
    download = client.get(template_url)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data().decode("utf-8").lstrip("\ufeff"))))
    today = local_date(utcnow()).isoformat()
    assert [(r["status"], r["bank_transaction_id"], r["date"]) for r in rows] == [
        ("paid", "", today)
    ]
    assert rows[0]["reference"].startswith("VMPAY")

    def upload(rows_):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows_[0]))
        writer.writeheader()
        writer.writerows(rows_)
        return client.post(
            f"/admin/settlement/payouts/{batch_id}/confirmation",
            data={"file": (io.BytesIO(out.getvalue().encode()), "bank.csv")},
            content_type="multipart/form-data",
        )

    # As downloaded it is not yet a confirmation: the bank's transaction id is missing.
    assert upload(rows).status_code == 422
    session.expire_all()
    assert order.status is OrderStatus.CLAIM_APPROVED
    rows[0]["bank_transaction_id"] = "BK20261123-0001"
    assert upload(rows).status_code == 302
    session.expire_all()
    assert order.status is OrderStatus.PAID_OUT
    after = client.get(template_url).get_data().decode("utf-8").lstrip("\ufeff")
    assert after.splitlines() == ["line_id,reference,status,bank_transaction_id,date,reason"]


def test_the_reviewer_sees_the_checks_as_they_stand_now(client, auth, session, settlement_world):
    # Submitted with every check passed; the voucher is revoked before anyone decides.
    from vouchers import expiry

    w = settlement_world
    order = w.recent_order()
    claim = _claim_now(w, order)
    assert claim.lines[0].precheck_passed
    expiry.revoke_voucher(
        session,
        order.voucher.id,
        reason="虚假材料",
        actor_id=None,
        idempotency_key=f"revoke-page-{order.voucher.id}",
    )
    session.flush()
    auth.login(w.reviewer)
    page = client.get(f"/admin/settlement/claims/{claim.id}").get_data(as_text=True)
    assert 'data-rule="voucher_not_revoked" data-passed="no"' in page
    refused = client.post(
        f"/admin/settlement/claims/{claim.id}/review",
        data={"decision": "approve", "version": str(claim.version)},
    )
    assert refused.status_code == 409
    assert "voucher_revoked" in refused.get_data(as_text=True)
    # What was recorded at submission is unchanged (reads write nothing).
    session.expire_all()
    assert claim.lines[0].precheck_passed


def test_a_large_batch_is_approved_from_the_page_then_sent_by_a_third_officer(
    make_app, session, settlement_world
):
    w = settlement_world
    order = w.recent_order()
    _approved(w, session, order)
    client = make_app(PAYOUT_SECOND_APPROVAL_ABOVE_FEN="0").test_client()
    auth = AuthActions(client)
    auth.login(w.finance)
    batch_url = client.post("/admin/settlement/payouts").headers["Location"]
    batch_id = int(batch_url.rstrip("/").rsplit("/", 1)[1])
    approval = f"/admin/settlement/payouts/{batch_id}/approval"
    assert approval not in client.get(batch_url).get_data(as_text=True)
    assert client.post(approval).status_code == 403
    auth.logout()

    auth.login(w.second_finance)
    page = client.get(batch_url, query_string={"lang": "zh"}).get_data(as_text=True)
    assert (
        approval in page
        and "待另一名财务人员复核" in page
        and f"/payouts/{batch_id}/sent" not in page
    )
    refused = client.post(f"/admin/settlement/payouts/{batch_id}/sent")
    assert refused.status_code == 409
    assert client.post(approval).status_code == 302
    assert f"/payouts/{batch_id}/sent" not in client.get(batch_url).get_data(
        as_text=True
    )  # the approver does not send
    auth.logout()

    auth.login(w.third_finance)
    assert client.post(f"/admin/settlement/payouts/{batch_id}/sent").status_code == 302
    session.expire_all()
    batch = session.get(PayoutBatch, batch_id)
    assert batch.status is PayoutBatchStatus.SENT
    assert (batch.created_by_id, batch.approved_by_id, batch.sent_by_id) == (
        w.finance.id,
        w.second_finance.id,
        w.third_finance.id,
    )
