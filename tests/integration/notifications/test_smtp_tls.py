"""E-mail to a real server: SMTP login over STARTTLS or implicit TLS, the certificate
verified, credentials never sent in clear. The servers are aiosmtpd on loopback with a
certificate from a throwaway CA."""

from __future__ import annotations

import smtplib
import ssl
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from marketplace.config import Settings, SmtpTls
from marketplace.db import commit
from marketplace.notifications import notify
from marketplace.notifications.mailer import build_message, send
from marketplace.notifications.models import EmailStatus
from tests.support.payment_fixtures import Mailbox, _CollectingHandler, free_port
from tests.support.tls import Certificates, make_certificates

USER, PASSWORD = "mailer@voucher.example.cn", "s3cret-pass-word"


@pytest.fixture(scope="module")
def certificates() -> Iterator[Certificates]:
    with tempfile.TemporaryDirectory() as tmp:
        yield make_certificates(Path(tmp))


class _Authenticator:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.attempts.append((user, password, encrypted))
        # handled=False: aiosmtpd answers the refusal itself (535).
        return AuthResult(success=(user, password) == (USER, PASSWORD), handled=False)


class TlsSmtp:
    def __init__(self, certificates: Certificates, *, implicit: bool) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificates.cert_file, certificates.key_file)
        self.mailbox = Mailbox()
        self.auth = _Authenticator()
        self.port = free_port()
        tls = {"ssl_context": context} if implicit else {"tls_context": context}
        self.controller = Controller(
            _CollectingHandler(self.mailbox),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="127.0.0.1",
            authenticator=self.auth,
            # Implicit TLS is encrypted from the first byte (aiosmtpd only knows STARTTLS here).
            auth_require_tls=not implicit,
            require_starttls=not implicit,
            **tls,
        )
        self.controller.start()


@pytest.fixture(scope="module")
def starttls_server(certificates: Certificates) -> Iterator[TlsSmtp]:
    server = TlsSmtp(certificates, implicit=False)
    yield server
    server.controller.stop()


@pytest.fixture(scope="module")
def implicit_server(certificates: Certificates) -> Iterator[TlsSmtp]:
    server = TlsSmtp(certificates, implicit=True)
    yield server
    server.controller.stop()


def _settings(server: TlsSmtp, tls: str, ca_file: Path, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(server.port),
            "SMTP_TLS": tls,
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "SMTP_CA_FILE": str(ca_file),
            **extra,
        }
    )


def _message(settings: Settings, subject: str) -> Any:
    return build_message(
        settings,
        message_id=1,
        created_at=datetime(2026, 6, 1, 8, 0),
        to="sme@example.cn",
        subject=subject,
        body="正文 body",
    )


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_login_over_tls_delivers(tls, starttls_server, implicit_server, certificates):
    server = starttls_server if tls == "starttls" else implicit_server
    server.mailbox.clear()
    settings = _settings(server, tls, certificates.ca_file)
    assert settings.smtp_tls is SmtpTls(tls)

    send(settings, _message(settings, f"over {tls}"))

    [mail] = server.mailbox.to("sme@example.cn")
    assert mail["Subject"] == f"over {tls}"
    # The password went over the encrypted connection only.
    assert server.auth.attempts[-1] == (USER, PASSWORD, True)


def test_a_wrong_password_is_refused_and_nothing_is_sent(starttls_server, certificates):
    starttls_server.mailbox.clear()
    settings = _settings(starttls_server, "starttls", certificates.ca_file, SMTP_PASSWORD="nope")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        send(settings, _message(settings, "wrong password"))
    assert starttls_server.mailbox.messages == []


def test_an_untrusted_certificate_is_refused_before_login(starttls_server, tmp_path):
    # Trust a different CA than the one that signed the server's certificate.
    other = make_certificates(tmp_path / "other")
    starttls_server.mailbox.clear()
    before = len(starttls_server.auth.attempts)
    settings = _settings(starttls_server, "starttls", other.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        send(settings, _message(settings, "untrusted"))
    assert len(starttls_server.auth.attempts) == before  # the password never left
    assert starttls_server.mailbox.messages == []


def test_starttls_is_required_when_configured(smtp_server, mailbox, certificates):
    """A server that does not offer STARTTLS is not used in clear (no downgrade)."""
    settings = Settings.from_env(
        {
            "SMTP_HOST": smtp_server.host,
            "SMTP_PORT": str(smtp_server.port),
            "SMTP_TLS": "starttls",
            "SMTP_CA_FILE": str(certificates.ca_file),
        }
    )
    with pytest.raises(smtplib.SMTPNotSupportedError):
        send(settings, _message(settings, "downgraded"))
    assert mailbox.messages == []


def test_the_outbox_delivers_through_the_authenticated_server(
    session, make_app, starttls_server, certificates, create_user
):
    starttls_server.mailbox.clear()
    app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(starttls_server.port),
        SMTP_TLS="starttls",
        SMTP_USER=USER,
        SMTP_PASSWORD=PASSWORD,
        SMTP_CA_FILE=str(certificates.ca_file),
    )
    user = create_user()
    with app.app_context():
        message = notify(
            session,
            user,
            "payment_received",
            name=user.display_name,
            amount_fen=100,
            description="检测服务",
            payment_id=1,
        )
        commit(session)
    session.refresh(message)
    assert message.status is EmailStatus.SENT
    assert len(starttls_server.mailbox.to(user.email)) == 1
