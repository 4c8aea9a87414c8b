"""Administration pages: the review queue, notice, objections, status changes with reasons,
per-programme participation and assessments — and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.enums import Role
from providers import admission, bank_changes, services
from providers.enums import (
    BankChangeStatus,
    ObjectionStatus,
    ParticipationStatus,
    ProviderAction,
    ProviderStatus,
)
from providers.models import Assessment
from vouchers.enums import ProgrammeKind


@pytest.fixture
def today():
    return clock.today()


def _text(response) -> str:
    return response.get_data(as_text=True)


def _in_notice(provider_stages, today):
    provider = provider_stages.submitted()
    admission.pass_to_notice(provider_stages.session, provider, actor_id=None, today=today)
    return provider


@pytest.mark.parametrize("path", ["/admin/providers", "/admin/providers/objections"])
def test_pages_are_for_administrators(client, auth, create_user, path):
    assert client.get(path).status_code == 302
    auth.login(create_user(Role.PROVIDER))
    assert client.get(path).status_code == 403
    auth.logout()
    for role in (Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN):
        auth.login(create_user(role))
        assert client.get(path).status_code == 200
        auth.logout()


def test_review_queue_to_admission(client, auth, session, reviewer, provider_stages, today):
    provider = provider_stages.submitted()
    auth.login(reviewer)
    queue = _text(client.get("/admin/providers"))
    assert provider.name in queue
    detail = _text(client.get(f"/admin/providers/{provider.id}"))
    assert "192312" in detail or "CMA" in detail

    response = client.post(f"/admin/providers/{provider.id}/pass-to-notice")
    assert response.status_code == 302
    session.expire_all()
    assert provider.status is ProviderStatus.IN_NOTICE
    assert provider.notice_starts_on == today

    # Admission waits for the end of the notice …
    client.post(f"/admin/providers/{provider.id}/admit")
    session.expire_all()
    assert provider.status is ProviderStatus.IN_NOTICE
    # … which we move into the past.
    provider.notice_starts_on = today - timedelta(days=10)
    provider.notice_ends_on = today - timedelta(days=1)
    session.flush()
    client.post(f"/admin/providers/{provider.id}/admit")
    session.expire_all()
    assert provider.status is ProviderStatus.ADMITTED
    assert [h.actor_id for h in provider.history][-1] == reviewer.id


def test_rejection_needs_a_reason(client, auth, session, reviewer, provider_stages):
    provider = provider_stages.submitted()
    auth.login(reviewer)
    response = client.post(
        f"/admin/providers/{provider.id}/reject", data={"reason": ""}, follow_redirects=True
    )
    assert "请填写理由" in _text(response)
    session.expire_all()
    assert provider.status is ProviderStatus.PENDING
    client.post(f"/admin/providers/{provider.id}/reject", data={"reason": "执照模糊，请重新上传。"})
    session.expire_all()
    assert provider.status is ProviderStatus.REJECTED
    assert provider.status_reason == "执照模糊，请重新上传。"


@pytest.mark.parametrize("role", [Role.FINANCE, Role.AUDITOR])
def test_finance_and_auditors_cannot_decide(
    client, auth, session, create_user, provider_stages, role
):
    provider = provider_stages.submitted()
    auth.login(create_user(role))
    assert client.get(f"/admin/providers/{provider.id}").status_code == 200
    assert client.post(f"/admin/providers/{provider.id}/pass-to-notice").status_code == 403
    assert (
        client.post(f"/admin/providers/{provider.id}/reject", data={"reason": "x"}).status_code
        == 403
    )
    session.expire_all()
    assert provider.status is ProviderStatus.PENDING


def test_objections_from_the_public_page_to_the_decision(
    client, auth, session, reviewer, provider_stages, today
):
    provider = _in_notice(provider_stages, today)
    notices = _text(client.get("/catalogue/notices"))
    assert provider.name in notices and provider.credit_code in notices
    response = client.post(
        f"/catalogue/notices/{provider.id}/objection",
        data={
            "objector_name": "王先生",
            "objector_contact": "13900000000",
            "grounds": "该机构检测报告存在造假问题，请核查。",
        },
    )
    assert response.status_code == 302
    objection = admission.objections_of(session, provider.id)[0]
    assert objection.status is ObjectionStatus.OPEN

    auth.login(reviewer)
    assert "王先生" in _text(client.get("/admin/providers/objections"))
    client.post(f"/admin/providers/objections/{objection.id}/dismiss", data={"reason": ""})
    session.expire_all()
    assert objection.status is ObjectionStatus.OPEN
    client.post(f"/admin/providers/objections/{objection.id}/uphold", data={"reason": "查证属实。"})
    session.expire_all()
    assert objection.status is ObjectionStatus.UPHELD
    assert provider.status is ProviderStatus.REJECTED
    assert provider.history[-1].action is ProviderAction.UPHOLD_OBJECTION


def test_objection_against_a_provider_not_in_notice_is_refused(client, session, create_provider):
    provider = create_provider()
    response = client.post(
        f"/catalogue/notices/{provider.id}/objection",
        data={
            "objector_name": "王先生",
            "objector_contact": "13900000000",
            "grounds": "无资质开展检测业务。",
        },
    )
    assert response.status_code == 409
    assert "该机构不在公示期内" in _text(response)
    assert admission.objections_of(session, provider.id) == []
    assert client.get(f"/catalogue/notices/{provider.id}/objection").status_code == 404


def test_suspend_reinstate_revoke_with_reasons(client, auth, session, reviewer, provider_stages):
    provider = provider_stages.admitted()
    auth.login(reviewer)
    client.post(f"/admin/providers/{provider.id}/suspend", data={"reason": ""})
    session.expire_all()
    assert provider.status is ProviderStatus.ADMITTED
    client.post(f"/admin/providers/{provider.id}/suspend", data={"reason": "投诉待查。"})
    session.expire_all()
    assert provider.status is ProviderStatus.SUSPENDED
    client.post(f"/admin/providers/{provider.id}/reinstate", data={"reason": "查无实据。"})
    session.expire_all()
    assert provider.status is ProviderStatus.ADMITTED
    client.post(f"/admin/providers/{provider.id}/revoke", data={"reason": "伪造资质。"})
    session.expire_all()
    assert provider.status is ProviderStatus.REVOKED
    assert [h.reason for h in provider.history[-3:]] == ["投诉待查。", "查无实据。", "伪造资质。"]


def test_participation_decided_per_programme(
    client, auth, session, reviewer, provider_stages, create_programme
):
    year = provider_stages.default_programme().year
    innovation = provider_stages.default_programme()
    service = create_programme(kind=ProgrammeKind.SERVICE, year=year)
    provider = provider_stages.admitted(programmes=[innovation, service])
    auth.login(reviewer)
    client.post(
        f"/admin/providers/{provider.id}/programmes/{service.id}",
        data={"status": "withdrawn", "reason": "年度考核不合格。"},
    )
    session.expire_all()
    standing = {p.programme_id: p.status for p in provider.participations}
    assert standing == {
        innovation.id: ParticipationStatus.ADMITTED,
        service.id: ParticipationStatus.WITHDRAWN,
    }


def test_assessments_update_the_credit_score(client, auth, session, reviewer, create_provider):
    provider = create_provider()
    auth.login(reviewer)
    response = client.post(
        f"/admin/providers/{provider.id}/assessments",
        data={
            "assessor_kind": "third_party",
            "evaluator_name": "云南省科技评估中心",
            "score": "95",
            "period": "2026",
            "comment": "服务质量优秀。",
            "report_ref": "YNKP-2026-001",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 1
    assert provider.credit_score == 82  # (50*75 + 25*95) / 75 = 81.67 → 82
    assert 'data-testid="credit-score">82<' in _text(client.get(f"/admin/providers/{provider.id}"))


def _request_new_account(session, provider, user):
    services.update_profile(
        session,
        provider,
        {"bank_account_number": "6222021100001234567"},
        actor_id=user.id,
    )
    return bank_changes.pending_change(session, provider.id)


def test_finance_approves_a_bank_account_change_on_the_provider_page(
    client, auth, session, provider_stages, create_user
):
    provider = provider_stages.admitted()
    change = _request_new_account(session, provider, create_user(Role.PROVIDER, provider=provider))
    live = provider.bank_account_number
    finance = create_user(Role.FINANCE)
    auth.login(finance)
    queue = _text(client.get("/admin/providers?queue=bank_changes"))
    assert provider.name in queue
    page = _text(client.get(f"/admin/providers/{provider.id}"))
    approve = f"/admin/providers/{provider.id}/bank-changes/{change.id}/approve"
    reject = f"/admin/providers/{provider.id}/bank-changes/{change.id}/reject"
    # masked even to finance here (whole on the payout screens only, or revealed with a reason)
    assert approve in page and reject in page and "6222 **** **** 4567" in page
    assert "6222021100001234567" not in page
    assert "/admit" not in page and "/suspend" not in page  # finance does not decide admission

    no_reason = client.post(reject, data={"reason": ""})
    assert no_reason.status_code == 302
    session.expire_all()
    assert change.status is BankChangeStatus.PENDING and provider.bank_account_number == live

    assert client.post(approve, data={"reason": ""}).status_code == 302  # refused: say how
    session.expire_all()
    assert change.status is BankChangeStatus.PENDING
    assert client.post(approve, data={"reason": "已核对开户许可证"}).status_code == 302
    session.expire_all()
    assert change.status is BankChangeStatus.APPROVED and change.decided_by_id == finance.id
    assert change.decision_reason == "已核对开户许可证"
    assert provider.bank_account_number == "6222021100001234567"
    assert provider.name not in _text(client.get("/admin/providers?queue=bank_changes"))


def test_finance_rejects_with_a_reason(client, auth, session, provider_stages, create_user):
    provider = provider_stages.admitted()
    change = _request_new_account(session, provider, create_user(Role.PROVIDER, provider=provider))
    live = provider.bank_account_number
    auth.login(create_user(Role.FINANCE))
    url = f"/admin/providers/{provider.id}/bank-changes/{change.id}/reject"
    assert client.post(url, data={"reason": "开户证明与户名不符"}).status_code == 302
    session.expire_all()
    assert change.status is BankChangeStatus.REJECTED
    assert change.decision_reason == "开户证明与户名不符"
    assert provider.bank_account_number == live
    assert "开户证明与户名不符" in _text(client.get(f"/admin/providers/{provider.id}"))


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.SYSADMIN, Role.AUDITOR])
def test_only_finance_decides_bank_account_changes(
    client, auth, session, provider_stages, create_user, role
):
    provider = provider_stages.admitted()
    change = _request_new_account(session, provider, create_user(Role.PROVIDER, provider=provider))
    auth.login(create_user(role))
    page = _text(client.get(f"/admin/providers/{provider.id}"))
    assert "6222 **** **** 4567" in page and "/bank-changes/" not in page
    url = f"/admin/providers/{provider.id}/bank-changes/{change.id}/approve"
    assert client.post(url, data={"reason": "已核对"}).status_code == 403
    session.expire_all()
    assert change.status is BankChangeStatus.PENDING


def test_sysadmins_read_the_provider_queues_but_do_not_decide(
    client, auth, session, provider_stages, create_user, today
):
    submitted = provider_stages.submitted()
    admitted = provider_stages.admitted()
    auth.login(create_user(Role.SYSADMIN))
    assert submitted.name in _text(client.get("/admin/providers"))
    page = _text(client.get(f"/admin/providers/{submitted.id}"))
    assert "/pass-to-notice" not in page and "/reject" not in page
    for provider, action in (
        (submitted, "pass-to-notice"),
        (submitted, "reject"),
        (admitted, "suspend"),
        (admitted, "revoke"),
    ):
        response = client.post(
            f"/admin/providers/{provider.id}/{action}", data={"reason": "自行决定"}
        )
        assert response.status_code == 403, action
    session.expire_all()
    assert submitted.status is ProviderStatus.PENDING
    assert admitted.status is ProviderStatus.ADMITTED


def test_objections_of_an_earlier_notice_round_are_marked(
    client, auth, session, reviewer, provider_stages, today
):
    provider = _in_notice(provider_stages, today)
    old = admission.file_objection(
        session,
        provider.id,
        objector_name="王先生",
        objector_contact="13900000000",
        grounds="该机构检测报告存在造假问题，请核查。",
        today=today,
    )
    admission.decide_objection(session, old.id, uphold=True, reason="属实", actor_id=reviewer.id)
    services.submit_application(session, provider, actor_id=None, today=today)
    admission.pass_to_notice(session, provider, actor_id=reviewer.id, today=today)
    auth.login(reviewer)
    page = _text(client.get(f"/admin/providers/{provider.id}?lang=en"))
    assert 'data-testid="earlier-round"' in page and "earlier notice round" in page
