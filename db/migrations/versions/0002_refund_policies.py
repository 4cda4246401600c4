"""refund policies as versioned data; contract terms on orders; policy snapshot on refunds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Version 1 of each course type's policy: the school's published defaults. Frozen here as data,
# so later changes to domain.policy.DEFAULT_POLICIES never rewrite history.
DEFAULT_TERMS = {
    "trial": {
        "window": "before_start", "window_days": None, "fee_bp": 0,
        "notice_channels": ["inbox", "email"], "outside_window": "reject",
        "manager_confirmation": False, "manager_confirmation_from_fen": None,
        "review_reminder_hours": 24, "review_escalation_hours": 48,
    },
    "regular": {
        "window": "days_after_start", "window_days": 7, "fee_bp": 1000,
        "notice_channels": ["inbox", "email", "sms"], "outside_window": "reject",
        "manager_confirmation": False, "manager_confirmation_from_fen": 500000,
        "review_reminder_hours": 24, "review_escalation_hours": 48,
    },
    "premium": {
        "window": "per_contract", "window_days": None, "fee_bp": None,
        "notice_channels": ["inbox", "email"], "outside_window": "manual_review",
        "manager_confirmation": True, "manager_confirmation_from_fen": None,
        "review_reminder_hours": 24, "review_escalation_hours": 48,
    },
}  # fmt: skip


def upgrade() -> None:
    policies = op.create_table(
        "refund_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("course_type", "version", name="uq_refund_policies_type_version"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        policies,
        [
            {"course_type": course_type, "version": 1, "terms": terms, "created_by": "system", "created_at": now}
            for course_type, terms in DEFAULT_TERMS.items()
        ],
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_refund_deadline", db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("contract_fee_bp", sa.Integer(), nullable=True))

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_fen", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("eligibility", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column("ineligible_reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column("needs_manager_confirmation", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("policy", sa.JSON(), nullable=True))

    # Refunds made before policies were data were judged by version 1 and refunded in full.
    refunds = sa.table(
        "refunds",
        sa.column("course_type", sa.String),
        sa.column("amount_paid_fen", sa.Integer),
        sa.column("requested_fen", sa.Integer),
        sa.column("eligibility", sa.String),
        sa.column("needs_manager_confirmation", sa.Boolean),
        sa.column("policy_version", sa.Integer),
        sa.column("policy", sa.JSON),
    )
    for course_type, terms in DEFAULT_TERMS.items():
        snapshot = {**terms, "course_type": course_type, "version": 1}
        op.execute(
            refunds.update()
            .where(refunds.c.course_type == course_type)
            .values(
                requested_fen=refunds.c.amount_paid_fen,
                eligibility="eligible",
                needs_manager_confirmation=False,
                policy_version=1,
                policy=snapshot,
            )
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        for column, type_ in (
            ("requested_fen", sa.Integer()),
            ("eligibility", sqlmodel.sql.sqltypes.AutoString(length=20)),
            ("needs_manager_confirmation", sa.Boolean()),
            ("policy_version", sa.Integer()),
            ("policy", sa.JSON()),
        ):
            batch_op.alter_column(column, existing_type=type_, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        for column in (
            "policy",
            "policy_version",
            "needs_manager_confirmation",
            "ineligible_reason",
            "eligibility",
            "requested_fen",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("contract_fee_bp")
        batch_op.drop_column("contract_refund_deadline")
    op.drop_table("refund_policies")
