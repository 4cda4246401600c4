"""audit chain and reports

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 14:05:51.029726
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types
from domain.audit_chain import hash_of


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('improvement_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('root_cause', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('improvement_actions', schema=None) as batch_op:
        batch_op.create_index('ix_improvement_actions_month', ['month', 'category'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    _chain_recorded_events()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.drop_index(batch_op.f('ix_audit_events_case'))
        batch_op.create_unique_constraint('uq_audit_events_case_seq', ['case_type', 'case_id', 'seq'])

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('root_cause', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('root_cause_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('root_cause_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_complaints_received_at', ['received_at'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_paid_at'), ['paid_at'], unique=False)

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.create_index('ix_refunds_requested_at', ['requested_at'], unique=False)



def _chain_recorded_events() -> None:
    """Number and chain the events recorded before the chain existed, per case in the order written."""
    events = sa.table(
        'audit_events',
        sa.column('id', sa.Integer), sa.column('event_key', sa.String), sa.column('case_type', sa.String),
        sa.column('case_id', sa.String), sa.column('event', sa.String), sa.column('actor', sa.String),
        sa.column('from_status', sa.String), sa.column('to_status', sa.String), sa.column('note', sa.String),
        sa.column('detail', sa.JSON), sa.column('at', db.types.UTCDateTime(timezone=True)),
        sa.column('seq', sa.Integer), sa.column('prev_hash', sa.String), sa.column('hash', sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(events).order_by(events.c.case_type, events.c.case_id, events.c.id)
    ).mappings()
    case, seq, prev_hash = None, 0, None
    for row in rows.all():
        if (row['case_type'], row['case_id']) != case:
            case, seq, prev_hash = (row['case_type'], row['case_id']), 0, None
        seq += 1
        chained = {**row, 'seq': seq}
        digest = hash_of(chained, prev_hash)
        connection.execute(
            events.update().where(events.c.id == row['id']).values(seq=seq, prev_hash=prev_hash, hash=digest)
        )
        prev_hash = digest


def downgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_requested_at')
        batch_op.drop_column('reason_code')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_paid_at'))

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_received_at')
        batch_op.drop_column('root_cause_at')
        batch_op.drop_column('root_cause_by')
        batch_op.drop_column('root_cause')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_events_case_seq', type_='unique')
        batch_op.create_index(batch_op.f('ix_audit_events_case'), ['case_type', 'case_id', 'at'], unique=False)
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')

    with op.batch_alter_table('improvement_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_improvement_actions_month')

    op.drop_table('improvement_actions')
