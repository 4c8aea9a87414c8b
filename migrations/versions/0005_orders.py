"""orders, their history, invoices and disputes (merges the vouchers, providers and payments heads)

Revision ID: 0005
Revises: 0002, 0003, 0004
Create Date: 2026-11-22 22:42:49.538172
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0005"
down_revision = ("0002", "0003", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "service_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "quoted",
                "declined",
                "agreed",
                "paid",
                "delivered",
                "disputed",
                "confirmed",
                "claimed",
                "claim_approved",
                "paid_out",
                "settled",
                "cancelled",
                "refunded",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("request_note", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("quote_note", sa.Text(), nullable=True),
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("voucher_part_fen", sa.BigInteger(), nullable=False),
        sa.Column("co_payment_fen", sa.BigInteger(), nullable=True),
        sa.Column(
            "agreement_accepted_at", marketplace.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("paid_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivery_note", sa.Text(), nullable=True),
        sa.Column("report_path", sa.String(length=300), nullable=True),
        sa.Column("report_filename", sa.String(length=255), nullable=True),
        sa.Column("confirm_by", sa.Date(), nullable=True),
        sa.Column("confirmed_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("report_content_type", sa.String(length=40), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("refund_due_fen", sa.BigInteger(), nullable=False),
        sa.Column("price_reduction_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "co_payment_fen IS NULL OR (price_fen IS NOT NULL AND co_payment_fen = price_fen - voucher_part_fen)",
            name=op.f("ck_orders_co_payment_is_the_rest"),
        ),
        sa.CheckConstraint(
            "price_fen IS NULL OR price_fen > 0", name=op.f("ck_orders_price_positive")
        ),
        sa.CheckConstraint(
            "price_fen IS NULL OR voucher_part_fen <= price_fen",
            name=op.f("ck_orders_voucher_part_within_price"),
        ),
        sa.CheckConstraint(
            "price_reduction_fen >= 0", name=op.f("ck_orders_price_reduction_non_negative")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_orders_quantity_positive")),
        sa.CheckConstraint("refund_due_fen >= 0", name=op.f("ck_orders_refund_due_non_negative")),
        sa.CheckConstraint(
            "voucher_part_fen >= 0", name=op.f("ck_orders_voucher_part_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_orders_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["voucher_holds.id"],
            name=op.f("fk_orders_hold_id_voucher_holds"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_orders_provider_id_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_orders_service_id_services"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_orders_voucher_id_vouchers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_orders_hold_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_service_id"), ["service_id"], unique=False)
        batch_op.create_index("ix_orders_status_confirm_by", ["status", "confirm_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_voucher_id"), ["voucher_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("buyer_taxpayer_id", sa.String(length=20), nullable=False),
        sa.Column("seller_taxpayer_id", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_invoices_amount_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_invoices_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("code", "number", name=op.f("uq_invoices_code_number")),
        sa.UniqueConstraint("order_id", name=op.f("uq_invoices_order_id")),
    )
    op.create_table(
        "order_disputes",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "dismissed",
                "upheld_partial",
                "upheld_full",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column(
            "opened_from",
            sa.Enum(
                "requested",
                "quoted",
                "declined",
                "agreed",
                "paid",
                "delivered",
                "disputed",
                "confirmed",
                "claimed",
                "claim_approved",
                "paid_out",
                "settled",
                "cancelled",
                "refunded",
                name="opened_from",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "opened_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("opened_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "mediator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("voucher_restored_fen", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'open' AND decided_at IS NULL) OR (status <> 'open' AND decided_at IS NOT NULL)",
            name=op.f("ck_order_disputes_decision_consistent"),
        ),
        sa.CheckConstraint(
            "refund_fen >= 0 AND voucher_restored_fen >= 0",
            name=op.f("ck_order_disputes_remedy_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["mediator_id"],
            ["users.id"],
            name=op.f("fk_order_disputes_mediator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["users.id"],
            name=op.f("fk_order_disputes_opened_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_disputes_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_disputes")),
        sa.UniqueConstraint("order_id", name=op.f("uq_order_disputes_order_id")),
    )
    with op.batch_alter_table("order_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_disputes_status"), ["status"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "actor",
            sa.Enum(
                "enterprise",
                "provider",
                "reviewer",
                "finance",
                "system",
                name="actor",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "quote",
                "decline",
                "accept",
                "pay",
                "deliver",
                "confirm",
                "auto_confirm",
                "dispute",
                "dismiss_dispute",
                "uphold_partial",
                "uphold_full",
                "claim",
                "reject_claim",
                "approve_claim",
                "pay_out",
                "payout_failed",
                "settle",
                "cancel",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "requested",
                "quoted",
                "declined",
                "agreed",
                "paid",
                "delivered",
                "disputed",
                "confirmed",
                "claimed",
                "claim_approved",
                "paid_out",
                "settled",
                "cancelled",
                "refunded",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "requested",
                "quoted",
                "declined",
                "agreed",
                "paid",
                "delivered",
                "disputed",
                "confirmed",
                "claimed",
                "claim_approved",
                "paid_out",
                "settled",
                "cancelled",
                "refunded",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=22,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_order_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_dispute_documents",
        sa.Column(
            "dispute_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "party",
            sa.Enum(
                "enterprise",
                "provider",
                "reviewer",
                "finance",
                "system",
                name="party",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column(
            "uploaded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["order_disputes.id"],
            name=op.f("fk_order_dispute_documents_dispute_id_order_disputes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_order_dispute_documents_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_dispute_documents")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_order_dispute_documents_stored_name")),
    )
    with op.batch_alter_table("order_dispute_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_dispute_documents_dispute_id"), ["dispute_id"], unique=False
        )

    op.create_table(
        "order_dispute_messages",
        sa.Column(
            "dispute_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "party",
            sa.Enum(
                "enterprise",
                "provider",
                "reviewer",
                "finance",
                "system",
                name="party",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_order_dispute_messages_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["order_disputes.id"],
            name=op.f("fk_order_dispute_messages_dispute_id_order_disputes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_dispute_messages")),
    )
    with op.batch_alter_table("order_dispute_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_dispute_messages_dispute_id"), ["dispute_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_dispute_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_dispute_messages_dispute_id"))

    op.drop_table("order_dispute_messages")
    with op.batch_alter_table("order_dispute_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_dispute_documents_dispute_id"))

    op.drop_table("order_dispute_documents")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id"))

    op.drop_table("order_events")
    with op.batch_alter_table("order_disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_disputes_status"))

    op.drop_table("order_disputes")
    op.drop_table("invoices")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_voucher_id"))
        batch_op.drop_index("ix_orders_status_confirm_by")
        batch_op.drop_index(batch_op.f("ix_orders_service_id"))
        batch_op.drop_index(batch_op.f("ix_orders_provider_id"))
        batch_op.drop_index(batch_op.f("ix_orders_enterprise_id"))

    op.drop_table("orders")
