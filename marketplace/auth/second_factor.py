"""The second factor: TOTP (RFC 6238, pyotp) with one-time recovery codes.

* Enrolment shows a fresh secret as a QR code (segno, an inline SVG: no image leaves the
  server and no outside service sees the secret); the secret is stored only once a code made
  from it is entered, so a half-finished enrolment leaves nothing behind.
* A code is accepted once: the time step it belongs to is stored, and a code from that step or
  an earlier one is refused (a shoulder-surfed or intercepted code cannot be replayed).
  Codes from one step either side are accepted, for clocks that drift.
* Ten recovery codes are made at enrolment, shown once, stored as SHA-256, each usable once.
* Administrators can reset a person's second factor (they then enrol again at the next
  sign-in); it is recorded in the audit trail and the person is told by e-mail.

Services take a session, flush and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.auth.models import RecoveryCode, User
from marketplace.auth.services import end_sessions
from marketplace.db import utcnow
from marketplace.errors import InvalidSecondFactor, ValidationFailed
from marketplace.notifications import notify

ISSUER = "云南创新券 Yunnan Vouchers"
RECOVERY_CODES = 10
#: Time steps either side of now that are still accepted (clock drift).
DRIFT_STEPS = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud safely


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG (no external QR service)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2, title="TOTP"))


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(code.split()).lower()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, within the drift allowed; None if none."""
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _make_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    plain = [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in plain)
    session.flush()
    return plain


def enrol(
    session: Session, user: User, secret: str, code: str, *, now: datetime | None = None
) -> list[str]:
    """Turn the second factor on with ``secret`` once ``code`` proves the authenticator has it;
    return the recovery codes (plain, shown once).

    Raises InvalidSecondFactor (wrong code), ValidationFailed (already enrolled, bad secret).
    """
    now = now or utcnow()
    if user.has_second_factor:
        raise ValidationFailed(
            "the second factor is already set up / 已设置双重验证", {"code": ["already enrolled"]}
        )
    try:
        step = _matching_step(secret, _normalise(code), now)
    except (ValueError, TypeError):  # not base32: a tampered enrolment form
        raise ValidationFailed("invalid secret / 密钥无效", {"code": ["invalid secret"]}) from None
    if step is None:
        raise InvalidSecondFactor("wrong code / 验证码错误", field="code")
    user.totp_secret = secret
    user.totp_enabled_at = now
    user.totp_last_counter = step
    codes = _make_recovery_codes(session, user)
    record(
        session,
        "user.second_factor_enrolled",
        actor_id=user.id,
        subject_type="user",
        subject_id=user.id,
    )
    notify(session, user, "second_factor_changed", name=user.display_name, enabled=True)
    return codes


def verify(session: Session, user: User, code: str, *, now: datetime | None = None) -> str:
    """Check a TOTP code or a recovery code for ``user``; return "totp" or "recovery".

    Raises InvalidSecondFactor for a wrong, replayed or used code (one message for all).
    """
    refused = InvalidSecondFactor("wrong or already used code / 验证码错误或已使用", field="code")
    if not user.has_second_factor or user.totp_secret is None:
        raise refused
    now = now or utcnow()
    normalised = _normalise(code)
    step = _matching_step(user.totp_secret, normalised, now)
    if step is not None:
        # Refused if this step or a later one was used: each code works once.
        if user.totp_last_counter is not None and step <= user.totp_last_counter:
            raise refused
        # A conditional update, so two requests racing with one code cannot both win.
        won = session.execute(
            sa.update(User)
            .where(
                User.id == user.id,
                sa.or_(User.totp_last_counter.is_(None), User.totp_last_counter < step),
            )
            .values(totp_last_counter=step)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            raise refused
        user.totp_last_counter = step
        return "totp"
    used = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(normalised),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise refused
    record(
        session,
        "user.recovery_code_used",
        actor_id=user.id,
        subject_type="user",
        subject_id=user.id,
    )
    return "recovery"


def recovery_codes_left(session: Session, user: User) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def renew_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the recovery codes (the old ones stop working); needs the factor enrolled."""
    if not user.has_second_factor:
        raise ValidationFailed("no second factor / 未设置双重验证", {"code": ["not enrolled"]})
    codes = _make_recovery_codes(session, user)
    record(
        session,
        "user.recovery_codes_renewed",
        actor_id=user.id,
        subject_type="user",
        subject_id=user.id,
    )
    return codes


def reset(session: Session, user: User, *, actor: User) -> None:
    """An administrator removes ``user``'s second factor (lost phone): every session of the
    account ends, the person is told by e-mail, and enrols again at the next sign-in.

    Raises ValidationFailed when there is nothing to reset or the actor resets their own.
    """
    if actor.id == user.id:
        raise ValidationFailed(
            "ask another administrator / 请由其他管理员重置", {"user": ["not your own"]}
        )
    if user.totp_secret is None:
        raise ValidationFailed(
            "no second factor to reset / 该账号未设置双重验证", {"user": ["none"]}
        )
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record(
        session,
        "user.second_factor_reset",
        actor_id=actor.id,
        subject_type="user",
        subject_id=user.id,
    )
    notify(session, user, "second_factor_changed", name=user.display_name, enabled=False)
    end_sessions(session, user, actor_id=actor.id, reason="second_factor_reset")
