"""notice preferences

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 08:12:06.008499
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('muted_channels', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('wechat_openid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('wechat_openid')
        batch_op.drop_column('muted_channels')

