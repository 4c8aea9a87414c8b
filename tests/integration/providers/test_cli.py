"""``flask providers admit-due`` and ``flask providers suspend-lapsed``: idempotent, dated."""

from __future__ import annotations

from datetime import timedelta

from providers import admission
from providers.enums import ProviderAction, ProviderStatus
from tests.support.provider_fixtures import TODAY


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=["providers", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_admit_due_admits_only_providers_whose_notice_ended_cleanly(app, session, provider_stages):
    clean = provider_stages.in_notice()
    objected = provider_stages.in_notice()
    admission.file_objection(
        session,
        objected.id,
        objector_name="李女士",
        objector_contact="li@example.cn",
        grounds="该机构无相应检测能力，申请材料不实。",
        today=TODAY,
    )
    late = provider_stages.in_notice(today=TODAY + timedelta(days=5))
    day = clean.notice_ends_on + timedelta(days=1)

    output = _run(app, "admit-due", "--today", day.isoformat())
    assert "admitted 1 provider(s)" in output
    assert f"waiting #{objected.id} {objected.name}: objections_pending" in output
    session.expire_all()
    assert clean.status is ProviderStatus.ADMITTED
    assert objected.status is ProviderStatus.IN_NOTICE
    assert late.status is ProviderStatus.IN_NOTICE
    assert clean.history[-1].action is ProviderAction.ADMIT and clean.history[-1].actor_id is None

    again = _run(app, "admit-due", "--today", day.isoformat())
    assert "admitted 0 provider(s)" in again
    session.expire_all()
    assert sum(1 for h in clean.history if h.action is ProviderAction.ADMIT) == 1


def test_suspend_lapsed_suspends_once_with_the_reason(app, session, provider_stages):
    expiry = TODAY + timedelta(days=40)
    lapsing = provider_stages.admitted(expires_on=expiry)
    valid = provider_stages.admitted(expires_on=expiry + timedelta(days=365))
    day = expiry + timedelta(days=1)

    assert "suspended 0 provider(s)" in _run(app, "suspend-lapsed", "--today", expiry.isoformat())
    output = _run(app, "suspend-lapsed", "--today", day.isoformat())
    assert "suspended 1 provider(s)" in output and f"#{lapsing.id}" in output
    session.expire_all()
    assert lapsing.status is ProviderStatus.SUSPENDED
    assert "过期" in (lapsing.status_reason or "")
    assert valid.status is ProviderStatus.ADMITTED

    assert "suspended 0 provider(s)" in _run(app, "suspend-lapsed", "--today", day.isoformat())
    session.expire_all()
    assert sum(1 for h in lapsing.history if h.action is ProviderAction.SUSPEND) == 1
