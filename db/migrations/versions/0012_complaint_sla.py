"""complaint SLA terms: the table admins edit, seeded with the source articles' defaults

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 11:27:48.161491
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('complaint_sla_terms',
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('business_hours_only', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('category')
    )
    # The defaults (domain.complaints.DEFAULT_SLA), written out: a migration never changes with the
    # code after it.
    terms = sa.table(
        'complaint_sla_terms',
        sa.column('category', sa.String), sa.column('first_response_minutes', sa.Integer),
        sa.column('resolution_minutes', sa.Integer), sa.column('department', sa.String),
        sa.column('business_hours_only', sa.Boolean),
        sa.column('updated_at', db.types.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(terms, [
        {'category': 'technical', 'first_response_minutes': 10, 'resolution_minutes': 120,
         'department': 'tech_support', 'business_hours_only': False, 'updated_at': now},
        {'category': 'course_content', 'first_response_minutes': 30, 'resolution_minutes': 1440,
         'department': 'academic', 'business_hours_only': False, 'updated_at': now},
        {'category': 'service_fees', 'first_response_minutes': 60, 'resolution_minutes': 2880,
         'department': 'customer_service', 'business_hours_only': False, 'updated_at': now},
    ])


def downgrade() -> None:
    op.drop_table('complaint_sla_terms')
