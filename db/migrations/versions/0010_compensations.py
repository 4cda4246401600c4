"""compensations

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 10:51:32.011755
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('compensation_quotas',
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('coupon_fen', sa.Integer(), nullable=False),
    sa.Column('progress_resets', sa.Integer(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('role')
    )
    op.create_table('compensations',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('complaint_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('student_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=True),
    sa.Column('order_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('authority', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('decision_note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('failure', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    # The defaults (domain.compensation.DEFAULT_QUOTAS), written out: a migration never changes
    # with the code after it.
    quotas = sa.table(
        'compensation_quotas',
        sa.column('role', sa.String), sa.column('period', sa.String), sa.column('coupon_fen', sa.Integer),
        sa.column('progress_resets', sa.Integer), sa.column('updated_at', db.types.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(quotas, [
        {'role': 'agent', 'period': 'day', 'coupon_fen': 5000, 'progress_resets': 3, 'updated_at': now},
        {'role': 'lead', 'period': 'day', 'coupon_fen': 50000, 'progress_resets': 20, 'updated_at': now},
    ])
    with op.batch_alter_table('compensations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_compensations_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index('ix_compensations_quota', ['requested_by', 'authority', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_compensations_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('compensations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compensations_status'))
        batch_op.drop_index('ix_compensations_quota')
        batch_op.drop_index(batch_op.f('ix_compensations_complaint_id'))

    op.drop_table('compensations')
    op.drop_table('compensation_quotas')
