"""The audit trail's export reads the same trail as the pages: the export builds its rows from
one SQL statement (names as correlated subqueries, the time as Beijing-time text made by the
database) for speed, the pages from ``readable``; every cell of every row must agree, in both
languages, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.audit.services import record
from marketplace.disclosure import audit_trail
from marketplace.enums import Role
from marketplace.orders.enums import OrderStatus


def _page_rows(session, stmt, lang):
    """The export's columns as the pages' read model gives them."""
    events = session.scalars(stmt.order_by(AuditEvent.id)).all()
    return [
        [
            e.id,
            e.time_text,
            e.actor_name,
            e.actor_role,
            e.client_address,
            e.action_label,
            e.action,
            e.subject_label,
            "; ".join(f"{c.field}: {c.before} → {c.after}" for c in e.changes),
            "; ".join(f"{k}={v}" for k, v in e.details),
            "✓" if e.sealed else "",
        ]
        for e in audit_trail.readable(session, events, lang)
    ]


def test_the_export_says_what_the_pages_say(orders_ctx, session, create_order, create_user):
    # A real order's life writes records about vouchers, orders, enterprises, providers,
    # programmes, payments … each named its own way.
    order = create_order(status=OrderStatus.CONFIRMED)
    reviewer = create_user(Role.REVIEWER, display_name="李审核")
    record(
        session,
        "provider.suspend",
        actor_id=reviewer.id,
        subject_type="provider",
        subject_id=order.provider_id,
        from_status="admitted",
        to_status="suspended",
    )
    record(
        session,
        "enterprise.blacklisted",
        actor_id=reviewer.id,
        subject_type="enterprise",
        subject_id=None,
        before={"blacklisted": False},
        after={"blacklisted": True},
        reason="失信",
    )
    record(session, "thing.happened", actor_id=None, subject_type="thing", subject_id=5)
    # The last microsecond of a second: truncated to 06:05:09 (14:05:09 in Beijing) everywhere.
    late = record(session, "voucher.expired", actor_id=None, subject_type="voucher", subject_id=1)
    late.occurred_at = datetime(2026, 3, 1, 6, 5, 9, 999_999, tzinfo=UTC)
    session.flush()
    # Some records sealed into the chain, the latest one not.
    chain.seal(session)
    record(session, "order.updated", actor_id=reviewer.id, subject_type="order", subject_id=1)
    session.flush()

    stmt = audit_trail.from_query({})
    kinds = set(session.scalars(sa.select(AuditEvent.subject_type).distinct()))
    assert {"voucher", "order", "enterprise", "provider", "thing"} <= kinds
    for lang in ("zh", "en"):
        exported = list(audit_trail.export_rows(session, stmt, lang))
        assert exported == _page_rows(session, stmt, lang)
        assert len(exported) > 10
        assert {row[10] for row in exported} == {"", "✓"}
        assert any(" · " in row[7] for row in exported)  # names came through
    by_action = {row[6]: row for row in audit_trail.export_rows(session, stmt, "zh")}
    assert by_action["voucher.expired"][1] == "2026-03-01 14:05:09"
    assert by_action["enterprise.blacklisted"][2] == "李审核"
    assert by_action["thing.happened"][2] == "系统"


def test_the_export_keeps_the_screens_filters(orders_ctx, session, create_order):
    order = create_order(status=OrderStatus.CONFIRMED)
    late = record(session, "voucher.expired", actor_id=None, subject_type="voucher", subject_id=1)
    late.occurred_at = datetime(2020, 1, 1, tzinfo=UTC)
    session.flush()
    since = audit_trail.from_query({"since": datetime(2021, 1, 1, tzinfo=UTC)})
    rows = list(audit_trail.export_rows(session, since, "zh"))
    assert rows and "voucher.expired" not in {row[6] for row in rows}
    for_order = audit_trail.from_query({"order_id": order.id})
    assert [row[0] for row in audit_trail.export_rows(session, for_order, "en")] == list(
        session.scalars(for_order.with_only_columns(AuditEvent.id).order_by(AuditEvent.id))
    )
