"""complaints

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 08:39:44.302472
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('complaints',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('student_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('order_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('logged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('assigned_to', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('first_response_due_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_responded_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('resolution_summary', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('satisfied', sa.Boolean(), nullable=True),
    sa.Column('sla_breached', sa.Boolean(), nullable=False),
    sa.Column('received_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workflow_id')
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_assigned_to'), ['assigned_to'], unique=False)
        batch_op.create_index('ix_complaints_queue', ['department', 'stage', 'first_response_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_student_id'), ['student_id'], unique=False)

    op.create_table('department_members',
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('department', 'user_id')
    )


def downgrade() -> None:
    op.drop_table('department_members')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_student_id'))
        batch_op.drop_index('ix_complaints_queue')
        batch_op.drop_index(batch_op.f('ix_complaints_assigned_to'))

    op.drop_table('complaints')
