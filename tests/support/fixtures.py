"""Factories (Indico-style ``create_x`` fixtures) and small helpers such as ``AuthActions``.

Each factory fills every required field with a valid, unique value and lets a test override
only what it is about.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Callable, ItemsView, Iterator, Mapping
from datetime import date
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, object_session
from werkzeug.test import TestResponse

from marketplace.auth.models import RecoveryCode, User
from marketplace.auth.passwords import hash_password, use_fast_hashing_for_tests
from marketplace.auth.services import create_api_token
from marketplace.credit_code import CHARSET, make_credit_code
from marketplace.db import utcnow
from marketplace.enums import InstitutionType, Role, ServiceCategory, SizeClass
from providers.enums import ProviderStatus
from providers.models import Provider
from vouchers.enums import FundingBody, ProgrammeKind, VerificationStatus
from vouchers.models import Enterprise, Programme

PASSWORD = "correct-horse-battery"
_serial = itertools.count(1)

use_fast_hashing_for_tests()


def unique_credit_code(division: str = "530102") -> str:
    """A valid code with a fresh organisation-code body."""
    n = next(_serial)
    digits = []
    for _ in range(4):
        n, r = divmod(n, len(CHARSET))
        digits.append(CHARSET[r])
    return make_credit_code(division, "MA6T" + "".join(reversed(digits)))


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_serial)}@test.example.cn"


@pytest.fixture
def create_enterprise(session: Session) -> Callable[..., Enterprise]:
    def factory(**overrides: Any) -> Enterprise:
        division = overrides.pop("division", "530102")
        code = overrides.pop("credit_code", None) or unique_credit_code(division)
        values: dict[str, Any] = {
            "name": f"测试企业{next(_serial)}有限公司",
            "credit_code": code,
            "region_code": code[2:8],
            "size_class": SizeClass.SMALL,
            "industry": "智能制造",
            "contact_name": "联系人",
            "contact_phone": "13800000000",
            "contact_email": unique_email("contact"),
            "verification_status": VerificationStatus.VERIFIED,
        }
        values.update(overrides)
        enterprise = Enterprise(**values)
        session.add(enterprise)
        session.flush()
        return enterprise

    return factory


@pytest.fixture
def create_provider(session: Session) -> Callable[..., Provider]:
    def factory(**overrides: Any) -> Provider:
        division = overrides.pop("division", "530102")
        code = overrides.pop("credit_code", None) or unique_credit_code(division)
        values: dict[str, Any] = {
            "name": f"测试检测中心{next(_serial)}",
            "credit_code": code,
            "region_code": code[2:8],
            "institution_type": InstitutionType.TESTING_CENTRE,
            "status": ProviderStatus.ADMITTED,
            "contact_name": "联系人",
            "contact_phone": "0871-65550000",
            "contact_email": unique_email("provider"),
        }
        values.update(overrides)
        provider = Provider(**values)
        session.add(provider)
        session.flush()
        return provider

    return factory


@pytest.fixture
def create_user(
    session: Session,
    create_enterprise: Callable[..., Enterprise],
    create_provider: Callable[..., Provider],
) -> Callable[..., User]:
    def factory(role: Role = Role.ENTERPRISE, **overrides: Any) -> User:
        password = overrides.pop("password", PASSWORD)
        values: dict[str, Any] = {
            "email": unique_email(role.value),
            "password_hash": hash_password(password),
            "display_name": f"{role.zh}{next(_serial)}",
            "role": role,
        }
        if role is Role.ENTERPRISE and "enterprise" not in overrides:
            values["enterprise"] = create_enterprise()
        if role is Role.PROVIDER and "provider" not in overrides:
            values["provider"] = create_provider()
        # Administrators must have a second factor (the app lets them reach nothing else), so
        # they are enrolled here with a real TOTP secret; ``second_factor=False`` leaves one out.
        if overrides.pop("second_factor", role.is_admin):
            values["totp_secret"] = pyotp.random_base32()
            values["totp_enabled_at"] = utcnow()
        values.update(overrides)
        user = User(**values)
        session.add(user)
        session.flush()
        return user

    return factory


@pytest.fixture
def create_programme(session: Session) -> Callable[..., Programme]:
    return functools.partial(new_programme, session)


def new_programme(session: Session, **overrides: Any) -> Programme:
    """A programme (default: this year's innovation vouchers, whole-year windows, every
    category and size), flushed; for tests on a session of their own as well as the fixture."""
    year = overrides.pop("year", date.today().year)
    kind = overrides.pop("kind", ProgrammeKind.INNOVATION)
    values: dict[str, Any] = {
        "kind": kind,
        "year": year,
        "name": f"{year}年度{kind.zh}",
        "funding_body": FundingBody.PROVINCIAL,
        "total_budget_fen": 100_000_000,
        "eligible_categories": [c.value for c in ServiceCategory],
        "eligible_size_classes": [s.value for s in SizeClass],
        "region_prefix": "53",
        "applications_open_on": date(year, 1, 1),
        "applications_close_on": date(year, 12, 31),
        "use_by": date(year, 12, 31),
        "claim_deadline": date(year + 1, 3, 31),
    }
    values.update(overrides)
    programme = Programme(**values)
    session.add(programme)
    session.flush()
    return programme


class SecondFactorHeaders(Mapping[str, str]):
    """Headers of an API client whose person keeps their authenticator at hand: every time
    the headers are read (each request) they carry the code the authenticator shows then, in
    ``X-Second-Factor``, as a script asking its operator for the code would. The app checks
    each code for real (and refuses it once used); this only saves each test typing it."""

    def __init__(self, session: Session, user: User, base: dict[str, str]) -> None:
        self._session, self._user, self._base = session, user, base

    def _current(self) -> dict[str, str]:
        return {**self._base, "X-Second-Factor": second_factor_code(self._session, self._user)}

    def __getitem__(self, key: str) -> str:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._base, "X-Second-Factor"])

    def __len__(self) -> int:
        return len(self._base) + 1

    def items(self) -> ItemsView[str, str]:  # one code per read, not one per header
        return self._current().items()


@pytest.fixture
def api_token(session: Session) -> Callable[..., Mapping[str, str]]:
    """Authorization headers carrying a fresh token (every scope) for ``user``; with
    ``step_up=True`` they also carry the person's current second-factor code (see
    :class:`SecondFactorHeaders`) for the operations that need a fresh one."""

    def factory(user: User, *, step_up: bool = False) -> Mapping[str, str]:
        _token, plain = create_api_token(session, user, name="test")
        headers = {"Authorization": f"Bearer {plain}"}
        return SecondFactorHeaders(session, user, headers) if step_up else headers

    return factory


def second_factor_code(session: Session, user: User) -> str:
    """A code the app will accept for ``user`` now, as the person's authenticator would give.

    Each TOTP code is accepted once, and tests sign the same person in several times within
    one 30-second step: the next unused step (the app allows one step of clock drift) is used,
    and when even that is spent, one of the person's recovery codes (a real one, stored hashed
    like any other) — never a weakened check.
    """
    session.refresh(user)
    assert user.totp_secret is not None, f"{user.email} has no second factor"
    totp = pyotp.TOTP(user.totp_secret)
    now_step = totp.timecode(utcnow())
    step = now_step if user.totp_last_counter is None else max(now_step, user.totp_last_counter + 1)
    if step <= now_step + 1:
        return totp.generate_otp(step)
    plain = f"test{next(_serial):06d}"
    session.add(RecoveryCode(user_id=user.id, code_hash=hashlib.sha256(plain.encode()).hexdigest()))
    session.flush()
    return plain


class AuthActions:
    """Sign in and out through the real pages (flaskr's helper); administrators (and anyone
    enrolled) enter a real second-factor code, as a person would."""

    def __init__(self, client: FlaskClient, session: Session | None = None) -> None:
        self.client = client
        self.session = session

    def _session(self, user: User | None = None) -> Session:
        session = self.session or (object_session(user) if user is not None else None)
        assert session is not None, "AuthActions needs the test's session to sign in by e-mail"
        return session

    def _user(self, user_or_email: User | str) -> User | None:
        if isinstance(user_or_email, User):
            return user_or_email
        return self._session().scalar(
            sa.select(User).where(User.email == user_or_email.strip().lower())
        )

    def login(self, user_or_email: User | str, password: str = PASSWORD) -> TestResponse:
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        response = self.client.post("/login", data={"email": email, "password": password})
        if response.status_code == 302 and response.headers["Location"].startswith(
            "/login/second-factor"
        ):
            user = self._user(user_or_email)
            assert user is not None
            response = self.client.post(
                response.headers["Location"],
                data={"code": second_factor_code(self._session(user), user)},
            )
        return response

    def confirm(self, user: User) -> TestResponse:
        """Step-up: enter a fresh second factor before an action that needs one."""
        code = second_factor_code(self._session(user), user)
        return self.client.post("/account/confirm", data={"code": code})

    def logout(self) -> TestResponse:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient, session: Session) -> AuthActions:
    return AuthActions(client, session)


@pytest.fixture
def login(app: Flask) -> Callable[[User], FlaskClient]:
    """``login(user)``: a client of its own, signed in as ``user`` (for tests where several
    people act side by side)."""

    def as_user(user: User) -> FlaskClient:
        client = app.test_client()
        response = AuthActions(client).login(user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return as_user
