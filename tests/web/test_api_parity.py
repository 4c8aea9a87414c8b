"""Issue 6: everything a role can do on the web pages it can do through the API, and the
OpenAPI document describes all of it.

``PARITY`` names, for every web endpoint (the API's own excepted), the API operations that do
the same thing — the step a form posts, the data a page shows — or why there is none. A new
page or form without an entry fails ``test_every_web_endpoint_is_mapped``; an entry naming an
operation the document does not describe fails ``test_every_operation_named_is_documented``.

Values are a tuple of operations ``"METHOD /api/v1/path"`` (paths as the OpenAPI document
spells them) or one reason string: ``"web-only: …"`` for what only makes sense in a browser,
``"GAP: …"`` for an action still missing from the API (none left at the time of writing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from marketplace import create_app
from tests.conftest import app_config

OPERATION = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/api/v1/\S+)$")
WEB_ONLY = "web-only: "
GAP = "GAP: "
#: Endpoints that are not pages of any area: files under /static.
NOT_PAGES = frozenset({"static"})

A = "/api/v1"

PARITY: dict[str, tuple[str, ...] | str] = {
    # ------------------------------------------------------------------ public, auth
    "public.home": (
        WEB_ONLY + "the landing page: what the platform is, links to the catalogue and "
        "registration, two headline counts (the catalogue and disclosure carry the data)"
    ),
    # ------------------------------------------------------------------ operations (issue 17)
    "ops.healthz": WEB_ONLY + "the load balancer's liveness probe, not a role's action",
    "ops.readyz": WEB_ONLY + "the load balancer's readiness probe, not a role's action",
    "ops.metrics": WEB_ONLY + "Prometheus's scrape, behind its own token, not a role's action",
    "auth.login": (
        WEB_ONLY + "starts a browser session; the API never accepts sessions and signs in with "
        f"a personal token instead (POST {A}/auth/tokens)"
    ),
    "auth.logout": (
        WEB_ONLY + f"ends the browser session; a token is revoked with DELETE {A}/auth/tokens/…"
    ),
    "auth.end_other_sessions": (
        WEB_ONLY + "browser sessions exist only on the web; the API signs in with tokens, "
        f"revoked one by one (DELETE {A}/auth/tokens/…)"
    ),
    "auth.change_password": (
        WEB_ONLY + "a password signs in to the browser only; the API authenticates with tokens, "
        "which a password change does not need"
    ),
    "auth.forgot_password": WEB_ONLY + "asks for a reset link by e-mail, which opens a web page",
    "auth.reset_password": WEB_ONLY + "the page an e-mailed reset link opens",
    "auth.login_second_factor": WEB_ONLY + "the second step of a browser sign-in",
    "auth.second_factor": (
        WEB_ONLY + "enrolment scans a QR code in the browser; the factor guards browser sessions"
    ),
    "auth.renew_recovery_codes": WEB_ONLY
    + "recovery codes stand in for the browser's second factor",
    "auth.confirm_second_factor": WEB_ONLY
    + "step-up of a browser session before a sensitive action",
    "auth.register": WEB_ONLY + "chooses between the two registration forms",
    "auth.register_enterprise": (f"POST {A}/registrations/enterprise",),
    "auth.register_provider": (f"POST {A}/registrations/provider",),
    "auth.account": (f"GET {A}/me", f"GET {A}/auth/tokens"),
    "auth.create_token": (f"POST {A}/auth/tokens",),
    "auth.revoke_token": (f"DELETE {A}/auth/tokens/{{token_id}}",),
    # ------------------------------------------------------------------ enterprise (SME)
    "enterprise.wallet": (f"GET {A}/wallet", f"GET {A}/me/enterprise"),
    "enterprise.programmes": (f"GET {A}/programmes", f"GET {A}/applications"),
    "enterprise.apply": (f"GET {A}/programmes/{{programme_id}}", f"POST {A}/applications"),
    "enterprise.application_list": (f"GET {A}/applications",),
    "enterprise.application": (f"GET {A}/applications/{{application_id}}",),
    "enterprise.respond": (f"POST {A}/applications/{{application_id}}/clarification",),
    "enterprise.voucher": (f"GET {A}/vouchers/{{voucher_id}}",),
    "enterprise.voucher_certificate": (f"GET {A}/vouchers/{{voucher_id}}",),
    "enterprise.voucher_certificate_pdf": (
        WEB_ONLY + "the printable PDF of the certificate page; the API gives the same facts and "
        f"the token (GET {A}/vouchers/{{voucher_id}})"
    ),
    "public.verify": (
        WEB_ONLY + "what a scanned QR code opens, for anyone holding the token (holder masked, "
        f"no amounts); signed-in providers verify over the API with POST {A}/vouchers/verify, "
        "which is a POST only so the token stays out of URLs and logs"
    ),
    "public.verify_form": (
        WEB_ONLY + "the form to type a serial or paste a token; the API takes either in "
        f"POST {A}/vouchers/verify"
    ),
    "enterprise.profile": (f"GET {A}/me/enterprise", f"PUT {A}/me/enterprise"),
    # ------------------------------------------------------------------ provider portal
    "provider.dashboard": (f"GET {A}/provider/application", f"GET {A}/provider/credit"),
    "provider.submit": (f"POST {A}/provider/application/submit",),
    "provider.application": (
        f"GET {A}/provider/application",
        f"PATCH {A}/provider/application",
        f"GET {A}/provider/application/bank-changes",
    ),
    "provider.qualifications": (
        f"GET {A}/provider/application",
        f"GET {A}/provider/application/qualification-changes",
        f"PUT {A}/provider/application/qualifications/cma",
        f"PUT {A}/provider/application/qualifications/cnas",
        f"PUT {A}/provider/application/qualifications/patent_agency",
    ),
    "provider.remove_qualification": (f"DELETE {A}/provider/application/qualifications/{{kind}}",),
    "provider.documents_page": (
        f"GET {A}/provider/application/documents",
        f"POST {A}/provider/application/documents",
    ),
    "provider.download_document": (f"GET {A}/provider/application/documents/{{document_id}}",),
    "provider.delete_document": (f"DELETE {A}/provider/application/documents/{{document_id}}",),
    "provider.commitment": (
        f"GET {A}/provider/application/commitment",
        f"POST {A}/provider/application/commitment",
    ),
    "provider.programmes": (
        f"GET {A}/provider/application/programmes",
        f"PUT {A}/provider/application/programmes",
    ),
    # ------------------------------------------------------------------ instrument booking
    "instruments.calendar": (f"GET {A}/instruments/{{service_id}}/calendar",),
    "instruments.book": (
        f"GET {A}/instruments/{{service_id}}/calendar",
        f"POST {A}/instruments/{{service_id}}/bookings",
    ),
    "instruments.bookings": (f"GET {A}/instruments/bookings",),
    "instruments.booking": (f"GET {A}/instruments/bookings/{{booking_id}}",),
    "instruments.booking_step": (
        f"POST {A}/instruments/bookings/{{booking_id}}/confirm",
        f"POST {A}/instruments/bookings/{{booking_id}}/decline",
        f"POST {A}/instruments/bookings/{{booking_id}}/cancel",
        f"POST {A}/instruments/bookings/{{booking_id}}/use",
        f"POST {A}/instruments/bookings/{{booking_id}}/no-show",
    ),
    "instruments.manage_list": (f"GET {A}/provider/services",),
    "instruments.manage": (
        f"GET {A}/provider/instruments/{{service_id}}/calendar",
        f"PUT {A}/provider/instruments/{{service_id}}/calendar",
    ),
    "instruments.add_closure": (f"POST {A}/provider/instruments/{{service_id}}/closures",),
    "instruments.remove_closure": (
        f"DELETE {A}/provider/instruments/{{service_id}}/closures/{{closure_id}}",
    ),
    "instruments.utilisation_page": (f"GET {A}/instruments/utilisation",),
    "provider.service_list": (f"GET {A}/provider/services",),
    "provider.new_service": (f"POST {A}/provider/services", f"POST {A}/provider/instruments"),
    "provider.edit_service": (
        f"GET {A}/provider/services/{{service_id}}",
        f"PUT {A}/provider/services/{{service_id}}",
        f"PUT {A}/provider/instruments/{{service_id}}",
    ),
    "provider.toggle_service": (f"PUT {A}/provider/services/{{service_id}}/active",),
    "provider.related_parties": (
        f"GET {A}/provider/related-parties",
        f"POST {A}/provider/related-parties",
    ),
    "provider.withdraw_related_party": (
        f"POST {A}/provider/related-parties/{{declaration_id}}/withdraw",
    ),
    # ------------------------------------------------------------------ public catalogue
    "catalogue.search": (f"GET {A}/catalogue/services",),
    "catalogue.service": (f"GET {A}/catalogue/services/{{service_id}}",),
    "catalogue.provider": (
        f"GET {A}/catalogue/providers/{{provider_id}}",
        f"GET {A}/catalogue/services",
        f"GET {A}/catalogue/providers/{{provider_id}}/ratings",
    ),
    "catalogue.notices": (f"GET {A}/catalogue/notices",),
    "catalogue.objection": (
        f"GET {A}/catalogue/notices",
        f"POST {A}/catalogue/notices/{{provider_id}}/objections",
    ),
    # ------------------------------------------------------------------ orders and mediation
    "orders.index": (f"GET {A}/orders",),
    "orders.invoice_file": (f"GET {A}/invoice-files/{{file_id}}",),
    "orders.red_letter": WEB_ONLY + "the upload form only; it shows no data",
    "orders.red_letter_upload": (f"POST {A}/invoices/red-letter",),
    "orders.index_file": (f"GET {A}/orders",),
    "orders.dispute_queue": (f"GET {A}/orders/disputes",),
    "orders.new": (f"GET {A}/catalogue/services/{{service_id}}", f"POST {A}/orders"),
    "orders.detail": (f"GET {A}/orders/{{order_id}}", f"GET {A}/orders/{{order_id}}/payment"),
    "orders.quote": (f"POST {A}/orders/{{order_id}}/quote",),
    "orders.decline": (f"POST {A}/orders/{{order_id}}/decline",),
    "orders.accept": (f"POST {A}/orders/{{order_id}}/accept",),
    "orders.accept_preview": (
        WEB_ONLY + "the accept form's live figures for its script; the API's accept answers "
        "with the split it made, and GET /vouchers/{voucher_id} and /wallet give the inputs"
    ),
    "orders.deliver": (f"POST {A}/orders/{{order_id}}/deliver",),
    "orders.confirm": (f"POST {A}/orders/{{order_id}}/confirm",),
    "orders.cancel": (f"POST {A}/orders/{{order_id}}/cancel",),
    "orders.dispute": (f"POST {A}/orders/{{order_id}}/dispute",),
    "orders.rate": (f"POST {A}/orders/{{order_id}}/rate",),
    "orders.refund": (f"POST {A}/orders/{{order_id}}/refund",),
    "orders.report": (f"GET {A}/orders/{{order_id}}/report",),
    "orders.outcome": (
        f"GET {A}/orders/{{order_id}}/outcome",
        f"PUT {A}/orders/{{order_id}}/outcome",
    ),
    "orders.mediation": (f"GET {A}/orders/{{order_id}}/dispute",),
    "orders.post_message": (f"POST {A}/orders/{{order_id}}/dispute/messages",),
    "orders.add_document": (f"POST {A}/orders/{{order_id}}/dispute/documents",),
    "orders.document": (f"GET {A}/orders/{{order_id}}/dispute/documents/{{document_id}}",),
    "orders.decide": (f"POST {A}/orders/{{order_id}}/dispute/decision",),
    # ------------------------------------------------------------------ provider settlement
    "settlement.claims_list": (f"GET {A}/claims",),
    "settlement.claimable": (f"GET {A}/settlement/claimable-orders",),
    "settlement.create_claim": (f"POST {A}/claims",),
    "settlement.claim_detail": (f"GET {A}/claims/{{claim_id}}",),
    "settlement.resubmit": (f"POST {A}/claims/{{claim_id}}/resubmit",),
    # ------------------------------------------------------------------ public disclosure
    "disclosure.index": (
        f"GET {A}/disclosure/grants",
        f"GET {A}/disclosure/redemptions",
        f"GET {A}/disclosure/funders",
    ),
    "disclosure.grants_file": (f"GET {A}/disclosure/grants",),
    # ------------------------------------------------------------------ gateway callbacks
    "payments.stripe_webhook": (
        WEB_ONLY + "Stripe's server calls it, authenticated by signature; no role does. What "
        f"it recorded: GET {A}/payments/{{payment_id}}/webhook-events"
    ),
    # ------------------------------------------------------------------ administration
    "admin.home": (
        # The dashboard's counts of pending work and the latest audit events; the total number
        # of user accounts it also shows has no API (accounts are managed from the CLI).
        f"GET {A}/enterprises",
        f"GET {A}/admin/providers",
        f"GET {A}/audit/events",
    ),
    "admin.audit": (f"GET {A}/audit/events",),
    "admin.reveal_personal_data": (f"POST {A}/personal-data/reveal",),
    "admin.users": (
        WEB_ONLY + "the accounts list exists for the second-factor reset beside it, which needs "
        "the administrator's own fresh second factor (a browser step)"
    ),
    "admin.reset_second_factor": (
        WEB_ONLY + "needs the administrator's fresh second factor, which only a browser session has"
    ),
    "admin.audit_file": (f"GET {A}/audit/events",),
    "admin.statistics": (f"GET {A}/statistics",),
    "admin.dashboard_page": (f"GET {A}/dashboard",),
    "admin.dashboard_file": (f"GET {A}/dashboard",),
    "admin.dashboard_orders": (f"GET {A}/orders",),
    "admin.outcomes": (f"GET {A}/outcomes/summary",),
    "admin.outcome_records": (f"GET {A}/outcomes/records",),
    # ------------------------------------------------------------------ risk and audit samples
    "risk.flags": (f"GET {A}/risk/flags",),
    "risk.flags_file": (f"GET {A}/risk/flags",),
    "risk.assess": (f"POST {A}/risk/assessments",),
    "risk.order": (f"GET {A}/risk/orders/{{order_id}}", f"GET {A}/risk/findings"),
    "risk.parties": (f"GET {A}/risk/parties/{{party_kind}}/{{party_id}}",),
    "risk.settings": (f"GET {A}/risk/settings", f"PUT {A}/risk/settings/{{rule}}"),
    "risk.samples": (f"GET {A}/risk/samples", f"POST {A}/risk/samples"),
    "risk.sample": (f"GET {A}/risk/samples/{{sample_id}}",),
    "risk.finding": (f"POST {A}/risk/samples/{{sample_id}}/items/{{item_id}}/finding",),
    "risk.findings": (f"GET {A}/risk/findings",),
    "risk.findings_file": (f"GET {A}/risk/findings",),
    "risk.document": (
        WEB_ONLY + "downloads a finding's evidence file; the API lists the documents with the "
        f"finding (GET {A}/risk/findings)"
    ),
    # vouchers: programmes, budgets, bulk issuance
    "admin.voucher_programmes": (f"GET {A}/programmes", f"GET {A}/budgets"),
    "admin.voucher_programme_new": (f"POST {A}/programmes",),
    "admin.voucher_programme_edit": (
        f"GET {A}/programmes/{{programme_id}}",
        f"PUT {A}/programmes/{{programme_id}}",
    ),
    "admin.voucher_programme": (
        f"GET {A}/programmes/{{programme_id}}",
        f"GET {A}/programmes/{{programme_id}}/budget",
        f"GET {A}/programmes/{{programme_id}}/bulk-issuances",
    ),
    "admin.voucher_bulk_issue": (f"POST {A}/programmes/{{programme_id}}/bulk-issuances",),
    "admin.voucher_batch": (f"GET {A}/issuance-batches/{{batch_id}}",),
    "admin.voucher_bulk_template": (
        WEB_ONLY + "a spreadsheet to fill in by hand; the API takes the rows as JSON "
        f"(POST {A}/programmes/{{programme_id}}/bulk-issuances)"
    ),
    # ------------------------------------------------------------------ background jobs (issue 13)
    "jobs.job_page": (
        WEB_ONLY + "the progress page of a job a page started; the API issues in bulk in one "
        f"call answering the per-row report (POST {A}/programmes/{{programme_id}}/bulk-issuances, "
        f"then GET {A}/issuance-batches/{{batch_id}}) and exports by paging its lists"
    ),
    "jobs.my_jobs": (
        WEB_ONLY + "the list of the jobs a person started from pages (see jobs.job_page); the "
        "API does the same work in its own calls and has no background jobs to list"
    ),
    "jobs.job_status": WEB_ONLY + "what the job page's progress bar polls (see jobs.job_page)",
    "jobs.job_report": (
        WEB_ONLY + f"the job's per-row report as a file; the API's is GET {A}/issuance-batches/…"
    ),
    "jobs.job_file": (
        WEB_ONLY + "a spreadsheet a page's export job wrote; the API pages the same records "
        f"(GET {A}/audit/events, {A}/vouchers, {A}/orders …)"
    ),
    "jobs.start_export": (
        WEB_ONLY + "runs a page's CSV/XLSX export in the background; the API pages the records"
    ),
    "admin.voucher_budget": (f"GET {A}/budgets",),
    # funders (issue 14, point 5)
    "admin.funder_list": (f"GET {A}/funders",),
    "admin.funder_create": (f"POST {A}/funders",),
    "admin.funder_edit": (f"GET {A}/funders/{{funder_id}}", f"PUT {A}/funders/{{funder_id}}"),
    "admin.programme_funders": (f"GET {A}/programmes/{{programme_id}}/funders",),
    "admin.programme_shares_set": (f"PUT {A}/programmes/{{programme_id}}/shares",),
    "admin.programme_funder_budget": (
        f"PUT {A}/programmes/{{programme_id}}/funders/{{funder_id}}/budget",
    ),
    # vouchers: applications, vouchers, the ledger
    "admin.voucher_applications": (f"GET {A}/applications",),
    "admin.voucher_application": (
        f"GET {A}/applications/{{application_id}}",
        f"GET {A}/programmes/{{programme_id}}/budget",
    ),
    "admin.voucher_application_approve": (f"POST {A}/applications/{{application_id}}/approve",),
    "admin.voucher_application_clarify": (
        f"POST {A}/applications/{{application_id}}/clarification-request",
    ),
    "admin.voucher_application_reject": (f"POST {A}/applications/{{application_id}}/reject",),
    "admin.voucher_list": (f"GET {A}/vouchers",),
    "admin.voucher_list_file": (f"GET {A}/vouchers",),
    "admin.voucher_detail": (f"GET {A}/vouchers/{{voucher_id}}",),
    "admin.voucher_revoke": (f"POST {A}/vouchers/{{voucher_id}}/revoke",),
    "admin.voucher_ledger_verify": (f"GET {A}/ledger/verify",),
    # enterprises
    "admin.enterprise_queue": (f"GET {A}/enterprises",),
    "admin.enterprise_detail": (
        f"GET {A}/enterprises/{{enterprise_id}}",
        f"GET {A}/applications",
        f"GET {A}/vouchers",
    ),
    "admin.enterprise_verify": (f"POST {A}/enterprises/{{enterprise_id}}/verification",),
    "admin.enterprise_blacklist": (f"POST {A}/enterprises/{{enterprise_id}}/blacklist",),
    "admin.enterprise_unblacklist": (f"POST {A}/enterprises/{{enterprise_id}}/blacklist/removal",),
    "admin.freeze_list": (f"GET {A}/freezes",),
    "admin.freeze_decide": (f"POST {A}/freezes/{{freeze_id}}/decision",),
    # providers
    "admin.providers_queue": (
        f"GET {A}/admin/providers",
        f"GET {A}/admin/objections",
        f"GET {A}/admin/bank-changes",
        # the "changes awaiting review" queue
        f"GET {A}/admin/documents",
        f"GET {A}/admin/qualification-changes",
        f"GET {A}/admin/related-party-withdrawals",
    ),
    "admin.provider_detail": (
        f"GET {A}/admin/providers/{{provider_id}}",
        f"GET {A}/admin/providers/{{provider_id}}/documents",
        f"GET {A}/admin/providers/{{provider_id}}/commitment",
        f"GET {A}/admin/objections",
        f"GET {A}/admin/providers/{{provider_id}}/assessments",
        f"GET {A}/admin/providers/{{provider_id}}/credit",
        f"GET {A}/admin/providers/{{provider_id}}/credit-events",
        f"GET {A}/admin/providers/{{provider_id}}/related-parties",
        f"GET {A}/admin/bank-changes",
        f"GET {A}/admin/qualification-changes",
        f"GET {A}/admin/related-party-withdrawals",
    ),
    "admin.decide_bank_change": (  # <decision> is approve or reject
        f"POST {A}/admin/bank-changes/{{change_id}}/approve",
        f"POST {A}/admin/bank-changes/{{change_id}}/reject",
    ),
    "admin.decide_document": (  # <decision> is approve or reject
        f"POST {A}/admin/documents/{{document_id}}/approve",
        f"POST {A}/admin/documents/{{document_id}}/reject",
    ),
    "admin.decide_qualification_change": (  # <decision> is approve or reject
        f"POST {A}/admin/qualification-changes/{{change_id}}/approve",
        f"POST {A}/admin/qualification-changes/{{change_id}}/reject",
    ),
    "admin.decide_withdrawal": (  # <decision> is approve or reject
        f"POST {A}/admin/related-party-withdrawals/{{withdrawal_id}}/approve",
        f"POST {A}/admin/related-party-withdrawals/{{withdrawal_id}}/reject",
    ),
    "admin.provider_document": (
        f"GET {A}/admin/providers/{{provider_id}}/documents/{{document_id}}",
    ),
    "admin.provider_action": (  # <action> is one of these six
        f"POST {A}/admin/providers/{{provider_id}}/pass-to-notice",
        f"POST {A}/admin/providers/{{provider_id}}/admit",
        f"POST {A}/admin/providers/{{provider_id}}/reject",
        f"POST {A}/admin/providers/{{provider_id}}/suspend",
        f"POST {A}/admin/providers/{{provider_id}}/reinstate",
        f"POST {A}/admin/providers/{{provider_id}}/revoke",
    ),
    "admin.provider_participation": (
        f"PUT {A}/admin/providers/{{provider_id}}/programmes/{{programme_id}}",
    ),
    "admin.assess_provider": (  # the form's "assessed by" picks one of the two
        f"POST {A}/admin/providers/{{provider_id}}/assessments",
        f"POST {A}/admin/providers/{{provider_id}}/third-party-assessments",
    ),
    "admin.objections": (f"GET {A}/admin/objections",),
    "admin.decide_objection": (  # <decision> is uphold or dismiss
        f"POST {A}/admin/objections/{{objection_id}}/uphold",
        f"POST {A}/admin/objections/{{objection_id}}/dismiss",
    ),
    # payments
    "admin.payments": (f"GET {A}/payments",),
    "admin.payment": (
        f"GET {A}/payments/{{payment_id}}",
        f"GET {A}/payments/{{payment_id}}/webhook-events",
        f"GET {A}/audit/events",
    ),
    "admin.record_receipt": (f"POST {A}/payments/{{payment_id}}/offline-receipt",),
    "admin.refund": (f"POST {A}/payments/{{payment_id}}/refunds",),
    "admin.sync": (f"POST {A}/payments/{{payment_id}}/sync",),
    # settlement: claims
    "admin.settlement_claims": (f"GET {A}/claims",),
    "admin.settlement_claims_file": (f"GET {A}/claims",),
    "admin.settlement_claim": (f"GET {A}/claims/{{claim_id}}",),
    "admin.settlement_review": (  # the form's decision picks one of the three
        f"POST {A}/claims/{{claim_id}}/review/approve",
        f"POST {A}/claims/{{claim_id}}/review/request-changes",
        f"POST {A}/claims/{{claim_id}}/review/reject",
    ),
    "admin.settlement_finance": (
        f"POST {A}/claims/{{claim_id}}/finance/approve",
        f"POST {A}/claims/{{claim_id}}/finance/return",
        f"POST {A}/claims/{{claim_id}}/finance/reject",
    ),
    # settlement: payouts
    "admin.settlement_payouts": (f"GET {A}/payout-batches", f"GET {A}/payout-queue"),
    "admin.settlement_payouts_file": (f"GET {A}/payout-batches",),
    "admin.settlement_create_batch": (f"POST {A}/payout-batches",),
    "admin.settlement_batch": (f"GET {A}/payout-batches/{{batch_id}}",),
    "admin.settlement_payment_file": (f"GET {A}/payout-batches/{{batch_id}}/payment-file",),
    "admin.settlement_mark_sent": (f"POST {A}/payout-batches/{{batch_id}}/sent",),
    "admin.settlement_approve_batch": (f"POST {A}/payout-batches/{{batch_id}}/approval",),
    "admin.settlement_confirmation_template": (
        f"GET {A}/payout-batches/{{batch_id}}/confirmation-template",
    ),
    "admin.settlement_confirmation": (
        f"POST {A}/payout-batches/{{batch_id}}/confirmation-csv",
        f"POST {A}/payout-batches/{{batch_id}}/confirmation",
    ),
}


@pytest.fixture(scope="module")
def parity_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app for its URL map and OpenAPI document; no test here touches the database."""
    tmp = tmp_path_factory.mktemp("parity")
    app = create_app(app_config(f"sqlite:///{Path(tmp) / 'unused.db'}", tmp))
    yield app
    engine = app.extensions["db"].engine
    if engine is not None:
        engine.dispose()


@pytest.fixture(scope="module")
def documented(parity_app: Flask) -> set[str]:
    response = parity_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }


def _web_endpoints(app: Flask) -> dict[str, set[str]]:
    """Web endpoint → the HTTP methods it answers (HEAD and OPTIONS aside)."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") or rule.endpoint in NOT_PAGES:
            continue
        found.setdefault(rule.endpoint, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return found


def _operations(value: tuple[str, ...] | str) -> tuple[str, ...]:
    return () if isinstance(value, str) else value


def test_every_web_endpoint_is_mapped(parity_app):
    web = _web_endpoints(parity_app)
    unmapped = sorted(set(web) - set(PARITY))
    assert not unmapped, (
        f"web endpoints with no API counterpart named in PARITY: {unmapped}. Add the API "
        "operation that does the same thing, or the reason there is none."
    )
    stale = sorted(set(PARITY) - set(web))
    assert not stale, f"PARITY names endpoints that no longer exist: {stale}"


def test_every_operation_named_is_documented(documented):
    for name, value in PARITY.items():
        for operation in _operations(value):
            assert OPERATION.match(operation), f"{name}: {operation!r} is not 'METHOD /api/v1/…'"
            assert operation in documented, f"{name}: {operation} is not in the OpenAPI document"


def test_reasons_say_why():
    for name, value in PARITY.items():
        if isinstance(value, str):
            assert value.startswith((WEB_ONLY, GAP)), f"{name}: say 'web-only: …' or 'GAP: …'"
            assert len(value) > len(WEB_ONLY) + 20, f"{name}: give the reason"
        else:
            assert value, f"{name}: name at least one operation"
            assert len(set(value)) == len(value), f"{name}: an operation is named twice"


def test_forms_map_to_writes_and_pages_to_reads(parity_app):
    """A form that posts maps to at least one state-changing operation; a page that only
    shows data maps to at least one read."""
    for name, methods in _web_endpoints(parity_app).items():
        operations = _operations(PARITY[name])
        if not operations:
            continue
        verbs = {operation.split(" ", 1)[0] for operation in operations}
        if "POST" in methods:
            assert verbs - {"GET"}, f"{name} posts a form but maps only to reads"
        else:
            assert "GET" in verbs, f"{name} is a page but maps to no read"
