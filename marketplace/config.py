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
from typing import TypedDict, TypeVar
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"

#: Keys that must never reach production; the demo and the docs use them.
KNOWN_WEAK_SECRET_KEYS = frozenset({"", "dev", "change-me", "secret", "development-key"})
#: The audit key of development, tests and the demo. Fixed (unlike the random development
#: SECRET_KEY) so a trail written yesterday still verifies today; refused in production.
DEVELOPMENT_AUDIT_SIGNING_KEY = "development-audit-signing-key-not-for-production"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TESTING = "testing"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class PaymentGatewayKind(StrEnum):
    OFFLINE = "offline"
    STRIPE = "stripe"


class SmtpTls(StrEnum):
    """How the SMTP connection is protected: not at all (a relay on the same host or network),
    upgraded with STARTTLS (port 587) or TLS from the first byte (port 465)."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


#: The port each kind of SMTP connection uses when ``SMTP_PORT`` is not given.
SMTP_DEFAULT_PORTS = {SmtpTls.NONE: 25, SmtpTls.STARTTLS: 587, SmtpTls.IMPLICIT: 465}


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


class _SmtpSettings(TypedDict):
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_tls: SmtpTls
    smtp_ca_file: Path | None


def _smtp_settings(environ: Mapping[str, str]) -> _SmtpSettings:
    """The outgoing mail server: host, port, credentials and TLS, checked together.

    Credentials are never sent over an unprotected connection, so a user or password
    without ``SMTP_TLS`` is refused at start-up rather than leaked at the first e-mail.
    """
    host = (environ.get("SMTP_HOST") or "").strip() or None
    tls = _parse_enum("SMTP_TLS", environ.get("SMTP_TLS") or "none", SmtpTls)
    raw_port = environ.get("SMTP_PORT") or str(SMTP_DEFAULT_PORTS[tls])
    port = _parse_int("SMTP_PORT", raw_port, minimum=1, maximum=65535)
    user = environ.get("SMTP_USER") or None
    password = environ.get("SMTP_PASSWORD") or None
    if host is not None and not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", host):
        raise ConfigError(f"SMTP_HOST: expected a host name or address, got {host!r}")
    if user and not password:
        raise ConfigError("SMTP_PASSWORD: required when SMTP_USER is set")
    if password and not user:
        raise ConfigError("SMTP_USER: required when SMTP_PASSWORD is set")
    if (user or tls is not SmtpTls.NONE) and host is None:
        raise ConfigError("SMTP_HOST: required when SMTP_USER or SMTP_TLS is set")
    for name, value in (("SMTP_USER", user), ("SMTP_PASSWORD", password)):
        # smtplib's AUTH sends them as ASCII; anything else would fail at the first e-mail.
        if value and not value.isascii():
            raise ConfigError(f"{name}: only ASCII characters can be sent by SMTP AUTH")
    if user and tls is SmtpTls.NONE:
        raise ConfigError("SMTP_TLS: credentials are never sent in clear; set starttls or implicit")
    ca_file = None
    if raw_ca := environ.get("SMTP_CA_FILE"):
        if tls is SmtpTls.NONE:
            raise ConfigError("SMTP_CA_FILE: only used with SMTP_TLS=starttls or implicit")
        ca_file = Path(raw_ca).resolve()
        if not ca_file.is_file():
            raise ConfigError(f"SMTP_CA_FILE: no such file {raw_ca!r}")
    return {
        "smtp_host": host,
        "smtp_port": port,
        "smtp_user": user,
        "smtp_password": password,
        "smtp_tls": tls,
        "smtp_ca_file": ca_file,
    }


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment
    secret_key: str
    database_url: str
    instance_dir: Path
    upload_dir: Path
    redis_url: str | None = None
    #: A streaming replica of the PostgreSQL primary for read-only traffic (search, public
    #: statistics, dashboards): see README "Scale-out". None: everything reads the primary.
    database_replica_url: str | None = None
    #: RQ queue that background jobs go to (one per deployment; tests use one per run).
    job_queue: str = "marketplace"
    payment_gateway: PaymentGatewayKind = PaymentGatewayKind.OFFLINE
    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: SmtpTls = SmtpTls.NONE
    #: A CA bundle to trust for the SMTP server's certificate (a private CA); default: the system's.
    smtp_ca_file: Path | None = None
    #: A payout batch whose total is above this needs a second finance approval before sending.
    payout_second_approval_above_fen: int = 50_000_000
    #: The invoice verification gateway (marketplace.invoice_verification); unset: not asked.
    invoice_verify_url: str | None = None
    invoice_verify_app_id: str = ""
    invoice_verify_secret: str = ""
    mail_from: str = "noreply@voucher.example.cn"
    base_url: str = "http://127.0.0.1:5000"
    rate_limit_default: str = "300 per minute"
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Days after confirmation before an order can be claimed, so a late dispute can stop it.
    settlement_cooling_off_days: int = 0
    #: Days an SME has to pay its co-payment by bank transfer after accepting the agreement
    #: (the deadline the payment page shows).
    copayment_due_days: int = 7
    sql_echo: bool = False
    log_format: LogFormat = LogFormat.JSON
    log_level: str = "INFO"
    #: Previous secret keys, still accepted (not used to sign) while sessions and voucher
    #: tokens signed with them age out: how SECRET_KEY is rotated (README, "Runbook").
    secret_key_fallbacks: tuple[str, ...] = ()
    #: Bearer token a Prometheus scraper must send for /metrics; unset: /metrics is off.
    metrics_token: str | None = None
    #: HMAC-SHA256 key of the audit trail: each record's MAC, the chain, the daily checkpoints.
    audit_signing_key: str = DEVELOPMENT_AUDIT_SIGNING_KEY
    #: Retired audit keys, newest first: never used to sign, still accepted to verify what
    #: they signed (how AUDIT_SIGNING_KEY is rotated: README, "Runbook").
    audit_signing_old_keys: tuple[str, ...] = ()
    #: HMAC key for identity numbers in the party index (legal representatives): only the keyed
    #: hash is stored, so the number cannot be recovered or guessed from the database alone.
    party_hash_key: str = "development-only-party-hash-key"
    #: Minutes without a request after which a session ends (administrative roles / others).
    session_idle_minutes_admin: int = 30
    session_idle_minutes: int = 120
    #: Hours after sign-in after which a session ends whatever its activity.
    session_max_hours: int = 12
    #: Years after an account is closed before ``accounts retention`` anonymises its personal
    #: data (the records it took part in are kept, pointing at the anonymised account).
    retention_years: int = 3
    #: Without Redis, run a request's background jobs (e-mail) after its response has been
    #: sent rather than before; off by default in tests, whose client closes no response.
    jobs_after_response: bool = True
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

        audit_signing_key = environ.get("AUDIT_SIGNING_KEY", "")
        if env is Environment.PRODUCTION:
            if audit_signing_key in KNOWN_WEAK_SECRET_KEYS | {DEVELOPMENT_AUDIT_SIGNING_KEY}:
                raise ConfigError(
                    "AUDIT_SIGNING_KEY: production needs an audit signing key"
                    " (missing or a known default)"
                )
            if len(audit_signing_key) < 32:
                raise ConfigError("AUDIT_SIGNING_KEY: production needs at least 32 characters")
            if audit_signing_key == secret_key:
                raise ConfigError("AUDIT_SIGNING_KEY: must differ from SECRET_KEY")
        elif not audit_signing_key:
            audit_signing_key = DEVELOPMENT_AUDIT_SIGNING_KEY
        elif len(audit_signing_key) < 32:
            raise ConfigError("AUDIT_SIGNING_KEY: at least 32 characters")

        audit_signing_old_keys = tuple(
            k.strip() for k in environ.get("AUDIT_SIGNING_OLD_KEYS", "").split(",") if k.strip()
        )
        if any(len(k) < 32 for k in audit_signing_old_keys):
            raise ConfigError("AUDIT_SIGNING_OLD_KEYS: each key needs at least 32 characters")
        if audit_signing_key in audit_signing_old_keys:
            raise ConfigError(
                "AUDIT_SIGNING_OLD_KEYS: the current AUDIT_SIGNING_KEY is not retired"
            )

        database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'marketplace.db'}"
        database_url = _check_url("DATABASE_URL", database_url, ("sqlite", "postgresql"))
        if database_url.startswith("postgresql://"):
            # psycopg 3 is the only PostgreSQL driver we ship.
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

        replica_url = environ.get("DATABASE_REPLICA_URL") or None
        if replica_url:
            replica_url = _check_url("DATABASE_REPLICA_URL", replica_url, ("postgresql",))
            if not database_url.startswith("postgresql"):
                raise ConfigError("DATABASE_REPLICA_URL: a replica needs a PostgreSQL DATABASE_URL")
            if replica_url.startswith("postgresql://"):
                replica_url = "postgresql+psycopg://" + replica_url.removeprefix("postgresql://")

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

        smtp = _smtp_settings(environ)
        verify_url = environ.get("INVOICE_VERIFY_URL") or None
        verify_app = environ.get("INVOICE_VERIFY_APP_ID", "")
        verify_secret = environ.get("INVOICE_VERIFY_SECRET", "")
        if verify_url:
            _check_url("INVOICE_VERIFY_URL", verify_url, ("http", "https"))
            if not verify_app:
                raise ConfigError("INVOICE_VERIFY_APP_ID: required when INVOICE_VERIFY_URL is set")
            if len(verify_secret) < 16:
                raise ConfigError(
                    "INVOICE_VERIFY_SECRET: required (16+ characters) when INVOICE_VERIFY_URL is set"
                )
            if env is Environment.PRODUCTION and not verify_url.startswith("https://"):
                raise ConfigError("INVOICE_VERIFY_URL: production verifies over https only")

        base_url = _check_url(
            "BASE_URL", environ.get("BASE_URL", "http://127.0.0.1:5000"), ("http", "https")
        )
        upload_dir = Path(environ.get("UPLOAD_DIR", str(instance_dir / "uploads"))).resolve()

        log_level = environ.get("LOG_LEVEL", "INFO").strip().upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(
                f"LOG_LEVEL: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}"
            )
        fallbacks = tuple(
            k.strip() for k in environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k.strip()
        )
        if env is Environment.PRODUCTION and any(
            len(k) < 32 or k in KNOWN_WEAK_SECRET_KEYS for k in fallbacks
        ):
            raise ConfigError("SECRET_KEY_FALLBACKS: each key needs at least 32 characters")
        metrics_token = environ.get("METRICS_TOKEN") or None
        if metrics_token is not None and len(metrics_token) < 16:
            raise ConfigError("METRICS_TOKEN: at least 16 characters")
        party_hash_key = environ.get("PARTY_HASH_KEY", "")
        if env is Environment.PRODUCTION and len(party_hash_key) < 32:
            raise ConfigError("PARTY_HASH_KEY: production needs a key of at least 32 characters")
        # Development and tests use a fixed key so demo data keeps matching across restarts.
        party_hash_key = party_hash_key or "development-only-party-hash-key"

        return cls(
            env=env,
            secret_key=secret_key,
            database_url=database_url,
            database_replica_url=replica_url,
            instance_dir=instance_dir,
            upload_dir=upload_dir,
            redis_url=redis_url,
            job_queue=job_queue,
            payment_gateway=gateway,
            stripe_secret_key=stripe_secret,
            stripe_publishable_key=environ.get("STRIPE_PUBLISHABLE_KEY") or None,
            stripe_webhook_secret=stripe_webhook,
            stripe_api_base=stripe_api_base,
            **smtp,
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
            invoice_verify_url=verify_url,
            invoice_verify_app_id=verify_app,
            invoice_verify_secret=verify_secret,
            payout_second_approval_above_fen=_parse_int(
                "PAYOUT_SECOND_APPROVAL_ABOVE_FEN",
                environ.get("PAYOUT_SECOND_APPROVAL_ABOVE_FEN", "50000000"),
            ),
            copayment_due_days=_parse_int(
                "COPAYMENT_DUE_DAYS",
                environ.get("COPAYMENT_DUE_DAYS", "7"),
                minimum=1,
                maximum=90,
            ),
            sql_echo=_parse_bool("SQL_ECHO", environ.get("SQL_ECHO", "false")),
            log_format=_parse_enum("LOG_FORMAT", environ.get("LOG_FORMAT", "json"), LogFormat),
            log_level=log_level,
            metrics_token=metrics_token,
            audit_signing_key=audit_signing_key,
            audit_signing_old_keys=audit_signing_old_keys,
            secret_key_fallbacks=fallbacks,
            party_hash_key=party_hash_key,
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
            retention_years=_parse_int(
                "RETENTION_YEARS", environ.get("RETENTION_YEARS", "3"), minimum=1, maximum=100
            ),
            session_max_hours=_parse_int(
                "SESSION_MAX_HOURS", environ.get("SESSION_MAX_HOURS", "12"), minimum=1, maximum=24
            ),
            jobs_after_response=_parse_bool(
                "JOBS_AFTER_RESPONSE",
                environ.get(
                    "JOBS_AFTER_RESPONSE", "false" if env is Environment.TESTING else "true"
                ),
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
