"""Hand a composed message to SMTP, or to the log when no SMTP server is configured."""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from marketplace.config import Environment, Settings, SmtpTls

log = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 30


def build_message(
    settings: Settings, *, message_id: int, created_at: datetime, to: str, subject: str, body: str
) -> EmailMessage:
    """A UTF-8 plain-text message. Its Message-ID derives from the outbox row, so a resend
    after a crash carries the same id and mail clients show it once."""
    domain = urlsplit(settings.base_url).hostname or "localhost"
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(created_at)
    msg["Message-ID"] = f"<outbox-{message_id}-{created_at:%Y%m%d%H%M%S}@{domain}>"
    msg.set_content(body, charset="utf-8")
    return msg


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Certificate and host name always verified: a mail server we cannot authenticate
    does not get the password nor the messages."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    return ssl.create_default_context(cafile=cafile)


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host is not None
    if settings.smtp_tls is SmtpTls.IMPLICIT:
        return smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=SMTP_TIMEOUT_SECONDS,
            context=_tls_context(settings),
        )
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    if settings.smtp_tls is SmtpTls.STARTTLS:
        try:
            # Raises SMTPNotSupportedError if the server does not offer it: never downgrade.
            smtp.starttls(context=_tls_context(settings))
        except BaseException:
            smtp.close()
            raise
    return smtp


def send(settings: Settings, message: EmailMessage) -> None:
    """Send via ``SMTP_HOST:SMTP_PORT`` (TLS and login as configured); smtplib and ssl errors
    propagate (the job is retried)."""
    if not settings.smtp_host:
        if settings.env is Environment.DEVELOPMENT:
            # The offline demo reads its e-mails (links, notices) from the console.
            log.info(
                "e-mail not sent (SMTP_HOST unset) to %s: %s\n%s",
                message["To"],
                message["Subject"],
                message.get_content(),
            )
        else:
            # Elsewhere the log is shipped and kept: addresses and bodies (tokens, names,
            # amounts) stay out of it (rule 11); the Message-ID finds the outbox row.
            log.info("e-mail not sent (SMTP_HOST unset): %s", message["Message-ID"])
        return
    with _connect(settings) as smtp:
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)
