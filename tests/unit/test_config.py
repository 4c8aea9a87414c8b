"""Settings are validated at start-up; every failure is one line naming the variable."""

import pytest

from marketplace.config import (
    DEVELOPMENT_AUDIT_SIGNING_KEY,
    ConfigError,
    Environment,
    PaymentGatewayKind,
    Settings,
    SmtpTls,
)

STRONG_KEY = "k" * 40


def test_defaults_use_sqlite_under_instance_and_offline_payments(tmp_path):
    settings = Settings.from_env({"INSTANCE_DIR": str(tmp_path)})
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database_url == f"sqlite:///{tmp_path / 'marketplace.db'}"
    assert settings.payment_gateway is PaymentGatewayKind.OFFLINE
    assert settings.redis_url is None
    assert len(settings.secret_key) >= 32  # random per process in development


def test_postgres_urls_use_psycopg3():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"MARKETPLACE_ENV": "production"}, "SECRET_KEY"),
        ({"MARKETPLACE_ENV": "production", "SECRET_KEY": "change-me"}, "SECRET_KEY"),
        ({"MARKETPLACE_ENV": "production", "SECRET_KEY": "short-but-not-default"}, "SECRET_KEY"),
        ({"MARKETPLACE_ENV": "production", "SECRET_KEY": STRONG_KEY}, "AUDIT_SIGNING_KEY"),
        (
            {"MARKETPLACE_ENV": "production", "SECRET_KEY": STRONG_KEY, "AUDIT_SIGNING_KEY": "x"},
            "AUDIT_SIGNING_KEY",
        ),
        (
            {
                "MARKETPLACE_ENV": "production",
                "SECRET_KEY": STRONG_KEY,
                "AUDIT_SIGNING_KEY": DEVELOPMENT_AUDIT_SIGNING_KEY,
            },
            "AUDIT_SIGNING_KEY",
        ),
        (
            {
                "MARKETPLACE_ENV": "production",
                "SECRET_KEY": STRONG_KEY,
                "AUDIT_SIGNING_KEY": STRONG_KEY,
            },
            "AUDIT_SIGNING_KEY",
        ),
        ({"AUDIT_SIGNING_KEY": "too-short"}, "AUDIT_SIGNING_KEY"),
        ({"AUDIT_SIGNING_OLD_KEYS": f"{STRONG_KEY},short"}, "AUDIT_SIGNING_OLD_KEYS"),
        (
            {"AUDIT_SIGNING_KEY": STRONG_KEY, "AUDIT_SIGNING_OLD_KEYS": STRONG_KEY},
            "AUDIT_SIGNING_OLD_KEYS",
        ),
        ({"MARKETPLACE_ENV": "staging"}, "MARKETPLACE_ENV"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
        ({"PAYMENT_GATEWAY": "paypal"}, "PAYMENT_GATEWAY"),
        ({"PAYMENT_GATEWAY": "stripe"}, "STRIPE_SECRET_KEY"),
        ({"PAYMENT_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_test_x"}, "STRIPE_WEBHOOK_SECRET"),
        ({"SMTP_PORT": "seventy"}, "SMTP_PORT"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT"),
        ({"SMTP_TLS": "ssl3"}, "SMTP_TLS"),
        ({"SMTP_TLS": "starttls"}, "SMTP_HOST"),
        ({"SMTP_HOST": "mail example"}, "SMTP_HOST"),
        ({"SMTP_HOST": "h", "SMTP_USER": "u"}, "SMTP_PASSWORD"),
        ({"SMTP_HOST": "h", "SMTP_PASSWORD": "p"}, "SMTP_USER"),
        ({"SMTP_USER": "u", "SMTP_PASSWORD": "p", "SMTP_TLS": "starttls"}, "SMTP_HOST"),
        ({"SMTP_HOST": "h", "SMTP_USER": "u", "SMTP_PASSWORD": "p"}, "SMTP_TLS"),
        (
            {"SMTP_HOST": "h", "SMTP_USER": "u", "SMTP_PASSWORD": "口令", "SMTP_TLS": "implicit"},
            "SMTP_PASSWORD",
        ),
        ({"SMTP_HOST": "h", "SMTP_CA_FILE": "/etc/hosts"}, "SMTP_CA_FILE"),
        (
            {"SMTP_HOST": "h", "SMTP_TLS": "starttls", "SMTP_CA_FILE": "/no/such.pem"},
            "SMTP_CA_FILE",
        ),
        ({"PAYOUT_SECOND_APPROVAL_ABOVE_FEN": "-1"}, "PAYOUT_SECOND_APPROVAL_ABOVE_FEN"),
        ({"PAYOUT_SECOND_APPROVAL_ABOVE_FEN": "¥5000"}, "PAYOUT_SECOND_APPROVAL_ABOVE_FEN"),
        ({"INVOICE_VERIFY_URL": "ftp://x"}, "INVOICE_VERIFY_URL"),
        ({"INVOICE_VERIFY_URL": "https://gw.example.cn"}, "INVOICE_VERIFY_APP_ID"),
        (
            {"INVOICE_VERIFY_URL": "https://gw.example.cn", "INVOICE_VERIFY_APP_ID": "a"},
            "INVOICE_VERIFY_SECRET",
        ),
        (
            {
                "MARKETPLACE_ENV": "production",
                "SECRET_KEY": "k" * 40,
                "AUDIT_SIGNING_KEY": "a" * 40,
                "PARTY_HASH_KEY": "p" * 32,
                "INVOICE_VERIFY_URL": "http://gw.example.cn",
                "INVOICE_VERIFY_APP_ID": "a",
                "INVOICE_VERIFY_SECRET": "s" * 20,
            },
            "INVOICE_VERIFY_URL",
        ),
        ({"SQL_ECHO": "maybe"}, "SQL_ECHO"),
        ({"MAX_UPLOAD_BYTES": "10"}, "MAX_UPLOAD_BYTES"),
        ({"BASE_URL": "ftp://x"}, "BASE_URL"),
        ({"JOB_QUEUE": "a queue"}, "JOB_QUEUE"),
        ({"SETTLEMENT_COOLING_OFF_DAYS": "-1"}, "SETTLEMENT_COOLING_OFF_DAYS"),
        ({"SETTLEMENT_COOLING_OFF_DAYS": "366"}, "SETTLEMENT_COOLING_OFF_DAYS"),
        ({"SETTLEMENT_COOLING_OFF_DAYS": "a week"}, "SETTLEMENT_COOLING_OFF_DAYS"),
    ],
)
def test_invalid_settings_name_the_variable_in_one_line(environ, variable):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    message = str(info.value)
    assert message.startswith(variable + ":")
    assert "\n" not in message


def test_production_accepts_a_strong_key():
    audit_key = "a" * 40
    settings = Settings.from_env(
        {
            "MARKETPLACE_ENV": "production",
            "SECRET_KEY": STRONG_KEY,
            "AUDIT_SIGNING_KEY": audit_key,
            "PARTY_HASH_KEY": "k" * 32,
        }
    )
    assert settings.is_production and settings.secret_key == STRONG_KEY
    assert settings.audit_signing_key == audit_key
    assert settings.party_hash_key == "k" * 32


def test_development_uses_the_fixed_development_audit_key():
    # Fixed, not random: a trail written yesterday must still verify after a restart.
    assert Settings.from_env({}).audit_signing_key == DEVELOPMENT_AUDIT_SIGNING_KEY


def test_production_needs_its_own_party_hash_key():
    with pytest.raises(ConfigError, match=r"^PARTY_HASH_KEY:"):
        Settings.from_env(
            {
                "MARKETPLACE_ENV": "production",
                "SECRET_KEY": STRONG_KEY,
                "AUDIT_SIGNING_KEY": "a" * 40,
            }
        )
    assert Settings.from_env({}).party_hash_key == "development-only-party-hash-key"


def test_stripe_gateway_with_its_keys():
    settings = Settings.from_env(
        {"PAYMENT_GATEWAY": "STRIPE", "STRIPE_SECRET_KEY": "sk", "STRIPE_WEBHOOK_SECRET": "wh"}
    )
    assert settings.payment_gateway is PaymentGatewayKind.STRIPE


def test_cooling_off_defaults_to_none_and_reads_the_environment():
    assert Settings.from_env({}).settlement_cooling_off_days == 0
    assert Settings.from_env({"SETTLEMENT_COOLING_OFF_DAYS": "7"}).settlement_cooling_off_days == 7


@pytest.mark.parametrize(
    ("tls", "port"), [("none", 25), ("starttls", 587), ("implicit", 465), ("STARTTLS", 587)]
)
def test_smtp_port_defaults_to_the_one_of_its_tls_mode(tls, port):
    settings = Settings.from_env({"SMTP_HOST": "smtp.example.cn", "SMTP_TLS": tls})
    assert settings.smtp_tls is SmtpTls(tls.lower()) and settings.smtp_port == port
    assert (
        Settings.from_env({**{"SMTP_HOST": "h", "SMTP_TLS": tls}, "SMTP_PORT": "2525"}).smtp_port
        == 2525
    )


def test_smtp_credentials_with_tls_are_kept(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env(
        {
            "SMTP_HOST": "smtp.example.cn",
            "SMTP_TLS": "implicit",
            "SMTP_USER": "mailer",
            "SMTP_PASSWORD": "pw",
            "SMTP_CA_FILE": str(ca),
        }
    )
    assert (settings.smtp_user, settings.smtp_password, settings.smtp_ca_file) == (
        "mailer",
        "pw",
        ca,
    )
    plain = Settings.from_env({})
    assert (plain.smtp_host, plain.smtp_tls, plain.smtp_user) == (None, SmtpTls.NONE, None)


def test_a_replica_is_a_postgresql_url_beside_a_postgresql_primary():
    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql://u@primary/db", "DATABASE_REPLICA_URL": "postgresql://u@r/db"}
    )
    assert settings.database_replica_url == "postgresql+psycopg://u@r/db"
    assert Settings.from_env({}).database_replica_url is None
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        Settings.from_env({"DATABASE_REPLICA_URL": "postgresql://u@r/db"})  # SQLite primary
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        Settings.from_env(
            {"DATABASE_URL": "postgresql://u@p/db", "DATABASE_REPLICA_URL": "sqlite:///x.db"}
        )
