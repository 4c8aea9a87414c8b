"""Voucher administration pages: programmes, reviews, bulk issuance, budgets, enterprises,
vouchers and revocation, the ledger check — and who may do what."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.db import utcnow
from marketplace.enums import Role
from vouchers import holds
from vouchers.enums import ApplicationStatus, HoldStatus, VerificationStatus, VoucherStatus
from vouchers.ledger_models import LedgerTransaction
from vouchers.models import (
    Application,
    BlacklistEvent,
    Enterprise,
    EnterpriseVerificationEvent,
    IssuanceBatch,
    Programme,
    RecoveryFlag,
    Voucher,
)

NOW = utcnow()
YEAR = clock.local_date(NOW).year


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def login_as(create_user, auth):
    def factory(role: Role):
        user = create_user(role)
        auth.login(user)
        return user

    return factory


@pytest.fixture
def programme(funded_programme):
    return funded_programme(year=YEAR)


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "path",
    [
        "/admin/programmes",
        "/admin/budget",
        "/admin/applications",
        "/admin/enterprises",
        "/admin/vouchers",
        "/admin/ledger/verify",
    ],
)
def test_every_admin_role_reads_and_others_are_refused(client, login_as, path, auth):
    login_as(Role.ENTERPRISE)
    assert client.get(path).status_code == 403
    auth.logout()
    for role in (Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN):
        login_as(role)
        assert client.get(path).status_code == 200, role
        auth.logout()


def test_auditors_and_finance_cannot_review(
    client, login_as, submit_application, programme, auth, session
):
    application = submit_application(programme=programme, now=NOW)
    for role in (Role.AUDITOR, Role.FINANCE):
        login_as(role)
        for action, data in (
            ("approve", {}),
            ("clarify", {"question": "?"}),
            ("reject", {"reason": "no"}),
        ):
            response = client.post(f"/admin/applications/{application.id}/{action}", data=data)
            assert response.status_code == 403, (role, action)
        auth.logout()
    session.expire_all()
    assert session.get(Application, application.id).status is ApplicationStatus.SUBMITTED


# --------------------------------------------------------------------------- programmes


def _programme_form(**overrides):
    data = {
        "kind": "service",
        "year": str(YEAR),
        "name": f"{YEAR}年度昆明市创业创新服务券（测试）",
        "funding_body": "municipal",
        "total_budget": "2,000,000",
        "cap_scope": "shared",
        "annual_cap": "30000",
        "ceiling_percent": "50",
        "eligible_categories": ["consulting", "ip"],
        "eligible_size_classes": ["micro", "small"],
        "region_prefix": "5301",
        "applications_open_on": f"{YEAR}-01-01",
        "applications_close_on": f"{YEAR}-12-31",
        "use_by": f"{YEAR}-12-31",
        "claim_deadline": f"{YEAR + 1}-03-31",
        "low_budget_alert_percent": "12.5",
        "notice_days": "7",
    }
    data.update(overrides)
    return data


def test_sysadmin_creates_a_programme_and_its_budget_is_granted(client, session, login_as):
    login_as(Role.SYSADMIN)
    response = client.post("/admin/programmes/new", data=_programme_form())
    assert response.status_code == 302
    programme = session.scalars(sa.select(Programme)).one()
    assert programme.total_budget_fen == 200_000_000
    assert programme.ceiling_bps == 5_000 and programme.low_budget_alert_bps == 1_250
    assert programme.region_prefix == "5301"
    page = _text(client.get(f"/admin/programmes/{programme.id}?lang=en"))
    assert re.search(r'data-testid="available">¥2,000,000.00<', page)


def test_reviewers_cannot_manage_programmes(client, login_as, programme):
    login_as(Role.REVIEWER)
    assert client.get("/admin/programmes/new").status_code == 403
    assert client.post("/admin/programmes/new", data=_programme_form()).status_code == 403
    assert client.get(f"/admin/programmes/{programme.id}/edit").status_code == 403


def test_programme_form_errors_change_nothing(client, session, login_as):
    login_as(Role.SYSADMIN)
    bad_dates = client.post(
        "/admin/programmes/new", data=_programme_form(claim_deadline=f"{YEAR}-06-30")
    )
    assert bad_dates.status_code == 409
    bad_money = client.post("/admin/programmes/new", data=_programme_form(total_budget="1.005"))
    assert bad_money.status_code == 400
    zero = client.post("/admin/programmes/new", data=_programme_form(total_budget="0"))
    assert zero.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(Programme)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 0


def test_rules_are_locked_once_vouchers_are_issued(
    client, session, login_as, programme, issue_voucher
):
    login_as(Role.SYSADMIN)
    edit = _text(client.get(f"/admin/programmes/{programme.id}/edit"))
    version = re.search(r'name="version" type="hidden" value="(\d+)"', edit).group(1)
    form = _programme_form(
        kind=programme.kind.value,
        name="改名后的券种",
        region_prefix="53",
        eligible_categories=list(programme.eligible_categories),
        eligible_size_classes=list(programme.eligible_size_classes),
        funding_body=programme.funding_body.value,
        total_budget="1000000",
        applications_open_on=str(programme.applications_open_on),
        applications_close_on=str(programme.applications_close_on),
        use_by=str(programme.use_by),
        claim_deadline=str(programme.claim_deadline),
        low_budget_alert_percent="10",
        version=version,
    )
    issue_voucher(programme=programme, now=NOW)
    locked = client.post(
        f"/admin/programmes/{programme.id}/edit", data={**form, "ceiling_percent": "40"}
    )
    assert locked.status_code == 409
    assert "ceiling_bps" in _text(locked)
    session.expire_all()
    assert session.get(Programme, programme.id).ceiling_bps == 5_000
    renamed = client.post(f"/admin/programmes/{programme.id}/edit", data=form)
    assert renamed.status_code == 302
    session.expire_all()
    assert session.get(Programme, programme.id).name == "改名后的券种"
    stale = client.post(f"/admin/programmes/{programme.id}/edit", data={**form, "name": "再改"})
    assert stale.status_code == 412


# --------------------------------------------------------------------------- review


def test_reviewer_approves_a_lower_amount(client, session, login_as, programme, submit_application):
    application = submit_application(programme=programme, requested_fen=2_000_000, now=NOW)
    login_as(Role.REVIEWER)
    assert application.enterprise.name in _text(client.get("/admin/applications"))
    response = client.post(
        f"/admin/applications/{application.id}/approve",
        data={"amount": "15,000", "note": "按预算调减"},
    )
    assert response.status_code == 302
    session.expire_all()
    voucher = session.scalars(sa.select(Voucher)).one()
    assert voucher.face_value_fen == 1_500_000 and voucher.balance_fen == 1_500_000
    assert session.get(Application, application.id).status is ApplicationStatus.APPROVED
    page = _text(client.get(f"/admin/applications/{application.id}"))
    assert voucher.serial in page and "按预算调减" in page


def test_approving_more_than_requested_is_refused(
    client, session, login_as, programme, submit_application
):
    application = submit_application(programme=programme, requested_fen=1_000_000, now=NOW)
    login_as(Role.REVIEWER)
    response = client.post(
        f"/admin/applications/{application.id}/approve", data={"amount": "10000.01"}
    )
    assert response.status_code == 409
    assert session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 0


def test_clarify_then_reject_with_a_mandatory_reason(
    client, session, login_as, programme, submit_application
):
    application = submit_application(programme=programme, now=NOW)
    login_as(Role.REVIEWER)
    assert (
        client.post(
            f"/admin/applications/{application.id}/clarify", data={"question": "请补充检测方案"}
        ).status_code
        == 302
    )
    session.expire_all()
    assert (
        session.get(Application, application.id).status is ApplicationStatus.CLARIFICATION_REQUESTED
    )
    assert (
        client.post(f"/admin/applications/{application.id}/reject", data={"reason": ""}).status_code
        == 400
    )
    assert (
        client.post(
            f"/admin/applications/{application.id}/reject", data={"reason": "   "}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/admin/applications/{application.id}/reject", data={"reason": "材料不实"}
        ).status_code
        == 302
    )
    session.expire_all()
    rejected = session.get(Application, application.id)
    assert rejected.status is ApplicationStatus.REJECTED and rejected.decision_reason == "材料不实"
    # A rejected application cannot be approved afterwards.
    assert client.post(f"/admin/applications/{application.id}/approve", data={}).status_code == 409


# --------------------------------------------------------------------------- bulk issuance


def test_bulk_issuance_reports_every_row_and_never_issues_twice(
    client, session, login_as, programme, create_enterprise
):
    good = create_enterprise()
    blacklisted = create_enterprise(blacklisted=True, blacklist_reason="失信")
    outside = create_enterprise(division="110101")  # Beijing: outside the Yunnan region
    csv = (
        "credit_code,amount_yuan,note\n"
        f"{good.credit_code},8000,首批\n"
        f"{blacklisted.credit_code},5000,\n"
        f"{outside.credit_code},5000,\n"
        "91530102MA6T0000X0,5000,\n"
        f"{good.credit_code},1000,重复\n"
    ).encode("utf-8-sig")
    login_as(Role.REVIEWER)

    def upload():
        return client.post(
            f"/admin/programmes/{programme.id}/bulk-issuances",
            data={"file": (io.BytesIO(csv), "batch.csv")},
            content_type="multipart/form-data",
        )

    first = upload()
    assert first.status_code == 302
    batch = session.scalars(sa.select(IssuanceBatch)).one()
    assert (batch.issued_count, batch.refused_count, batch.issued_fen) == (1, 4, 800_000)
    codes = [row["code"] for row in batch.report]
    assert codes == [
        None,
        "enterprise_blacklisted",
        "not_eligible",
        "credit_code_invalid",
        "duplicate_row",
    ]
    report = _text(client.get(first.headers["Location"]))
    assert "enterprise_blacklisted" in report and "duplicate_row" in report
    assert "flash flash-success" in report  # one voucher was issued
    again = upload()
    assert again.status_code == 302
    assert session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(IssuanceBatch)) == 1


def test_a_file_where_every_row_was_refused_is_a_warning(
    client, login_as, programme, session, create_enterprise
):
    blacklisted = create_enterprise(blacklisted=True, blacklist_reason="失信")
    csv = f"credit_code,amount_yuan\n{blacklisted.credit_code},5000\n".encode()
    login_as(Role.REVIEWER)
    response = client.post(
        f"/admin/programmes/{programme.id}/bulk-issuances",
        data={"file": (io.BytesIO(csv), "none.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = _text(response)
    warning = re.search(r'class="flash flash-warning" role="status">([^<]*)<', page)
    assert warning and "0" in warning.group(1)  # "0 vouchers issued, 1 row refused"


def test_unreadable_csv_is_refused(client, login_as, programme, session):
    login_as(Role.REVIEWER)
    response = client.post(
        f"/admin/programmes/{programme.id}/bulk-issuances",
        data={"file": (io.BytesIO(b"name,amount\nx,1\n"), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "credit_code" in _text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(IssuanceBatch)) == 0


# --------------------------------------------------------------------------- budgets


def test_budget_overview_raises_the_low_budget_alert(
    client, login_as, funded_programme, issue_voucher
):
    programme = funded_programme(year=YEAR, total_budget_fen=2_000_000, low_budget_alert_bps=2_000)
    login_as(Role.FINANCE)
    assert f'data-testid="low-budget-{programme.id}"' not in _text(client.get("/admin/budget"))
    issue_voucher(programme=programme, amount_fen=1_700_000, now=NOW)
    page = _text(client.get("/admin/budget?lang=en"))
    assert f'data-testid="low-budget-{programme.id}"' in page
    assert "¥3,000.00" in page  # what is left


# --------------------------------------------------------------------------- enterprises


def test_verification_queue_and_decisions(client, session, login_as, create_enterprise):
    pending = create_enterprise(verification_status=VerificationStatus.PENDING)
    login_as(Role.REVIEWER)
    assert pending.name in _text(client.get("/admin/enterprises"))
    refused = client.post(
        f"/admin/enterprises/{pending.id}/verification", data={"decision": "rejected", "note": ""}
    )
    assert refused.status_code == 422
    ok = client.post(
        f"/admin/enterprises/{pending.id}/verification",
        data={"decision": "verified", "note": "营业执照已核对"},
    )
    assert ok.status_code == 302
    session.expire_all()
    assert session.get(Enterprise, pending.id).verification_status is VerificationStatus.VERIFIED
    event = session.scalars(sa.select(EnterpriseVerificationEvent)).one()
    assert (event.from_status, event.to_status, event.note) == (
        VerificationStatus.PENDING,
        VerificationStatus.VERIFIED,
        "营业执照已核对",
    )
    assert "营业执照已核对" in _text(client.get(f"/admin/enterprises/{pending.id}"))


def test_blacklist_add_and_remove_keep_their_history(client, session, login_as, create_enterprise):
    enterprise = create_enterprise()
    login_as(Role.REVIEWER)
    missing_source = client.post(
        f"/admin/enterprises/{enterprise.id}/blacklist",
        data={"reason": "失信被执行人", "source": "", "listed_on": str(date(YEAR, 1, 5))},
    )
    assert missing_source.status_code == 400
    added = client.post(
        f"/admin/enterprises/{enterprise.id}/blacklist",
        data={
            "reason": "失信被执行人",
            "source": "昆明市中级人民法院",
            "listed_on": str(date(YEAR, 1, 5)),
        },
    )
    assert added.status_code == 302
    session.expire_all()
    listed = session.get(Enterprise, enterprise.id)
    assert (listed.blacklisted, listed.blacklist_source, listed.blacklisted_on) == (
        True,
        "昆明市中级人民法院",
        date(YEAR, 1, 5),
    )
    removed = client.post(
        f"/admin/enterprises/{enterprise.id}/blacklist/removal",
        data={"reason": "已履行判决", "source": ""},
    )
    assert removed.status_code == 302
    session.expire_all()
    assert session.get(Enterprise, enterprise.id).blacklisted is False
    events = session.scalars(sa.select(BlacklistEvent).order_by(BlacklistEvent.id)).all()
    assert [(e.action.value, e.reason) for e in events] == [
        ("added", "失信被执行人"),
        ("removed", "已履行判决"),
    ]
    page = _text(client.get(f"/admin/enterprises/{enterprise.id}"))
    assert "昆明市中级人民法院" in page and "已履行判决" in page


# --------------------------------------------------------------------------- vouchers


def test_revoking_returns_the_balance_flags_recovery_and_happens_once(
    client, session, login_as, programme, issue_voucher, create_provider
):
    voucher = issue_voucher(programme=programme, amount_fen=1_000_000, now=NOW)
    spent = holds.place_hold(session, voucher, "o-1", 200_000, 400_000, "h-1", NOW)
    holds.capture_hold(session, spent, "c-1", NOW, provider_id=create_provider().id)
    open_hold = holds.place_hold(session, voucher, "o-2", 100_000, 200_000, "h-2", NOW)
    login_as(Role.REVIEWER)
    page = _text(client.get(f"/admin/vouchers/{voucher.id}"))
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    form = {"reason": "虚构交易骗取补贴", "idempotency_key": key}
    assert client.post(f"/admin/vouchers/{voucher.id}/revoke", data=form).status_code == 302
    assert (
        client.post(f"/admin/vouchers/{voucher.id}/revoke", data=form).status_code == 302
    )  # replay
    session.expire_all()
    revoked = session.get(Voucher, voucher.id)
    assert revoked.status is VoucherStatus.REVOKED
    assert (revoked.balance_fen, revoked.held_fen, revoked.used_fen, revoked.returned_fen) == (
        0,
        0,
        200_000,
        800_000,
    )
    assert session.get(type(open_hold), open_hold.id).status is HoldStatus.RELEASED
    assert session.scalars(sa.select(RecoveryFlag)).one().amount_fen == 200_000
    other_key = client.post(
        f"/admin/vouchers/{voucher.id}/revoke", data={**form, "idempotency_key": "another"}
    )
    assert other_key.status_code == 409
    assert 'data-testid="recovery"' in _text(client.get(f"/admin/vouchers/{voucher.id}"))


def test_voucher_list_filters(client, login_as, programme, issue_voucher):
    voucher = issue_voucher(programme=programme, now=NOW)
    login_as(Role.AUDITOR)
    assert voucher.serial in _text(client.get("/admin/vouchers?status=active"))
    assert voucher.serial not in _text(client.get("/admin/vouchers?status=revoked"))
    assert voucher.serial in _text(client.get(f"/admin/vouchers?serial={voucher.serial[7:15]}"))
    assert client.get("/admin/vouchers?status=nonsense").status_code == 404


def test_ledger_check_page(client, login_as, programme, issue_voucher, session):
    issue_voucher(programme=programme, now=NOW)
    login_as(Role.AUDITOR)
    page = _text(client.get("/admin/ledger/verify?lang=en"))
    assert re.search(r'data-testid="verdict">All 15 checks passed', page)
    session.execute(
        sa.text(
            "UPDATE ledger_accounts SET balance_fen = balance_fen + 1 WHERE id = (SELECT MIN(id) FROM ledger_accounts)"
        )
    )
    page = _text(client.get("/admin/ledger/verify?lang=en"))
    assert "problem(s) found" in page and "Cached balances" in page


def test_admin_pages_render_in_chinese(
    client, login_as, programme, submit_application, issue_voucher
):
    application = submit_application(programme=programme, now=NOW)
    voucher = issue_voucher(programme=programme, now=NOW)
    login_as(Role.SYSADMIN)
    for path in (
        "/admin/programmes",
        f"/admin/programmes/{programme.id}",
        f"/admin/programmes/{programme.id}/edit",
        "/admin/programmes/new",
        "/admin/budget",
        "/admin/applications?status=all",
        f"/admin/applications/{application.id}",
        "/admin/enterprises?status=all",
        f"/admin/enterprises/{application.enterprise_id}",
        f"/admin/vouchers/{voucher.id}",
        "/admin/ledger/verify",
    ):
        response = client.get(path + ("&" if "?" in path else "?") + "lang=zh")
        assert response.status_code == 200, path
        assert "创新券管理" in _text(response) or "券种" in _text(response), path
