from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigInt, IdMixin, enum_column, utcnow
from marketplace.enums import ADMIN_ROLES, Role


class User(IdMixin, Base):
    """A person who signs in. Enterprise and provider users belong to exactly one organisation;
    administrators belong to none (the CHECK constraint enforces the pairing).

    The organisations are the domains' tables, above this kernel: ``user.enterprise`` and
    ``user.provider`` are added by :class:`vouchers.models.Enterprise` and
    :class:`providers.models.Provider`."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[Role] = enum_column(Role, "role")
    is_active: Mapped[bool] = mapped_column(default=True)
    enterprise_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(
        BigInt, sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    #: Bumped whenever every session of the account must end (sign-out, password change,
    #: second-factor reset, role change, suspension); a session carries the value it was
    #: opened with and is refused once they differ.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    password_changed_at: Mapped[datetime | None]
    #: Base32 TOTP secret (RFC 6238); set at enrolment, confirmed when totp_enabled_at is set.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None]
    #: The last accepted time step, so a code is accepted once (replay refused).
    totp_last_counter: Mapped[int | None] = mapped_column(BigInt)
    #: When the account was closed; the retention command anonymises it years later.
    closed_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]

    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'enterprise' AND enterprise_id IS NOT NULL AND provider_id IS NULL)"
            " OR (role = 'provider' AND provider_id IS NOT NULL AND enterprise_id IS NULL)"
            " OR (role NOT IN ('enterprise', 'provider')"
            " AND enterprise_id IS NULL AND provider_id IS NULL)",
            name="organisation_matches_role",
        ),
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    # flask-login protocol -------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def has_second_factor(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None


class RecoveryCode(IdMixin, Base):
    """A one-time recovery code for the second factor; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash"),)


class ApiToken(IdMixin, Base):
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(
        BigInt, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: First characters of the token, so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    #: What the token may do ("vouchers:read", "orders:write" …); NULL for tokens made before
    #: scopes existed, which keep their user's full power until rotated.
    scopes: Mapped[list[str] | None] = mapped_column(sa.JSON)

    user: Mapped[User] = relationship(lazy="joined")

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
