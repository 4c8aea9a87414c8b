"""The settlement bank account: edited directly before admission, changed only through a
finance officer's approval afterwards (maker-checker), always held in the registered name —
and payout batches only ever use an approved account. On both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from marketplace import clock
from marketplace.audit.models import AuditEvent
from marketplace.enums import Role
from marketplace.errors import NotFound, PermissionDenied, ReasonRequired, ValidationFailed
from marketplace.notifications.models import OutboundEmail
from providers import admission, bank_changes, services
from providers.enums import BankChangeStatus, ProviderStatus
from providers.errors import (
    BankAccountNameMismatch,
    BankChangeNotPending,
    BankChangeSelfApproval,
)
from providers.models import BankAccountChange
from tests.conftest import rows

NEW_NUMBER = "6222 0211 0000 1234 567"
NEW_DIGITS = "6222021100001234567"


@pytest.fixture
def ctx(app):
    """Decisions e-mail the provider; the outbox reads the app's settings."""
    with app.app_context():
        yield


@pytest.fixture
def admitted(provider_stages, create_user):
    """An admitted provider, its user and a finance officer."""
    provider = provider_stages.admitted()
    return provider, create_user(Role.PROVIDER, provider=provider), create_user(Role.FINANCE)


def _live(provider):
    return (provider.bank_account_name, provider.bank_name, provider.bank_account_number)


def _audit(session, action):
    return rows(session, AuditEvent, AuditEvent.action == action)


def test_before_admission_the_account_changes_at_once(session, provider_stages):
    provider = provider_stages.draft()
    services.update_profile(
        session,
        provider,
        {"bank_name": "中国建设银行昆明分行", "bank_account_number": NEW_NUMBER},
        actor_id=None,
    )
    assert provider.bank_name == "中国建设银行昆明分行"
    assert provider.bank_account_number == NEW_DIGITS
    assert rows(session, BankAccountChange) == []


def test_the_account_must_be_held_in_the_registered_name(session, provider_stages):
    provider = provider_stages.draft()
    with pytest.raises(BankAccountNameMismatch) as caught:
        services.update_profile(
            session, provider, {"bank_account_name": "某某贸易有限公司"}, actor_id=None
        )
    assert caught.value.field == "bank_account_name"
    assert caught.value.extra["registered_name"] == provider.name
    # Width and spacing are forgiven: banks print names either way.
    spaced = " ".join(provider.name)
    services.update_profile(session, provider, {"bank_account_name": spaced}, actor_id=None)
    assert provider.bank_account_name == spaced
    # A file that somehow holds another name cannot be submitted.
    provider.bank_account_name = "某某贸易有限公司"
    session.flush()
    assert "bank_account" in services.missing_for_submission(session, provider, clock.today())


def test_after_admission_a_new_account_is_only_a_request(session, admitted):
    provider, user, _finance = admitted
    before, version = _live(provider), provider.version
    services.update_profile(
        session,
        provider,
        {"bank_account_number": NEW_NUMBER, "description": "更新后的机构简介，提供检测服务。"},
        actor_id=user.id,
        expected_version=version,
    )
    assert _live(provider) == before  # what payouts read is untouched
    assert provider.description == "更新后的机构简介，提供检测服务。"  # other fields change
    assert provider.version == version + 1
    change = bank_changes.pending_change(session, provider.id)
    assert change is not None and change.status is BankChangeStatus.PENDING
    # The request is the live account with the given fields replaced.
    assert (change.bank_account_name, change.bank_name) == before[:2]
    assert change.bank_account_number == NEW_DIGITS
    assert change.requested_by_id == user.id
    (event,) = _audit(session, "provider.bank_change_requested")
    assert event.detail["change_id"] == change.id and event.detail["account"] == "…4567"
    # Sending the same again, or the live account, asks for nothing new.
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=user.id
    )
    services.update_profile(
        session, provider, dict(zip(services.BANK_FIELDS, before, strict=True)), actor_id=user.id
    )
    assert [c.id for c in rows(session, BankAccountChange)] == [change.id]


def test_an_admitted_account_is_refused_with_another_name_or_left_empty(session, admitted):
    provider, user, _finance = admitted
    with pytest.raises(BankAccountNameMismatch):
        services.update_profile(session, provider, {"bank_account_name": "张三"}, actor_id=user.id)
    with pytest.raises(ValidationFailed) as caught:
        services.update_profile(
            session, provider, {"bank_name": "", "address": "曲靖市"}, actor_id=user.id
        )
    assert "bank_name" in caught.value.errors
    assert provider.address != "曲靖市"  # a refused request changes nothing else either
    assert rows(session, BankAccountChange) == []


def test_a_newer_request_supersedes_the_pending_one(session, admitted):
    provider, user, _finance = admitted
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=user.id
    )
    first = bank_changes.pending_change(session, provider.id)
    services.update_profile(
        session, provider, {"bank_account_number": "6222021100009999"}, actor_id=user.id
    )
    second = bank_changes.pending_change(session, provider.id)
    assert second is not None and second.id != first.id
    session.refresh(first)
    assert first.status is BankChangeStatus.SUPERSEDED and first.decided_at is not None
    assert [c.id for c in bank_changes.changes_of(session, provider.id)] == [second.id, first.id]
    # The database keeps it to one pending request per provider.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            BankAccountChange(
                provider_id=provider.id,
                bank_account_name=provider.name,
                bank_name="x",
                bank_account_number="12345678",
            )
        )
        session.flush()


def test_finance_approves_and_the_live_account_changes(session, admitted, ctx):
    provider, user, finance = admitted
    services.update_profile(
        session,
        provider,
        {"bank_name": "中国建设银行昆明分行", "bank_account_number": NEW_NUMBER},
        actor_id=user.id,
    )
    change = bank_changes.pending_change(session, provider.id)
    version = provider.version
    with pytest.raises(ReasonRequired):
        bank_changes.approve(session, change.id, actor_id=finance.id, reason=" ")
    assert change.status is BankChangeStatus.PENDING
    bank_changes.approve(session, change.id, actor_id=finance.id, reason="已核对开户许可证")
    assert _live(provider) == (provider.name, "中国建设银行昆明分行", NEW_DIGITS)
    assert provider.version == version + 1
    assert change.status is BankChangeStatus.APPROVED and change.decided_by_id == finance.id
    assert change.decision_reason == "已核对开户许可证"
    assert bank_changes.pending_change(session, provider.id) is None
    (event,) = _audit(session, "provider.bank_change_approved")
    assert event.actor_id == finance.id and event.detail["account"] == "…4567"
    (mail,) = rows(
        session, OutboundEmail, OutboundEmail.template == "provider_bank_change_decision"
    )
    assert mail.to_address == user.email and "已批准" in mail.subject and "…4567" in mail.body
    with pytest.raises(BankChangeNotPending):
        bank_changes.reject(session, change.id, actor_id=finance.id, reason="重复处理")


def test_rejection_needs_a_reason_and_keeps_the_live_account(session, admitted, ctx):
    provider, user, finance = admitted
    before = _live(provider)
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=user.id
    )
    change = bank_changes.pending_change(session, provider.id)
    with pytest.raises(ReasonRequired):
        bank_changes.reject(session, change.id, actor_id=finance.id, reason="  ")
    bank_changes.reject(session, change.id, actor_id=finance.id, reason="户名与开户证明不符")
    assert _live(provider) == before
    assert change.status is BankChangeStatus.REJECTED
    assert change.decision_reason == "户名与开户证明不符"
    (event,) = _audit(session, "provider.bank_change_rejected")
    assert event.detail["reason"] == "户名与开户证明不符"
    (mail,) = rows(
        session, OutboundEmail, OutboundEmail.template == "provider_bank_change_decision"
    )
    assert "户名与开户证明不符" in mail.body


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.SYSADMIN, Role.AUDITOR, Role.PROVIDER])
def test_only_a_finance_officer_decides(session, admitted, create_user, role):
    provider, user, _finance = admitted
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=user.id
    )
    change = bank_changes.pending_change(session, provider.id)
    other = user if role is Role.PROVIDER else create_user(role)
    with pytest.raises(PermissionDenied):
        bank_changes.approve(session, change.id, actor_id=other.id, reason="已核对")
    with pytest.raises(PermissionDenied):
        bank_changes.reject(session, change.id, actor_id=other.id, reason="不同意")
    assert change.status is BankChangeStatus.PENDING
    with pytest.raises(NotFound):
        bank_changes.approve(session, 10**12, actor_id=other.id, reason="已核对")


def test_the_requester_never_decides_their_own_request(session, admitted):
    provider, _user, finance = admitted
    # A finance officer asking on the institution's behalf still needs a second officer.
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=finance.id
    )
    change = bank_changes.pending_change(session, provider.id)
    with pytest.raises(BankChangeSelfApproval):
        bank_changes.approve(session, change.id, actor_id=finance.id, reason="已核对")
    assert change.status is BankChangeStatus.PENDING
    # The database refuses it too.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            sa.update(BankAccountChange)
            .where(BankAccountChange.id == change.id)
            .values(
                status=BankChangeStatus.APPROVED,
                decided_by_id=finance.id,
                decided_at=sa.func.current_timestamp(),
            )
        )


def test_a_suspended_provider_also_needs_approval(session, admitted):
    provider, user, _finance = admitted
    admission.suspend(session, provider, reason="资质复核", actor_id=None)
    assert provider.status is ProviderStatus.SUSPENDED
    before = _live(provider)
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=user.id
    )
    assert _live(provider) == before
    assert bank_changes.pending_change(session, provider.id) is not None


def test_payout_batches_only_ever_use_an_approved_account(session, settlement_world, create_user):
    w = settlement_world
    first = w.order()
    provider = first.provider
    assert provider.status is ProviderStatus.ADMITTED
    w.approved_claim(first)
    approved_number = provider.bank_account_number
    user = create_user(Role.PROVIDER, provider=provider)
    services.update_profile(
        session, provider, {"bank_account_number": NEW_NUMBER}, actor_id=user.id
    )
    (line,) = w.batch().lines
    assert line.bank_account_number == approved_number  # the request is not paid to
    second = w.order(provider=provider)
    w.approved_claim(second, bank=False)
    change = bank_changes.pending_change(session, provider.id)
    with w.orders.app.app_context():
        bank_changes.approve(session, change.id, actor_id=w.finance.id, reason="已核对")
    (line,) = w.batch().lines
    assert line.bank_account_number == NEW_DIGITS
