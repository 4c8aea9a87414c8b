"""provider evidence: reviewers decide documents, qualification numbers and related-party
withdrawals changed after the review; one assessment per evaluator and period

Revision ID: 0008b
Revises: 0007
Create Date: 2026-11-23 01:54:36.634177

* ``provider_documents`` gets a review state. Every document already on file counts as
  accepted: it was reviewed with its application (decided at its upload time, by nobody
  recorded).
* ``provider_qualification_changes`` and ``provider_related_party_withdrawals``: requests an
  admitted provider makes, decided by a reviewer (maker-checker, one pending at a time).
* ``provider_assessments`` becomes UNIQUE per (provider, assessor kind, evaluator, period).
  Evaluator names and periods are first normalised as the service now stores them
  (white space runs in names collapsed, periods trimmed and upper-cased); of rows sharing a
  key only the latest
  (``created_at``, then ``id``) is kept, each removed one is written to the audit trail as
  ``provider.assessment_replaced`` (with the values it had), and the affected providers'
  cached credit scores are recomputed with the platform's own formula. A downgrade drops the
  constraint but cannot bring removed rows back; the audit trail keeps them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0008b"
down_revision = "0007"
branch_labels = None
depends_on = None

REVIEW_STATUSES = ("pending", "accepted", "rejected", "superseded")
QUALIFICATION_KINDS = ("cma", "cnas", "patent_agency")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _status(name: str) -> sa.Enum:
    return sa.Enum(
        *REVIEW_STATUSES, name=name, native_enum=False, create_constraint=True, length=18
    )


def _decision_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("requested_by_id", _ID, nullable=True),
        sa.Column("requested_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", _ID, nullable=True),
        sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("id", _ID, nullable=False),
    ]


def _decision_constraints(table: str) -> list[Any]:
    return [
        sa.CheckConstraint(
            "status != 'rejected' OR decision_reason IS NOT NULL",
            name=op.f(f"ck_{table}_rejection_has_reason"),
        ),
        sa.CheckConstraint(
            "status = 'pending' OR decided_at IS NOT NULL",
            name=op.f(f"ck_{table}_decision_has_time"),
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR requested_by_id IS NULL OR decided_by_id != requested_by_id",
            name=op.f(f"ck_{table}_checker_is_not_maker"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f(f"fk_{table}_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f(f"fk_{table}_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f(f"fk_{table}_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _create_request_tables() -> None:
    op.create_table(
        "provider_qualification_changes",
        sa.Column("provider_id", _ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                *QUALIFICATION_KINDS,
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("status", _status("status"), nullable=False),
        *_decision_columns(),
        *_decision_constraints("provider_qualification_changes"),
    )
    with op.batch_alter_table("provider_qualification_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_qualification_changes_provider_id"),
            ["provider_id"],
            unique=False,
        )
        # At most one request per provider and kind awaits a decision.
        batch_op.create_index(
            "uq_provider_qualification_changes_one_pending",
            ["provider_id", "kind"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "provider_related_party_withdrawals",
        sa.Column("provider_id", _ID, nullable=False),
        sa.Column("declaration_id", _ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", _status("status"), nullable=False),
        *_decision_columns(),
        *_decision_constraints("provider_related_party_withdrawals"),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["provider_related_parties.id"],
            name=op.f(
                "fk_provider_related_party_withdrawals_declaration_id_provider_related_parties"
            ),
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("provider_related_party_withdrawals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_related_party_withdrawals_declaration_id"),
            ["declaration_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_provider_related_party_withdrawals_provider_id"),
            ["provider_id"],
            unique=False,
        )
        # At most one request per declaration awaits a decision.
        batch_op.create_index(
            "uq_provider_related_party_withdrawals_one_pending",
            ["declaration_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )


def _review_documents() -> None:
    with op.batch_alter_table("provider_documents", schema=None) as batch_op:
        # Documents on file were reviewed with their application: accepted.
        batch_op.add_column(
            sa.Column(
                "review_status",
                _status("review_status"),
                nullable=False,
                server_default="accepted",
            )
        )
        batch_op.add_column(sa.Column("decided_by_id", _ID, nullable=True))
        batch_op.add_column(
            sa.Column("decided_at", marketplace.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_provider_documents_decided_by_id_users"),
            "users",
            ["decided_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute("UPDATE provider_documents SET decided_at = uploaded_at")
    with op.batch_alter_table("provider_documents", schema=None) as batch_op:
        batch_op.alter_column("review_status", server_default=None)
        batch_op.create_check_constraint(
            batch_op.f("ck_provider_documents_review_status_known"),
            "review_status IN ('pending', 'accepted', 'rejected')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_provider_documents_decision_has_time"),
            "review_status = 'pending' OR decided_at IS NOT NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_provider_documents_rejection_has_reason"),
            "review_status != 'rejected' OR decision_reason IS NOT NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_provider_documents_checker_is_not_maker"),
            "decided_by_id IS NULL OR uploaded_by_id IS NULL OR decided_by_id != uploaded_by_id",
        )


# --------------------------------------------------------------------------- assessments


def evaluator_key(name: str) -> str:
    """As providers.credit.evaluator_key at the time of writing (kept here: a migration must
    not change meaning when the application does)."""
    return " ".join((name or "").split())


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def period_key(period: str) -> str:
    """As providers.rules.normalise_period stores a valid period (2026-h1 → 2026-H1); older
    free-text periods are only trimmed and ASCII-upper-cased, never lengthened."""
    return (period or "").strip().translate(_ASCII_UPPER)


_assessments = sa.table(
    "provider_assessments",
    sa.column("id", _ID),
    sa.column("provider_id", _ID),
    sa.column("assessor_kind", sa.String()),
    sa.column("evaluator_name", sa.String()),
    sa.column("period", sa.String()),
    sa.column("score", sa.Integer()),
    sa.column("comment", sa.Text()),
    sa.column("report_ref", sa.String()),
    sa.column("recorded_by_id", _ID),
    sa.column("created_at", marketplace.db.UTCDateTime(timezone=True)),
)
_audit = sa.table(
    "audit_events",
    sa.column("occurred_at", marketplace.db.UTCDateTime(timezone=True)),
    sa.column("actor_id", _ID),
    sa.column("action", sa.String()),
    sa.column("subject_type", sa.String()),
    sa.column("subject_id", _ID),
    sa.column("detail", sa.JSON()),
)


def _dedupe_assessments() -> None:
    """Normalise keys, keep the latest assessment per key, record the others in the audit
    trail, and recompute the cached credit score of every provider that lost one."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(_assessments).order_by(_assessments.c.id)).mappings().all()
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in rows:
        name, period = evaluator_key(row["evaluator_name"]), period_key(row["period"])
        if (name, period) != (row["evaluator_name"], row["period"]):
            conn.execute(
                sa.update(_assessments)
                .where(_assessments.c.id == row["id"])
                .values(evaluator_name=name, period=period)
            )
        groups[(row["provider_id"], row["assessor_kind"], name, period)].append(row)
    now = datetime.now(UTC)
    affected: set[int] = set()
    for (provider_id, kind, name, period), members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda r: (r["created_at"], r["id"]))
        kept = members[-1]
        for old in members[:-1]:
            conn.execute(
                sa.insert(_audit).values(
                    occurred_at=now,
                    actor_id=None,
                    action="provider.assessment_replaced",
                    subject_type="provider",
                    subject_id=provider_id,
                    detail={
                        "assessment_id": kept["id"],
                        "replaced_assessment_id": old["id"],
                        "assessor_kind": kind,
                        "evaluator_name": name,
                        "period": period,
                        "previous": {
                            "score": old["score"],
                            "comment": old["comment"],
                            "report_ref": old["report_ref"],
                            "recorded_by_id": old["recorded_by_id"],
                            "recorded_at": old["created_at"].isoformat(),
                        },
                        "score": kept["score"],
                        "by": "migration 0008b: one assessment per evaluator and period",
                    },
                )
            )
            conn.execute(sa.delete(_assessments).where(_assessments.c.id == old["id"]))
        affected.add(provider_id)
    for provider_id in sorted(affected):
        _refresh_credit_score(conn, provider_id)


def _refresh_credit_score(conn: sa.Connection, provider_id: int) -> None:
    """The cached score, recomputed by the platform's pure formula from what is in the table
    now (so a duplicate no longer counts)."""
    from providers.credit import CreditInputs, compute_credit_score

    count, total = conn.execute(
        sa.text(
            "SELECT count(*), coalesce(sum(stars), 0) FROM service_ratings WHERE provider_id = :p"
        ),
        {"p": provider_id},
    ).one()
    scores: dict[str, list[int]] = {"administrator": [], "third_party": []}
    for kind, score in conn.execute(
        sa.text("SELECT assessor_kind, score FROM provider_assessments WHERE provider_id = :p"),
        {"p": provider_id},
    ):
        scores[kind].append(int(score))
    events = dict(
        conn.execute(
            sa.text(
                "SELECT kind, count(*) FROM provider_credit_events WHERE provider_id = :p "
                "GROUP BY kind"
            ),
            {"p": provider_id},
        ).all()
    )
    breakdown = compute_credit_score(
        CreditInputs(
            rating_count=int(count),
            rating_total=int(total),
            administrator_scores=tuple(scores["administrator"]),
            third_party_scores=tuple(scores["third_party"]),
            upheld_disputes=int(events.get("upheld_dispute", 0)),
            late_deliveries=int(events.get("late_delivery", 0)),
        )
    )
    conn.execute(
        sa.text("UPDATE providers SET credit_score = :s WHERE id = :p"),
        {"s": breakdown.score, "p": provider_id},
    )


def upgrade() -> None:
    _create_request_tables()
    _review_documents()
    _dedupe_assessments()
    with op.batch_alter_table("provider_assessments", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_provider_assessments_provider_id_assessor_kind_evaluator_name_period"),
            ["provider_id", "assessor_kind", "evaluator_name", "period"],
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_assessments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_provider_assessments_provider_id_assessor_kind_evaluator_name_period"),
            type_="unique",
        )

    with op.batch_alter_table("provider_documents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_provider_documents_checker_is_not_maker"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("ck_provider_documents_rejection_has_reason"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("ck_provider_documents_decision_has_time"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("ck_provider_documents_review_status_known"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_provider_documents_review_status"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_provider_documents_decided_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("decision_reason")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by_id")
        batch_op.drop_column("review_status")

    with op.batch_alter_table("provider_related_party_withdrawals", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_provider_related_party_withdrawals_one_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_provider_related_party_withdrawals_provider_id"))
        batch_op.drop_index(batch_op.f("ix_provider_related_party_withdrawals_declaration_id"))
    op.drop_table("provider_related_party_withdrawals")

    with op.batch_alter_table("provider_qualification_changes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_provider_qualification_changes_one_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_provider_qualification_changes_provider_id"))
    op.drop_table("provider_qualification_changes")
