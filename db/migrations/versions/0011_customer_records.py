"""customer records: customers known only by phone or WeChat (email and password optional), the
Official Account openid, merged records, and the intake channels' delivery log

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 10:57:34.891835
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('intake_messages',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('student_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('complaint_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('received_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_messages_complaint_id'), ['complaint_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wechat_oa_openid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('merged_into', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=254),
               nullable=True)
        batch_op.alter_column('password_hash',
               existing_type=sa.VARCHAR(length=255),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_users_merged_into'), ['merged_into'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_wechat_oa_openid'), ['wechat_oa_openid'], unique=True)
        batch_op.create_index(batch_op.f('ix_users_wechat_openid'), ['wechat_openid'], unique=False)
        batch_op.create_foreign_key('fk_users_merged_into_users', 'users', ['merged_into'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('fk_users_merged_into_users', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_wechat_openid'))
        batch_op.drop_index(batch_op.f('ix_users_wechat_oa_openid'))
        batch_op.drop_index(batch_op.f('ix_users_phone'))
        batch_op.drop_index(batch_op.f('ix_users_merged_into'))
        # Fails while customers without an email or a password exist: they cannot go back.
        batch_op.alter_column('password_hash',
               existing_type=sa.VARCHAR(length=255),
               nullable=False)
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=254),
               nullable=False)
        batch_op.drop_column('merged_into')
        batch_op.drop_column('wechat_oa_openid')

    with op.batch_alter_table('intake_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_messages_complaint_id'))

    op.drop_table('intake_messages')
