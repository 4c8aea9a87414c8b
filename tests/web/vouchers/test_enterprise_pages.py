"""The SME portal: wallet, programmes, apply, applications, clarification, voucher, profile."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.db import utcnow
from marketplace.enums import Role
from tests.unit.test_parties_rules import id_number
from vouchers import applications, holds, rules, tokens
from vouchers.enums import ApplicationStatus, ProgrammeKind
from vouchers.models import Application, ApplicationEvent, Enterprise, Voucher

NOW = utcnow()
YEAR = clock.local_date(NOW).year


@pytest.fixture
def sme(create_user, auth):
    user = create_user(Role.ENTERPRISE)
    auth.login(user)
    return user


@pytest.fixture
def programme(funded_programme):
    return funded_programme(year=YEAR)


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_pages_need_an_enterprise_user(client, create_user, auth):
    assert client.get("/enterprise/").status_code == 302  # to the login page
    auth.login(create_user(Role.PROVIDER))
    assert client.get("/enterprise/").status_code == 403
    assert client.get("/enterprise/programmes").status_code == 403


def test_wallet_shows_cap_used_held_remaining_and_each_voucher(
    client, session, sme, programme, issue_voucher, create_provider
):
    voucher = issue_voucher(sme.enterprise, programme, amount_fen=1_000_000, now=NOW)
    held = holds.place_hold(session, voucher, "order-1", 200_000, 400_000, "k1", NOW)
    captured = holds.place_hold(session, voucher, "order-2", 100_000, 200_000, "k2", NOW)
    holds.capture_hold(session, captured, "c2", NOW, provider_id=create_provider().id)
    page = _text(client.get("/enterprise/?lang=en"))
    assert re.search(r'data-testid="cap">¥30,000.00<', page)
    assert re.search(r'data-testid="used">¥1,000.00<', page)
    assert re.search(rf'data-testid="held">¥{held.amount_fen // 100:,}.00<', page)
    assert re.search(r'data-testid="remaining">¥27,000.00<', page)
    assert voucher.serial in page
    assert str(voucher.use_by) in page and str(voucher.claim_deadline) in page
    assert "¥7,000.00" in page  # balance: 10,000 − 2,000 held − 1,000 used


def test_open_programmes_and_apply(client, session, sme, programme):
    page = _text(client.get("/enterprise/programmes"))
    assert programme.name in page
    response = client.post(
        f"/enterprise/programmes/{programme.id}/apply",
        data={
            "requested": "12,345.67",
            "planned_categories": ["testing", "ip"],
            "plan": "检测新产品并申请专利，预计三个月完成。",
        },
    )
    assert response.status_code == 302
    application = session.scalars(
        sa.select(Application).where(Application.enterprise_id == sme.enterprise_id)
    ).one()
    assert application.requested_fen == 1_234_567
    assert application.status is ApplicationStatus.SUBMITTED
    assert response.headers["Location"].endswith(f"/enterprise/applications/{application.id}")
    detail = _text(client.get(f"/enterprise/applications/{application.id}"))
    assert "¥12,345.67" in detail
    assert programme.name in _text(client.get("/enterprise/applications"))


@pytest.mark.parametrize("amount", ["12.345", "abc", "-5"])
def test_apply_with_a_bad_amount_changes_nothing(client, session, sme, programme, amount):
    response = client.post(
        f"/enterprise/programmes/{programme.id}/apply",
        data={"requested": amount, "planned_categories": ["testing"], "plan": "x" * 20},
    )
    assert response.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_apply_zero_is_refused_by_the_rules(client, session, sme, programme):
    response = client.post(
        f"/enterprise/programmes/{programme.id}/apply",
        data={"requested": "0", "planned_categories": ["testing"], "plan": "x" * 20},
    )
    assert response.status_code == 422  # the form reads it; the money rule refuses it
    assert "金额必须大于零" in _text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_blacklisted_enterprise_cannot_apply(client, session, sme, programme):
    enterprise = session.get(Enterprise, sme.enterprise_id)
    enterprise.blacklisted = True
    enterprise.blacklist_reason = "失信被执行人"
    session.flush()
    response = client.post(
        f"/enterprise/programmes/{programme.id}/apply",
        data={"requested": "1000", "planned_categories": ["testing"], "plan": "x" * 20},
    )
    assert response.status_code == 409
    assert "失信" in _text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_closed_programme_redirects_back(client, sme, funded_programme):
    closed = funded_programme(year=YEAR - 1, kind=ProgrammeKind.SERVICE)
    response = client.get(f"/enterprise/programmes/{closed.id}/apply")
    assert response.status_code == 302
    assert closed.name not in _text(client.get("/enterprise/programmes"))


def test_respond_to_a_clarification_request(client, session, sme, programme, submit_application):
    application = submit_application(sme.enterprise, programme, now=NOW)
    applications.request_clarification(
        session, application.id, question="请说明检测项目的具体内容。", actor_id=None, now=NOW
    )
    page = _text(client.get(f"/enterprise/applications/{application.id}"))
    assert "请说明检测项目的具体内容。" in page
    response = client.post(
        f"/enterprise/applications/{application.id}/respond",
        data={"response": "检测项目为电磁兼容与安全性能。"},
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Application, application.id).status is ApplicationStatus.SUBMITTED
    events = session.scalars(
        sa.select(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
    ).all()
    assert [e.action.value for e in events] == ["submit", "request_clarification", "clarify"]
    assert events[-1].note == "检测项目为电磁兼容与安全性能。"


def test_empty_answer_is_refused(client, session, sme, programme, submit_application):
    application = submit_application(sme.enterprise, programme, now=NOW)
    applications.request_clarification(
        session, application.id, question="请补充。", actor_id=None, now=NOW
    )
    response = client.post(f"/enterprise/applications/{application.id}/respond", data={})
    assert response.status_code == 400
    session.expire_all()
    assert (
        session.get(Application, application.id).status is ApplicationStatus.CLARIFICATION_REQUESTED
    )


def test_another_enterprises_records_are_not_found(
    client, sme, programme, create_enterprise, submit_application, issue_voucher
):
    application = submit_application(create_enterprise(), programme, now=NOW)
    voucher = issue_voucher(create_enterprise(), programme, now=NOW)
    assert client.get(f"/enterprise/applications/{application.id}").status_code == 404
    assert (
        client.post(
            f"/enterprise/applications/{application.id}/respond", data={"response": "x"}
        ).status_code
        == 404
    )
    assert client.get(f"/enterprise/vouchers/{voucher.id}").status_code == 404
    assert client.get("/enterprise/vouchers/999999999").status_code == 404


def test_voucher_page_shows_a_token_that_verifies(
    app, client, session, sme, programme, issue_voucher
):
    voucher = issue_voucher(sme.enterprise, programme, amount_fen=500_000, now=NOW)
    page = _text(client.get(f"/enterprise/vouchers/{voucher.id}"))
    token = re.search(r'data-testid="token">([^<]+)<', page).group(1)
    checked = tokens.verify(session, app.config["SECRET_KEY"], token, NOW)
    assert checked.voucher.id == voucher.id
    assert checked.can_cover_fen == 500_000


def test_profile_edit_and_stale_version(client, session, sme):
    enterprise = session.get(Enterprise, sme.enterprise_id)
    form = {
        "contact_name": "新联系人",
        "contact_phone": "0871-12345678",
        "contact_email": "New@Example.cn",
        "industry": "新材料",
        "version": str(enterprise.version),
    }
    assert client.post("/enterprise/profile", data=form).status_code == 302
    session.expire_all()
    enterprise = session.get(Enterprise, sme.enterprise_id)
    assert (enterprise.contact_name, enterprise.contact_email, enterprise.version) == (
        "新联系人",
        "new@example.cn",
        2,
    )
    stale = client.post("/enterprise/profile", data={**form, "contact_name": "另一个人"})
    assert stale.status_code == 412
    session.expire_all()
    assert session.get(Enterprise, sme.enterprise_id).contact_name == "新联系人"


def test_pages_render_in_both_languages(client, sme, programme, issue_voucher):
    voucher = issue_voucher(sme.enterprise, programme, now=NOW)
    for path in (
        "/enterprise/",
        "/enterprise/programmes",
        "/enterprise/applications",
        f"/enterprise/vouchers/{voucher.id}",
        "/enterprise/profile",
    ):
        assert "我的电子券" in _text(client.get(path + "?lang=zh"))
        assert "My vouchers" in _text(client.get(path + "?lang=en"))


def test_serials_on_the_wallet_are_valid(client, session, sme, programme, issue_voucher):
    issue_voucher(sme.enterprise, programme, now=NOW)
    voucher = session.scalars(sa.select(Voucher)).one()
    assert rules.serial_is_valid(voucher.serial)


def test_a_nul_character_in_a_form_is_a_field_error_not_a_crash(client, session, sme, programme):
    response = client.post(
        f"/enterprise/programmes/{programme.id}/apply",
        data={"requested": "1000", "planned_categories": ["testing"], "plan": "计划\x00" * 10},
    )
    assert response.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_programmes_outside_the_enterprises_region_say_why_instead_of_offering_apply(
    client, sme, funded_programme
):
    elsewhere = funded_programme(year=YEAR, region_prefix="5329")  # Dali; the SME is elsewhere
    assert not sme.enterprise.region_code.startswith("5329")
    page = _text(client.get("/enterprise/programmes?lang=en"))
    assert elsewhere.name in page
    assert f"/enterprise/programmes/{elsewhere.id}/apply" not in page
    assert (
        'data-testid="not-eligible"' in page
        and "outside the programme&#39;s region 云南省大理白族自治州 (5329)" in page
    )


def test_profile_records_the_legal_representative_masked(client, session, sme):
    enterprise = session.get(Enterprise, sme.enterprise_id)
    form = {
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "contact_email": enterprise.contact_email,
        "industry": "",
        "registered_address": "云南省昆明市五华区学府路1号",
        "legal_rep_name": "张伟",
        "legal_rep_id_number": "530102198001010010",  # wrong check character
        "bank_account_number": "6228 4800 1234 5670 001",
        "version": str(enterprise.version),
    }
    refused = client.post("/enterprise/profile", data=form)
    assert refused.status_code == 422
    assert "校验位不符" in refused.get_data(as_text=True)  # the message in the page's language
    session.expire_all()
    assert session.get(Enterprise, sme.enterprise_id).legal_rep_name is None
    good = id_number("53010219800101001")
    assert (
        client.post("/enterprise/profile", data={**form, "legal_rep_id_number": good}).status_code
        == 302
    )
    session.expire_all()
    enterprise = session.get(Enterprise, sme.enterprise_id)
    assert enterprise.legal_rep_id_masked == good[:4] + "*" * 10 + good[-4:]
    assert enterprise.bank_account_number == "6228480012345670001"
    page = client.get("/enterprise/profile").get_data(as_text=True)
    assert enterprise.legal_rep_id_masked in page and good not in page
