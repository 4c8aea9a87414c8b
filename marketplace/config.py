"""Typed settings read from the environment and validated once, at start-up.

Nothing here runs at import time: ``Settings.from_env`` is called by ``create_app``.
Any invalid value raises :class:`ConfigError` whose message is one line naming the
variable, so a misconfigured deployment stops with a readable reason.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"

#: Keys that must never reach production; the demo and the docs use them.
KNOWN_WEAK_SECRET_KEYS = frozenset({"", "dev", "change-me", "secret", "development-key"})


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TESTING = "testing"
    PRODUCTION = "production"


class PaymentGatewayKind(StrEnum):
    OFFLINE = "offline"
    STRIPE = "stripe"


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: expected a boolean (true/false), got {raw!r}")


def _parse_int(name: str, raw: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ConfigError(f"{name}: must be at least {minimum}{upper}, got {value}")
    return value


E = TypeVar("E", bound=StrEnum)


def _parse_enum(name: str, raw: str, enum: type[E]) -> E:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ConfigError(f"{name}: expected one of {allowed}, got {raw!r}") from None


def _check_url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    scheme = urlsplit(raw).scheme
    if not any(scheme == s or scheme.startswith(s + "+") for s in schemes):
        raise ConfigError(
            f"{name}: expected a URL starting with {' or '.join(schemes)}, got {raw!r}"
        )
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment
    secret_key: str
    database_url: str
    instance_dir: Path
    upload_dir: Path
    redis_url: str | None = None
    #: RQ queue that background jobs go to (one per deployment; tests use one per run).
    job_queue: str = "marketplace"
    payment_gateway: PaymentGatewayKind = PaymentGatewayKind.OFFLINE
    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "noreply@voucher.example.cn"
    base_url: str = "http://127.0.0.1:5000"
    rate_limit_default: str = "300 per minute"
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Days after confirmation before an order can be claimed, so a late dispute can stop it.
    settlement_cooling_off_days: int = 0
    sql_echo: bool = False
    #: Minutes without a request after which a session ends (administrative roles / others).
    session_idle_minutes_admin: int = 30
    session_idle_minutes: int = 120
    #: Hours after sign-in after which a session ends whatever its activity.
    session_max_hours: int = 12
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (ProxyFix).
    trusted_proxies: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; raise ConfigError on the first problem."""
        env = _parse_enum(
            "MARKETPLACE_ENV", environ.get("MARKETPLACE_ENV", "development"), Environment
        )
        instance_dir = Path(environ.get("INSTANCE_DIR", str(DEFAULT_INSTANCE_DIR))).resolve()

        secret_key = environ.get("SECRET_KEY", "")
        if env is Environment.PRODUCTION:
            if secret_key in KNOWN_WEAK_SECRET_KEYS:
                raise ConfigError(
                    "SECRET_KEY: production needs a secret key (missing or a known default)"
                )
            if len(secret_key) < 32:
                raise ConfigError("SECRET_KEY: production needs at least 32 characters")
        elif not secret_key:
            # Development and tests get a random per-process key; sessions do not survive restarts.
            secret_key = secrets.token_urlsafe(32)

        database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'marketplace.db'}"
        database_url = _check_url("DATABASE_URL", database_url, ("sqlite", "postgresql"))
        if database_url.startswith("postgresql://"):
            # psycopg 3 is the only PostgreSQL driver we ship.
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

        redis_url = environ.get("REDIS_URL") or None
        if redis_url:
            _check_url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))
        job_queue = environ.get("JOB_QUEUE", "marketplace")
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", job_queue):
            raise ConfigError(
                f"JOB_QUEUE: letters, digits and _ . : - only (1–100), got {job_queue!r}"
            )

        gateway = _parse_enum(
            "PAYMENT_GATEWAY", environ.get("PAYMENT_GATEWAY", "offline"), PaymentGatewayKind
        )
        stripe_secret = environ.get("STRIPE_SECRET_KEY") or None
        stripe_webhook = environ.get("STRIPE_WEBHOOK_SECRET") or None
        if gateway is PaymentGatewayKind.STRIPE:
            if not stripe_secret:
                raise ConfigError("STRIPE_SECRET_KEY: required when PAYMENT_GATEWAY=stripe")
            if not stripe_webhook:
                raise ConfigError("STRIPE_WEBHOOK_SECRET: required when PAYMENT_GATEWAY=stripe")
        stripe_api_base = environ.get("STRIPE_API_BASE") or None
        if stripe_api_base:
            _check_url("STRIPE_API_BASE", stripe_api_base, ("http", "https"))

        base_url = _check_url(
            "BASE_URL", environ.get("BASE_URL", "http://127.0.0.1:5000"), ("http", "https")
        )
        upload_dir = Path(environ.get("UPLOAD_DIR", str(instance_dir / "uploads"))).resolve()

        return cls(
            env=env,
            secret_key=secret_key,
            database_url=database_url,
            instance_dir=instance_dir,
            upload_dir=upload_dir,
            redis_url=redis_url,
            job_queue=job_queue,
            payment_gateway=gateway,
            stripe_secret_key=stripe_secret,
            stripe_publishable_key=environ.get("STRIPE_PUBLISHABLE_KEY") or None,
            stripe_webhook_secret=stripe_webhook,
            stripe_api_base=stripe_api_base,
            smtp_host=environ.get("SMTP_HOST") or None,
            smtp_port=_parse_int(
                "SMTP_PORT", environ.get("SMTP_PORT", "25"), minimum=1, maximum=65535
            ),
            mail_from=environ.get("MAIL_FROM", "noreply@voucher.example.cn"),
            base_url=base_url.rstrip("/"),
            rate_limit_default=environ.get("RATE_LIMIT_DEFAULT", "300 per minute"),
            max_upload_bytes=_parse_int(
                "MAX_UPLOAD_BYTES",
                environ.get("MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)),
                minimum=1024,
            ),
            settlement_cooling_off_days=_parse_int(
                "SETTLEMENT_COOLING_OFF_DAYS",
                environ.get("SETTLEMENT_COOLING_OFF_DAYS", "0"),
                maximum=365,
            ),
            sql_echo=_parse_bool("SQL_ECHO", environ.get("SQL_ECHO", "false")),
            session_idle_minutes_admin=_parse_int(
                "SESSION_IDLE_MINUTES_ADMIN",
                environ.get("SESSION_IDLE_MINUTES_ADMIN", "30"),
                minimum=1,
                maximum=24 * 60,
            ),
            session_idle_minutes=_parse_int(
                "SESSION_IDLE_MINUTES",
                environ.get("SESSION_IDLE_MINUTES", "120"),
                minimum=1,
                maximum=24 * 60,
            ),
            trusted_proxies=_parse_int(
                "TRUSTED_PROXIES", environ.get("TRUSTED_PROXIES", "0"), maximum=5
            ),
            session_max_hours=_parse_int(
                "SESSION_MAX_HOURS", environ.get("SESSION_MAX_HOURS", "12"), minimum=1, maximum=24
            ),
        )

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def current_settings() -> Settings:
    """The running application's settings (web request, CLI command or job)."""
    from flask import current_app

    settings: Settings = current_app.config["SETTINGS"]
    return settings
