"""E-mail notifications: composed bilingually, sent only after the commit, to a real SMTP
server on loopback (aiosmtpd)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from marketplace.db import commit, rollback, utcnow
from marketplace.errors import ValidationFailed
from marketplace.notifications import notify
from marketplace.notifications.models import EmailStatus, OutboundEmail
from marketplace.notifications.rendering import TemplateProblem, compose
from marketplace.notifications.services import deliver, requeue_pending
from tests.conftest import rows
from tests.support.payment_fixtures import free_port


@pytest.fixture
def mail_ctx(make_app, smtp_server):
    app = make_app(**smtp_server.config, MAIL_FROM="平台 <noreply@voucher.example.cn>")
    with app.app_context():
        yield app


def _receipt(session, user, **overrides):
    context = {
        "name": user.display_name,
        "amount_fen": 123_456,
        "description": "检测服务 Testing service",
        "payment_id": 42,
        **overrides,
    }
    return notify(session, user, "payment_received", **context)


def test_the_mail_leaves_only_after_the_commit(session, mail_ctx, mailbox, create_user):
    user = create_user()
    message = _receipt(session, user)
    assert message.status is EmailStatus.QUEUED
    assert mailbox.messages == []  # flushed, not committed: nothing sent

    commit(session)

    [mail] = mailbox.to(user.email)
    assert mail["Subject"] == "付款成功：¥1,234.56 / Payment received: ¥1,234.56"
    assert mail["To"] == user.email
    assert "noreply@voucher.example.cn" in mail["From"]
    assert mail["Message-ID"].startswith(f"<outbox-{message.id}-")
    body = mail.get_content()
    assert body.index("我们已收到您的付款") < body.index("We have received your payment")
    assert "¥1,234.56" in body and "http://127.0.0.1:5000" in body
    session.refresh(message)
    assert message.status is EmailStatus.SENT and message.sent_at is not None


def test_a_rolled_back_notification_is_never_sent(session, mail_ctx, mailbox, create_user):
    user = create_user()
    _receipt(session, user)
    rollback(session)
    commit(session)
    assert mailbox.messages == []
    assert rows(session, OutboundEmail, OutboundEmail.to_address == user.email) == []


def test_delivery_is_idempotent(session, mail_ctx, mailbox, create_user):
    message = _receipt(session, create_user())
    commit(session)
    assert deliver(session, message.id) is False
    assert deliver(session, 10**9) is False
    assert len(mailbox.messages) == 1


def test_plain_addresses_and_bad_ones(session, mail_ctx, mailbox):
    notify(
        session,
        "contact@sme.example.cn",
        "payment_failed",
        name="联系人",
        amount_fen=500,
        description="x",
        payment_id=1,
        reason="卡被拒绝",
    )
    commit(session)
    [mail] = mailbox.to("contact@sme.example.cn")
    assert mail["Subject"].startswith("付款未成功：¥5.00 / Payment failed")
    for bad in ("no-at-sign", "a@b", "two words@example.cn", ""):
        with pytest.raises(ValidationFailed):
            notify(
                session,
                bad,
                "payment_failed",
                name="x",
                amount_fen=1,
                description="x",
                payment_id=1,
                reason="x",
            )


def test_template_gaps_fail_inside_the_callers_transaction(session, mail_ctx, create_user):
    user = create_user()
    with pytest.raises(TemplateProblem, match="no e-mail template"):
        notify(session, user, "no_such_template")
    with pytest.raises(TemplateProblem, match="payment_id"):
        notify(session, user, "payment_received", name="x", amount_fen=1, description="x")
    assert rows(session, OutboundEmail, OutboundEmail.user_id == user.id) == []


def test_every_template_composes_with_zh_first():
    context = {
        "name": "张三",
        "amount_fen": 100,
        "paid_fen": 200,
        "refunded_fen": 100,
        "description": "d",
        "payment_id": 1,
        "reason": "r",
        "base_url": "https://voucher.example.cn",
    }
    for template in ("payment_received", "payment_failed", "refund_issued"):
        composed = compose(template, context)
        zh, en = composed.subject.split(" / ")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en)
        first, second = composed.body.split("-" * 40)
        assert "张三" in first and "Dear 张三" in second


@pytest.mark.parametrize(
    ("env", "shows_content"), [("development", True), ("testing", False), ("production", False)]
)
def test_without_smtp_host_the_mail_is_logged(
    session, make_app, create_user, caplog, env, shows_content
):
    """The demo reads its mail on the console; anywhere else the log (shipped, kept) gets the
    Message-ID only, never the address or the body (issue 17, no personal data in logs)."""
    app = make_app(MARKETPLACE_ENV=env)
    user = create_user()
    with app.app_context():
        message = _receipt(session, user)
        with caplog.at_level(logging.INFO, logger="marketplace.notifications.mailer"):
            commit(session)
    [line] = [r.getMessage() for r in caplog.records if "SMTP_HOST unset" in r.getMessage()]
    assert f"outbox-{message.id}-" in line or shows_content
    assert (user.email in line) is shows_content
    assert ("张三" in line or user.display_name in line) is shows_content
    session.refresh(message)
    assert message.status is EmailStatus.SENT


def test_a_failed_delivery_stays_queued_and_the_sweeper_sends_it(
    session, make_app, smtp_server, mailbox, create_user, caplog
):
    user = create_user()
    down = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()))
    with down.app_context():
        message = _receipt(session, user)
        with caplog.at_level(logging.WARNING, logger="marketplace.notifications.services"):
            before = utcnow()
            commit(
                session
            )  # the inline job fails; the committed request is not turned into an error
    [warning] = [r for r in caplog.records if "not delivered" in r.getMessage()]
    assert user.email not in warning.getMessage()  # the log names the outbox row, not the person
    session.refresh(message)
    assert message.status is EmailStatus.QUEUED and mailbox.messages == []
    assert (message.attempts, message.last_error) == (1, "ConnectionRefusedError")
    assert timedelta(seconds=59) < message.next_attempt_at - before < timedelta(seconds=70)

    up = make_app(**smtp_server.config)
    with up.app_context():
        assert requeue_pending(session, now=utcnow()) == 0  # backing off
        assert requeue_pending(session, now=utcnow() + timedelta(minutes=2)) == 1
        commit(session)
    assert len(mailbox.to(user.email)) == 1
    session.refresh(message)
    assert message.status is EmailStatus.SENT and message.next_attempt_at is None


def test_send_pending_command(session, make_app, smtp_server, mailbox, create_user):
    app = make_app(**smtp_server.config)
    user = create_user()
    session.add(
        OutboundEmail(
            to_address=user.email,
            user_id=user.id,
            template="payment_received",
            subject="s / s",
            body="正文\n\nbody",
            created_at=utcnow() - timedelta(hours=1),
        )
    )
    session.flush()
    result = app.test_cli_runner().invoke(args=["notifications", "send-pending"])
    assert result.exit_code == 0, result.output
    assert "1 message(s) queued" in result.output
    [mail] = mailbox.to(user.email)
    assert mail["Subject"] == "s / s"
