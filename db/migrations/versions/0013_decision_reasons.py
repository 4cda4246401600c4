"""decision reasons

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 12:15:15.441897
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('decision_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decision_reasons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_reasons_decision'), ['decision'], unique=False)

    # The reasons the console offered before the list could be edited, written out as data.
    reasons = sa.table(
        'decision_reasons',
        sa.column('decision', sa.String), sa.column('text', sa.String), sa.column('position', sa.Integer),
        sa.column('is_active', sa.Boolean), sa.column('created_at', db.types.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(reasons, [
        {'decision': decision, 'text': text, 'position': position, 'is_active': True, 'created_at': now}
        for decision, texts in (
            ('approve', ('符合退款政策', '课程体验问题，同意退款', '学员特殊情况，同意退款')),
            ('reject', ('已超过退款期限', '课程已学习过半，不符合退款条件', '订单信息与申请不符')),
        )
        for position, text in enumerate(texts, start=1)
    ])



def downgrade() -> None:
    with op.batch_alter_table('decision_reasons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_reasons_decision'))

    op.drop_table('decision_reasons')
