"""Account services. They take a session, flush, and never commit."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session, joinedload

from marketplace.audit.services import record
from marketplace.auth import scopes as token_scopes
from marketplace.auth.models import ApiToken, User
from marketplace.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from marketplace.config import current_settings
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.db import utcnow
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import (
    DuplicateRegistration,
    InvalidCredentials,
    InvalidResetLink,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from marketplace.notifications import notify

TOKEN_PREFIX = "vm_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: A password-reset link works once, for at most this long.
RESET_LINK_LIFETIME = timedelta(hours=1)
_RESET_SALT = "password-reset"


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown e-mails, so they cost as much as a wrong password."""
    return hash_password("timing-equaliser-not-a-password")


@dataclass(frozen=True, slots=True)
class OrganisationInput:
    name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    email: str
    password: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_account_input(session: Session, data: OrganisationInput) -> tuple[str, str]:
    """Validate what every registration shares; return (email, normalised credit code).

    Raises ValidationFailed, DuplicateRegistration (the e-mail has an account).
    """
    errors: dict[str, list[str]] = {}
    email = normalise_email(data.email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors["email"] = ["not a valid e-mail address / 邮箱地址无效"]
    problems = password_problems(data.password, email=email, names=(data.contact_name, data.name))
    if problems:
        errors["password"] = problems
    if not data.name.strip():
        errors["name"] = ["required / 必填"]
    code = data.credit_code.strip().upper()
    try:
        parse_credit_code(code)
    except CreditCodeError as exc:
        errors["credit_code"] = [exc.message]
    if errors:
        raise ValidationFailed("registration is not valid / 注册信息有误", errors)
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DuplicateRegistration(
            "an account with this e-mail already exists / 该邮箱已注册", field="email"
        )
    return email, code


#: What happens next, told in the registration e-mail (Chinese, English).
ENTERPRISE_PENDING = (
    "待审核员核验企业信息后即可申请电子券。",
    "a reviewer verifies it before it can apply.",
)
PROVIDER_PENDING = ("入驻申请待审核。", "its admission is reviewed next.")


def register_without_disclosure(
    session: Session,
    data: OrganisationInput,
    create: Callable[[], User],
    *,
    pending: tuple[str, str],
) -> User | None:
    """Register an organisation and its first user so that the answer cannot tell whether the
    address already had an account (no enumeration): a taken address makes no account, costs
    the same password hashing, and its owner is told by e-mail instead of the caller; a new
    registrant gets the confirmation e-mail. Pages and the API give both the one same answer.

    Returns the new user, or None when the address was taken. Any other refusal (a duplicate
    credit code — public registry data — or invalid input) is raised as usual.
    """
    try:
        user = create()
    except DuplicateRegistration as exc:
        if exc.field != "email":
            raise
        exc.recovered()  # answered as a success, on purpose
        hash_password(data.password)  # as slow as a real registration: timing tells nothing
        owner = find_user(session, data.email)
        notify(session, owner, "account_exists", name=owner.display_name)
        return None
    notify(
        session,
        user,
        "registration_received",
        name=user.display_name,
        organisation=data.name,
        pending_zh=pending[0],
        pending_en=pending[1],
    )
    return user


def add_organisation_user(
    session: Session,
    data: OrganisationInput,
    email: str,
    *,
    enterprise_id: int | None = None,
    provider_id: int | None = None,
) -> User:
    """The first user of a newly registered enterprise or provider (the domain that owns the
    organisation creates it, then calls this with its id)."""
    role = Role.ENTERPRISE if enterprise_id is not None else Role.PROVIDER
    user = User(
        email=email,
        password_hash=hash_password(data.password),
        display_name=data.contact_name.strip() or data.name.strip(),
        role=role,
        enterprise_id=enterprise_id,
        provider_id=provider_id,
    )
    session.add(user)
    session.flush()
    return user


def create_admin(
    session: Session, *, email: str, password: str, role: Role, display_name: str
) -> User:
    """Create an administrator (reviewer, finance, auditor or sysadmin).

    Raises ValidationFailed, DuplicateRegistration.
    """
    if role not in ADMIN_ROLES:
        raise ValidationFailed(
            "not an administrator role", {"role": [f"{role} is not an admin role"]}
        )
    email = normalise_email(email)
    problems = password_problems(password, email=email, names=(display_name,))
    if problems:
        raise ValidationFailed("password is too weak", {"password": problems})
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DuplicateRegistration("an account with this e-mail already exists", field="email")
    user = User(
        email=email, password_hash=hash_password(password), display_name=display_name, role=role
    )
    session.add(user)
    session.flush()
    record(
        session,
        "admin.created",
        actor_id=None,
        subject_type="user",
        subject_id=user.id,
        role=role.value,
    )
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """Return the user for these credentials or raise InvalidCredentials (same message for an
    unknown e-mail, a wrong password and a disabled account)."""
    user = session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        verify_password(_dummy_hash(), password)
        raise InvalidCredentials("wrong e-mail or password / 邮箱或密码错误")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise InvalidCredentials("wrong e-mail or password / 邮箱或密码错误")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


# --------------------------------------------------------------------------- API tokens


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    session: Session,
    user: User,
    *,
    name: str,
    days: int = DEFAULT_TOKEN_DAYS,
    scopes: Iterable[str] | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` with ``scopes`` (None: every scope; see
    ``marketplace.auth.scopes``); return the row and the plain token (shown once only)."""
    chosen = token_scopes.normalise(scopes)
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["required / 必填"]
    if not 1 <= days <= MAX_TOKEN_DAYS:
        errors["days"] = [f"between 1 and {MAX_TOKEN_DAYS} / 有效期须在1至{MAX_TOKEN_DAYS}天之间"]
    if errors:
        raise ValidationFailed("token request is not valid", errors)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=_hash_token(plain),
        prefix=plain[:10],
        expires_at=utcnow() + timedelta(days=days),
        scopes=chosen,
    )
    session.add(token)
    session.flush()
    record(
        session,
        "api_token.created",
        actor_id=user.id,
        subject_type="api_token",
        subject_id=token.id,
    )
    return token, plain


def token_for_plain(
    session: Session, plain: str, *, now: datetime | None = None
) -> ApiToken | None:
    """The usable token ``plain`` of an active user, or None."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(
        sa.select(ApiToken)
        .where(ApiToken.token_hash == _hash_token(plain))
        .options(joinedload(ApiToken.user).lazyload("*"))
    )
    now = now or utcnow()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    # Refresh the "last used" stamp at most once a minute: a write per API call would turn every
    # read into a write transaction.
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token


def user_for_token(session: Session, plain: str, *, now: datetime | None = None) -> User | None:
    """The active user owning a usable token, or None."""
    token = token_for_plain(session, plain, now=now)
    return token.user if token is not None else None


def revoke_api_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens. Raises NotFound (also for other users' tokens)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("no such token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(
            session,
            "api_token.revoked",
            actor_id=user.id,
            subject_type="api_token",
            subject_id=token.id,
        )
    session.flush()
    return token


def ensure_role(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise PermissionDenied("your role may not do this / 您的角色无权执行此操作")


# --------------------------------------------------------------------------- sessions


def end_sessions(session: Session, user: User, *, actor_id: int | None, reason: str) -> None:
    """End every browser session of ``user`` (the generation they carry no longer matches)."""
    user.session_generation += 1
    session.flush()
    record(
        session,
        "user.sessions_ended",
        actor_id=actor_id,
        subject_type="user",
        subject_id=user.id,
        reason=reason,
    )


def change_role(session: Session, user: User, role: Role, *, actor_id: int | None) -> User:
    """Move an administrator to another administrative role; their sessions end, so the new
    role's gates (and its second-factor duty) apply from the next sign-in.

    Raises ValidationFailed (organisation accounts keep their role: it is tied to the
    organisation).
    """
    if user.role not in ADMIN_ROLES or role not in ADMIN_ROLES:
        raise ValidationFailed(
            "only administrators change role / 仅管理员账号可变更角色",
            {"role": ["enterprise and provider accounts keep their role"]},
        )
    if user.role is role:
        return user
    previous = user.role
    user.role = role
    record(
        session,
        "user.role_changed",
        actor_id=actor_id,
        subject_type="user",
        subject_id=user.id,
        previous=previous.value,
        role=role.value,
    )
    end_sessions(session, user, actor_id=actor_id, reason="role_changed")
    return user


def set_active(session: Session, user: User, active: bool, *, actor_id: int | None) -> User:
    """Suspend (``active=False``) or reinstate an account. Suspension ends its sessions at once
    and its API tokens stop working (they check ``is_active``)."""
    if user.is_active is active:
        return user
    user.is_active = active
    record(
        session,
        "user.reinstated" if active else "user.suspended",
        actor_id=actor_id,
        subject_type="user",
        subject_id=user.id,
    )
    end_sessions(session, user, actor_id=actor_id, reason="reinstated" if active else "suspended")
    return user


def close_account(session: Session, user: User, *, actor_id: int | None) -> User:
    """Close an account for good: it cannot sign in, its sessions and tokens end, and its
    personal data is anonymised once the retention period has passed (``accounts retention``).
    Raises ValidationFailed when it is already closed."""
    if user.closed_at is not None:
        raise ValidationFailed("already closed / 账号已注销", {"email": ["already closed"]})
    user.closed_at = utcnow()
    set_active(session, user, False, actor_id=actor_id)
    record(session, "user.closed", actor_id=actor_id, subject_type="user", subject_id=user.id)
    return user


def find_user(session: Session, email: str) -> User:
    """The account with this e-mail. Raises NotFound."""
    user = session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound("no account with this e-mail / 无此账号")
    return user


# --------------------------------------------------------------------------- passwords


def _set_password(session: Session, user: User, password: str, *, actor_id: int | None) -> None:
    problems = password_problems(password, email=user.email, names=(user.display_name,))
    if problems:
        raise ValidationFailed(
            "the new password is not acceptable / 新密码不符合要求", {"password": problems}
        )
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_sessions(session, user, actor_id=actor_id, reason="password_changed")
    record(
        session, "user.password_changed", actor_id=actor_id, subject_type="user", subject_id=user.id
    )
    # The owner hears of every change, so a change they did not make does not go unnoticed.
    notify(session, user, "password_changed", name=user.display_name)


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change ``user``'s password; every session of the account ends (the caller keeps its own
    by following the new generation).

    Raises InvalidCredentials (wrong current password), ValidationFailed (policy).
    """
    if not verify_password(user.password_hash, current):
        raise InvalidCredentials(
            "the current password is wrong / 当前密码错误", field="current_password"
        )
    _set_password(session, user, new, actor_id=user.id)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_settings().secret_key, salt=_RESET_SALT)


def _password_fingerprint(user: User) -> str:
    # Part of the signed link: once the password changes (by this link or otherwise) every
    # earlier link stops matching, which makes each link single-use without storing it.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def request_password_reset(session: Session, email: str) -> None:
    """E-mail a reset link to the account with this address, if there is an active one.

    Answers the same way for unknown addresses (no account enumeration): the caller shows
    one message whatever happened.
    """
    user = session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        return
    token = _reset_serializer().dumps({"u": user.id, "p": _password_fingerprint(user)})
    notify(
        session,
        user,
        "password_reset",
        name=user.display_name,
        link=f"{current_settings().base_url}/password/reset/{token}",
        minutes=int(RESET_LINK_LIFETIME.total_seconds() // 60),
    )
    record(
        session,
        "user.password_reset_requested",
        actor_id=None,
        subject_type="user",
        subject_id=user.id,
    )


def user_for_reset_link(session: Session, token: str) -> User:
    """The account a reset link was made for. Raises InvalidResetLink when the link is
    forged, older than an hour, already used, or its account is gone or suspended."""
    try:
        data = _reset_serializer().loads(token, max_age=int(RESET_LINK_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise InvalidResetLink(
            "this link has expired; ask for a new one / 链接已过期，请重新申请"
        ) from None
    except BadSignature:
        raise InvalidResetLink("this link is not valid / 链接无效") from None
    user_id = data.get("u") if isinstance(data, dict) else None
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or data.get("p") != _password_fingerprint(user):
        raise InvalidResetLink(
            "this link has already been used or is no longer valid / 链接已使用或已失效"
        )
    return user


def reset_password(session: Session, token: str, new: str) -> User:
    """Set a new password through a reset link; the link then stops working and every session
    of the account ends. Raises InvalidResetLink, ValidationFailed."""
    user = user_for_reset_link(session, token)
    _set_password(session, user, new, actor_id=user.id)
    return user
