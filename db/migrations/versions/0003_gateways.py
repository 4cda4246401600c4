"""orders and refunds of the first release's `sandbox` gateway are WeChat Pay's: the sandbox now
speaks the WeChat Pay protocol, and `sandbox` is no longer a gateway of its own

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("orders", "refunds"):
        rows = sa.table(table, sa.column("gateway", sa.String))
        op.execute(rows.update().where(rows.c.gateway == "sandbox").values(gateway="wechatpay"))


def downgrade() -> None:
    """Nothing to undo: WeChat Pay rows stay WeChat Pay rows."""
