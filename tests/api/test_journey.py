"""Issue 6: one order walked from the voucher application to the payout, over /api/v1 only.

Every step is an HTTP call made with the acting party's own API token. Fixtures provide only
what the API deliberately cannot create:

* the administrators (reviewer, finance, auditor): they are created only by
  ``flask users create-admin`` (README, "Admins are never self-registered");
* the funded programme: programmes and budgets can be created over the API, but the
  programme is not what this journey is about (tests/web/vouchers/test_api.py covers them);
* the admitted provider with its bank account and its admission to the programme: admission
  is a journey of its own (file, documents, public notice, review), walked over the API in
  tests/web/providers/test_api.py. The provider lists its service itself, over the API.

The enterprise registers itself, gets its token with its password, and is verified by the
reviewer, all over the API. The last step, ``settlement settle``, has no endpoint (it is a
cron job by design), so it runs as the CLI command.

Everything acts on the real clock, so the dates line up as in production: voucher issued,
order agreed, delivered, confirmed, claimed, paid out and settled on the same (China) day;
the claim's cooling-off period is the default 0 days.
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role
from marketplace.settlement.ledger_checks import verify_books
from tests.support.fixtures import PASSWORD, unique_credit_code, unique_email
from tests.support.order_fixtures import invoice_number
from tests.support.provider_fixtures import PDF
from tests.support.settlement_fixtures import set_bank_account
from vouchers import ledger
from vouchers.enums import AccountKind

API = "/api/v1"
VOUCHER_FEN = 1_000_000  # ¥10,000 applied for and granted
UNIT_PRICE_FEN = 82_305  # ¥823.05 per sample
QUANTITY = 3
PRICE_FEN = UNIT_PRICE_FEN * QUANTITY  # 246,915: odd, so the 50% split has a remainder
VOUCHER_PART_FEN = PRICE_FEN // 2  # floor(50%) = 123,457
CO_PAYMENT_FEN = PRICE_FEN - VOUCHER_PART_FEN  # the rest = 123,458


@dataclass
class Party:
    """One caller of the API: its token headers, and calls that check the status code."""

    client: FlaskClient
    headers: dict[str, str]

    def _headers(self, key: bool, version: int | None) -> dict[str, str]:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return headers

    def get(self, path: str, *, status: int = 200, **query: Any) -> Any:
        response = self.client.get(API + path, headers=self.headers, query_string=query)
        assert response.status_code == status, (path, response.status_code, response.json)
        return response.json

    def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        status: int = 200,
        key: bool = False,
        version: int | None = None,
    ) -> Any:
        """POST ``body``; ``key`` adds a fresh Idempotency-Key, ``version`` an If-Match."""
        response = self.client.post(API + path, json=body, headers=self._headers(key, version))
        assert response.status_code == status, (path, response.status_code, response.json)
        return response.json


def test_one_order_from_voucher_application_to_payout(
    app, client, session, api_token, create_user, create_provider, create_service, order_world
):
    today = local_date(utcnow())
    anyone = Party(client, {})
    reviewer = Party(client, api_token(create_user(Role.REVIEWER)))
    finance = Party(client, api_token(create_user(Role.FINANCE), step_up=True))
    # Four eyes: another finance officer sends the batch and imports the bank's confirmation.
    treasurer = Party(client, api_token(create_user(Role.FINANCE), step_up=True))
    auditor = Party(client, api_token(create_user(Role.AUDITOR)))
    # Fixture: this year's funded programme (whole-year windows, 50% ceiling, shared cap).
    programme = order_world.programme(today.year)

    # ------------------------------------------------ 1. the enterprise and its voucher
    email, credit_code = unique_email("sme"), unique_credit_code("530102")
    registered = anyone.post(
        "/registrations/enterprise",
        {
            "name": "昆明滇池智能装备有限公司",
            "credit_code": credit_code,
            "contact_name": "李娜",
            "contact_phone": "13987100000",
            "email": email,
            "password": PASSWORD,
            "size_class": "small",
            "industry": "智能制造",
        },
        status=202,
    )
    assert (registered["status"], registered["email"]) == ("received", email)
    token = anyone.post(
        "/auth/tokens", {"email": email, "password": PASSWORD, "name": "erp"}, status=201
    )
    sme = Party(client, {"Authorization": f"Bearer {token['token']}"})
    me = sme.get("/me")
    assert (me["role"], me["organisation_status"]) == ("enterprise", "pending")
    enterprise_id = me["enterprise_id"]

    application = {
        "programme_id": programme.id,
        "requested_fen": VOUCHER_FEN,
        "planned_categories": ["testing"],
        "plan": "新型伺服电机电磁兼容检测，申请检验检测服务。",
    }
    unverified = sme.post("/applications", application, status=409)
    assert unverified["code"] == "enterprise_unverified"

    queue = reviewer.get("/enterprises", verification_status="pending")
    assert enterprise_id in [e["id"] for e in queue["items"]]
    verified = reviewer.post(
        f"/enterprises/{enterprise_id}/verification",
        {"decision": "verified", "note": "营业执照核验一致"},
    )
    assert verified["verification_status"] == "verified"
    assert sme.get("/me")["organisation_status"] == "verified"

    applied = sme.post("/applications", application, status=201)
    assert (applied["status"], applied["requested_fen"]) == ("submitted", VOUCHER_FEN)
    voucher = reviewer.post(
        f"/applications/{applied['id']}/approve", {"note": "同意"}, status=201, key=True
    )
    assert (voucher["status"], voucher["face_value_fen"]) == ("active", VOUCHER_FEN)
    assert voucher["enterprise_id"] == enterprise_id
    assert sme.get(f"/applications/{applied['id']}")["status"] == "approved"
    wallet = sme.get("/wallet")
    assert [(v["id"], v["balance_fen"]) for v in wallet["vouchers"]] == [
        (voucher["id"], VOUCHER_FEN)
    ]
    assert (wallet["balance_fen"], wallet["used_fen"], wallet["held_fen"]) == (VOUCHER_FEN, 0, 0)

    # ------------------------------------------------ 2. find, order, pay, deliver, confirm
    # Fixture: an admitted provider, admitted to the programme, with its bank account on file.
    provider = set_bank_account(
        create_provider(name="云南省电子产品质量检验研究院", service_categories=["testing"])
    )
    order_world.admit(provider, programme)
    seller = Party(client, api_token(create_user(Role.PROVIDER, provider=provider)))
    create_service(title="专利检索分析", description="专利查新与检索。")  # not a match
    listed = seller.post(
        "/provider/services",
        {
            "title": "电磁兼容（EMC）检测",
            "category": "testing",
            "description": "依据 GB/T 17626 开展静电放电、浪涌等电磁兼容项目检测。",
            "price_fen": UNIT_PRICE_FEN,
            "unit": "样品",
            "lead_time_days": 10,
        },
        status=201,
    )

    found = sme.get("/catalogue/services", q="电磁兼容")
    assert [s["id"] for s in found["items"]] == [listed["id"]]
    assert found["items"][0]["price_fen"] == UNIT_PRICE_FEN

    order = sme.post(
        "/orders",
        {"service_id": listed["id"], "quantity": QUANTITY, "note": "三台样机"},
        status=201,
    )
    assert order["status"] == "requested"
    url = f"/orders/{order['id']}"
    quoted = seller.post(f"{url}/quote", {"note": "按目录价"}, version=order["version"])
    assert (quoted["status"], quoted["price_fen"]) == ("quoted", PRICE_FEN)

    agreed = sme.post(
        f"{url}/accept",
        {"voucher_id": voucher["id"], "agree": True, "version": quoted["version"]},
        key=True,
    )
    assert agreed["status"] == "agreed"
    assert (agreed["voucher_part_fen"], agreed["co_payment_fen"]) == (
        VOUCHER_PART_FEN,
        CO_PAYMENT_FEN,
    )
    wallet = sme.get("/wallet")
    assert (wallet["held_fen"], wallet["balance_fen"]) == (
        VOUCHER_PART_FEN,
        VOUCHER_FEN - VOUCHER_PART_FEN,
    )

    payment = sme.get(f"{url}/payment")
    assert (payment["status"], payment["amount_fen"]) == ("pending", CO_PAYMENT_FEN)
    assert payment["remittance_code"] in payment["instructions"]
    finance.post(
        f"/payments/{payment['payment_id']}/offline-receipt",
        {"bank_reference": f"CMB{order['id']:08d}", "amount_fen": CO_PAYMENT_FEN},
        key=True,
    )
    paid = sme.get(url)
    assert paid["status"] == "paid"

    delivered = seller.post(
        f"{url}/deliver",
        {
            "invoice": {
                "code": "053002300111",
                "number": invoice_number(),
                "issued_on": today.isoformat(),
                "amount_fen": PRICE_FEN,
                "buyer_taxpayer_id": credit_code,
                "seller_taxpayer_id": provider.credit_code,
            },
            "report": {
                "filename": "EMC检测报告.pdf",
                "content_base64": base64.b64encode(PDF).decode(),
            },
            "note": "报告见附件",
        },
        version=paid["version"],
    )
    assert delivered["status"] == "delivered"
    assert delivered["invoice"]["amount_fen"] == PRICE_FEN
    assert base64.b64decode(sme.get(f"{url}/report")["content_base64"]) == PDF

    confirmed = sme.post(f"{url}/confirm", key=True, version=delivered["version"])
    assert confirmed["status"] == "confirmed"
    rating = sme.post(f"{url}/rate", {"stars": 5, "comment": "出报告很快"}, status=201)
    assert rating["stars"] == 5
    wallet = sme.get("/wallet")
    assert (wallet["used_fen"], wallet["held_fen"]) == (VOUCHER_PART_FEN, 0)

    session.expire_all()
    accounts = {
        kind: ledger.get_account(session, kind, programme_id=programme.id, provider_id=provider.id)
        for kind in (AccountKind.PROVIDER_PAYABLE, AccountKind.PROVIDER_PAID)
    }

    def provider_ledger() -> tuple[int, int]:
        session.expire_all()
        return tuple(ledger.balance_of(session, account) for account in accounts.values())

    assert provider_ledger() == (VOUCHER_PART_FEN, 0)  # captured at confirmation: payable

    # ------------------------------------------------ 3. claim, review, payout, settle
    (claimable,) = seller.get("/settlement/claimable-orders")
    assert (claimable["order_id"], claimable["voucher_part_fen"]) == (order["id"], VOUCHER_PART_FEN)
    assert claimable["ready"] and claimable["precheck_passed"]
    assert claimable["claimable_on"] == today.isoformat()  # 0 days cooling off
    claim = seller.post("/claims", {"order_ids": [order["id"]]}, status=201)
    assert (claim["status"], claim["amount_fen"]) == ("in_review", VOUCHER_PART_FEN)
    assert all(check["passed"] for check in claim["lines"][0]["checklist"])
    claim_url = f"/claims/{claim['id']}"

    reviewed = reviewer.post(
        f"{claim_url}/review/approve", {"note": "材料齐全"}, version=claim["version"]
    )
    assert reviewed["status"] == "awaiting_finance"
    approved = finance.post(
        f"{claim_url}/finance/approve", {"note": "同意拨付"}, key=True, version=reviewed["version"]
    )
    assert approved["status"] == "approved"
    assert sme.get(url)["status"] == "claim_approved"
    assert provider_ledger() == (VOUCHER_PART_FEN, 0)  # approval moves no money

    (queued,) = finance.get("/payout-queue")
    assert (queued["order_id"], queued["amount_fen"]) == (order["id"], VOUCHER_PART_FEN)
    batch = finance.post("/payout-batches", {}, status=201, key=True)
    assert (batch["status"], batch["total_fen"], batch["skipped_providers"]) == (
        "draft",
        VOUCHER_PART_FEN,
        [],
    )
    (line,) = batch["lines"]
    batch_url = f"/payout-batches/{batch['id']}"

    payment_file = finance.get(f"{batch_url}/payment-file")
    assert payment_file["filename"].endswith(".csv")
    (row,) = csv.DictReader(io.StringIO(payment_file["content"].removeprefix("\ufeff")))
    assert (row["line_id"], row["provider_name"], row["reference"]) == (
        str(line["id"]),
        provider.name,
        line["reference"],
    )
    assert (row["account_number"], row["amount_fen"], row["amount_yuan"]) == (
        provider.bank_account_number,
        str(VOUCHER_PART_FEN),
        "1234.57",
    )

    sent = treasurer.post(f"{batch_url}/sent", key=True, version=batch["version"])
    assert sent["status"] == "sent"
    assert provider_ledger() == (VOUCHER_PART_FEN, 0)  # nothing is paid until the bank says so

    bank_csv = (
        "line_id,reference,status,bank_transaction_id,date,reason\r\n"
        f"{line['id']},{line['reference']},paid,BOC{line['id']:010d},{today.isoformat()},\r\n"
    )
    imported = treasurer.post(f"{batch_url}/confirmation-csv", {"csv": bank_csv}, key=True)
    assert imported["applied"] == [line["id"]]
    assert imported["batch"]["status"] == "completed"
    assert imported["batch"]["lines"][0]["status"] == "paid"
    assert sme.get(url)["status"] == "paid_out"
    assert seller.get(claim_url)["status"] == "paid"
    assert provider_ledger() == (0, VOUCHER_PART_FEN)  # payable → paid

    settled = app.test_cli_runner().invoke(args=["settlement", "settle"])
    assert settled.exit_code == 0, settled.output
    assert f"settled 1 order(s) as of {today.isoformat()}" in settled.output

    final = sme.get(url)
    assert final["status"] == "settled"
    assert [e["action"] for e in final["events"]] == [
        "quote",
        "accept",
        "pay",
        "deliver",
        "confirm",
        "claim",
        "approve_claim",
        "pay_out",
        "settle",
    ]
    assert (final["price_fen"], final["voucher_part_fen"], final["co_payment_fen"]) == (
        PRICE_FEN,
        VOUCHER_PART_FEN,
        CO_PAYMENT_FEN,
    )

    # ------------------------------------------------ 4. the books balance
    assert auditor.get("/ledger/verify")["ok"] is True
    session.expire_all()
    report = verify_books(session)
    assert report.ok, [check.breaches for check in report.checks if not check.ok]
