"""reviewer routing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    groups = op.create_table('reviewer_groups',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('reviewer_group_members',
    sa.Column('group_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['reviewer_groups.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('group_id', 'user_id')
    )
    rules = op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('group_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('course_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('min_amount_fen', sa.Integer(), nullable=True),
    sa.Column('vip_only', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['reviewer_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('priority')
    )
    # Default routing, editable data: VIP students first, then premium and high-value refunds, then
    # by course type; members are people, added per school (the dev seed adds its reviewer).
    op.bulk_insert(groups, [
        {"id": "vip-desk", "name": "VIP 学员服务"},
        {"id": "premium-courses", "name": "高端课程与大额退款"},
        {"id": "regular-courses", "name": "系统正价课"},
        {"id": "trial-courses", "name": "体验课"},
    ])
    op.bulk_insert(rules, [
        {"priority": 10, "group_id": "vip-desk", "course_type": None, "min_amount_fen": None, "vip_only": True},
        {"priority": 20, "group_id": "premium-courses", "course_type": "premium", "min_amount_fen": None, "vip_only": False},
        {"priority": 30, "group_id": "premium-courses", "course_type": None, "min_amount_fen": 500000, "vip_only": False},
        {"priority": 40, "group_id": "regular-courses", "course_type": "regular", "min_amount_fen": None, "vip_only": False},
        {"priority": 50, "group_id": "trial-courses", "course_type": "trial", "min_amount_fen": None, "vip_only": False},
        {"priority": 100, "group_id": "regular-courses", "course_type": None, "min_amount_fen": None, "vip_only": False},
    ])
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_group', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('assigned_reviewer_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_due_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_refunds_assigned_reviewer_id'), ['assigned_reviewer_id'], unique=False)
        batch_op.create_index('ix_refunds_queue', ['status', 'review_group', 'review_due_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_vip', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_vip')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_queue')
        batch_op.drop_index(batch_op.f('ix_refunds_assigned_reviewer_id'))
        batch_op.drop_column('review_due_at')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('assigned_reviewer_id')
        batch_op.drop_column('review_group')

    op.drop_table('routing_rules')
    op.drop_table('reviewer_group_members')
    op.drop_table('reviewer_groups')
