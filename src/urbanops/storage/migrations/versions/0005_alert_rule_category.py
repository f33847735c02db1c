"""Alert rules carry a Smart Data Models category and subCategory (NGSI-LD export).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "category", sa.String(length=30), server_default="environment", nullable=False
            )
        )
        batch_op.add_column(sa.Column("sub_category", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_column("sub_category")
        batch_op.drop_column("category")
