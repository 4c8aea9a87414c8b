"""Registration, administrators, sign-in and API tokens (services, both databases)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEvent
from marketplace.auth import services
from marketplace.auth.models import ApiToken, User
from marketplace.db import utcnow
from marketplace.enums import InstitutionType, Role, SizeClass
from marketplace.errors import DuplicateRegistration, InvalidCredentials, NotFound, ValidationFailed
from providers.enums import ProviderStatus
from providers.models import Provider
from providers.services import register_provider
from tests.support.fixtures import unique_credit_code, unique_email
from vouchers.enterprises import register_enterprise
from vouchers.enums import VerificationStatus
from vouchers.models import Enterprise


def _input(**overrides):
    values = {
        "name": "昆明测试科技有限公司",
        "credit_code": unique_credit_code("530102"),
        "contact_name": "李明",
        "contact_phone": "13800000000",
        "email": unique_email("reg"),
        "password": "a-strong-password",
    }
    values.update(overrides)
    return services.OrganisationInput(**values)


def _count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_enterprise_registration_is_pending_with_region_from_the_code(session):
    data = _input(credit_code=unique_credit_code("532901"), email="  Boss@Example.CN ")
    user = register_enterprise(session, data, size_class=SizeClass.MICRO)
    assert user.role is Role.ENTERPRISE
    assert user.email == "boss@example.cn"
    assert user.password_hash.startswith("$argon2id$")
    enterprise = session.get(Enterprise, user.enterprise_id)
    assert enterprise.verification_status is VerificationStatus.PENDING
    assert enterprise.region_code == "532901"
    event = session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "enterprise.registered")
    )
    assert event.subject_id == enterprise.id


def test_provider_registration_is_pending_review(session):
    user = register_provider(session, _input(), institution_type=InstitutionType.KEY_LABORATORY)
    provider = session.get(Provider, user.provider_id)
    assert provider.status is ProviderStatus.PENDING
    assert provider.institution_type is InstitutionType.KEY_LABORATORY


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"credit_code": "91530102MA6K00014B"}, "credit_code", "第18位校验码"),
        ({"credit_code": "915301"}, "credit_code", "18位"),
        ({"email": "not-an-email"}, "email", "e-mail"),
        ({"password": "short"}, "password", "12"),
        ({"password": "123456789012"}, "password", "guess"),
        ({"name": "  "}, "name", "required"),
    ],
)
def test_invalid_registrations_say_which_field_and_write_nothing(
    session, overrides, field, fragment
):
    before = (_count(session, User), _count(session, Enterprise))
    with pytest.raises(ValidationFailed) as info:
        register_enterprise(session, _input(**overrides), size_class=SizeClass.SMALL)
    assert fragment in " ".join(info.value.errors[field])
    assert (_count(session, User), _count(session, Enterprise)) == before


def test_duplicate_email_or_credit_code_is_refused(session):
    first = register_enterprise(session, _input(), size_class=SizeClass.SMALL)
    with pytest.raises(DuplicateRegistration) as info:
        register_enterprise(session, _input(email=first.email), size_class=SizeClass.SMALL)
    assert info.value.field == "email"
    with pytest.raises(DuplicateRegistration) as info:
        register_enterprise(
            session,
            _input(credit_code=session.get(Enterprise, first.enterprise_id).credit_code),
            size_class=SizeClass.SMALL,
        )
    assert info.value.field == "credit_code"
    assert _count(session, Enterprise) == 1


def test_administrators_only_with_admin_roles(session):
    admin = services.create_admin(
        session, email="R@x.cn", password="a-strong-password", role=Role.REVIEWER, display_name="R"
    )
    assert admin.is_admin and admin.enterprise_id is None
    with pytest.raises(ValidationFailed):
        services.create_admin(
            session,
            email="e@x.cn",
            password="a-strong-password",
            role=Role.ENTERPRISE,
            display_name="E",
        )


def test_user_organisation_must_match_role_in_the_database(session, create_enterprise):
    user = User(
        email="mismatch@x.cn",
        password_hash="h",
        display_name="x",
        role=Role.REVIEWER,
        enterprise=create_enterprise(),
    )
    session.add(user)
    with pytest.raises(sa.exc.IntegrityError, match="organisation_matches_role"):
        session.flush()
    session.rollback()


def test_authenticate(session, create_user):
    user = create_user(password="right-password")
    assert services.authenticate(session, user.email.upper(), "right-password").id == user.id
    assert user.last_login_at is not None
    for email, password in [(user.email, "wrong-password"), ("nobody@x.cn", "right-password")]:
        with pytest.raises(InvalidCredentials):
            services.authenticate(session, email, password)
    user.is_active = False
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, user.email, "right-password")


def test_api_tokens_are_hashed_expiring_and_revocable(session, create_user):
    user = create_user()
    token, plain = services.create_api_token(session, user, name="erp", days=30)
    assert plain.startswith("vm_") and plain not in token.token_hash
    assert services.user_for_token(session, plain).id == user.id
    assert services.user_for_token(session, plain + "x") is None
    later = utcnow() + timedelta(days=31)
    assert services.user_for_token(session, plain, now=later) is None
    services.revoke_api_token(session, user, token.id)
    assert services.user_for_token(session, plain) is None


def test_tokens_of_others_cannot_be_revoked(session, create_user):
    owner, other = create_user(), create_user()
    token, _ = services.create_api_token(session, owner, name="mine")
    with pytest.raises(NotFound):
        services.revoke_api_token(session, other, token.id)
    assert session.get(ApiToken, token.id).revoked_at is None


@pytest.mark.parametrize("days", [0, 366])
def test_token_lifetime_is_bounded(session, create_user, days):
    with pytest.raises(ValidationFailed):
        services.create_api_token(session, create_user(), name="x", days=days)
