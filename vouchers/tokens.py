"""Verification tokens: what an enterprise shows a provider so the provider can check that a
voucher is genuine and how much it can still cover.

A token is the voucher's serial and a random per-voucher nonce, signed with the application's
SECRET_KEY (itsdangerous, HMAC-SHA256, salted for this purpose only). It cannot be guessed or
forged from a serial, and rotating the nonce invalidates tokens already handed out.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.db import utcnow
from marketplace.errors import DomainError
from vouchers.errors import VoucherTokenInvalid
from vouchers.holds import check_enterprise_may_use, check_voucher_usable
from vouchers.models import Voucher
from vouchers.quota import read_quota

SALT = "voucher-verification-v1"


def _serializer(secret_key: str, fallbacks: Sequence[str] = ()) -> URLSafeSerializer:
    """Signs with ``secret_key``; also accepts tokens signed with a previous key still listed
    in ``fallbacks`` (SECRET_KEY_FALLBACKS), so rotating the key does not void vouchers."""
    if not secret_key:
        raise ValueError("a secret key is required to sign voucher tokens")
    # itsdangerous signs with the last key of the list and verifies with any of them.
    return URLSafeSerializer([*fallbacks, secret_key], salt=SALT)


def verification_token(secret_key: str, voucher: Voucher) -> str:
    return str(_serializer(secret_key).dumps([voucher.serial, voucher.token_nonce]))


def voucher_for_token(
    session: Session, secret_key: str, token: str, *, fallbacks: Sequence[str] = ()
) -> Voucher:
    """The voucher a token was issued for. Raises VoucherTokenInvalid for anything else."""
    invalid = VoucherTokenInvalid(
        "验证码无效，不是本平台签发的电子券 / not a genuine voucher token"
    )
    try:
        payload = _serializer(secret_key, fallbacks).loads((token or "").strip())
    except BadSignature:
        raise invalid from None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(isinstance(part, str) for part in payload)
    ):
        raise invalid
    serial, nonce = payload
    voucher = session.scalar(sa.select(Voucher).where(Voucher.serial == serial))
    if voucher is None or not hmac.compare_digest(voucher.token_nonce, nonce):
        raise invalid
    return voucher


@dataclass(frozen=True, slots=True)
class Verification:
    voucher: Voucher
    usable: bool
    #: Stable code of why the voucher cannot take a hold now (None when usable).
    reason: str | None
    can_cover_fen: int
    cap_remaining_fen: int

    @property
    def genuine(self) -> bool:
        return True


def verify(
    session: Session,
    secret_key: str,
    token: str,
    now: datetime | None = None,
    *,
    fallbacks: Sequence[str] = (),
) -> Verification:
    """Check a token: genuine (else VoucherTokenInvalid), usable now, and how much it can
    still cover: the smaller of its balance and the enterprise's remaining annual cap."""
    voucher = voucher_for_token(session, secret_key, token, fallbacks=fallbacks)
    return verify_voucher(session, voucher, now)


def voucher_for_serial(session: Session, serial: str) -> Voucher:
    """The voucher with ``serial`` (case and spaces forgiven). Raises VoucherTokenInvalid.

    A serial is printed on the certificate and is not secret, so callers offer this lookup
    only to signed-in providers and administrators; anyone else verifies with the token."""
    wanted = "".join((serial or "").split()).upper()
    voucher = session.scalar(sa.select(Voucher).where(Voucher.serial == wanted)) if wanted else None
    if voucher is None:
        raise VoucherTokenInvalid("没有该券号的电子券 / no voucher has this serial")
    return voucher


def verify_voucher(session: Session, voucher: Voucher, now: datetime | None = None) -> Verification:
    """Whether ``voucher`` is usable now and how much it can still cover."""
    now = now or utcnow()
    quota = read_quota(
        session, voucher.enterprise_id, clock.local_date(now).year, voucher.programme
    )
    reason: str | None = None
    try:
        check_enterprise_may_use(voucher.enterprise)
        check_voucher_usable(voucher, now)
    except DomainError as exc:
        exc.recovered()  # an unusable voucher is an answer of the verification, not a failure
        reason = exc.code
    if reason is None and quota.remaining_fen == 0:
        reason = "cap_exceeded"
    can_cover = 0 if reason else min(voucher.balance_fen, quota.remaining_fen)
    return Verification(
        voucher=voucher,
        usable=reason is None,
        reason=reason,
        can_cover_fen=can_cover,
        cap_remaining_fen=quota.remaining_fen,
    )
