"""Alerts about a zone, not only a datastream; rules keep their whole scope.

Aggregate rules ("mean apparent temperature of district D above 33") raise alerts whose subject
is a zone or the whole city, so ``alerts.datastream_id`` becomes optional and a ``subject`` key
(``datastream:<id>``, ``zone:<id>``, ``city``) carries the one-open-alert-per-rule-and-subject
guarantee. ``alert_rules.scope`` holds the full scope (e.g. a zone and an observed property).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN_ONLY = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.JSON(), nullable=True))
    op.drop_index("uq_alerts_open", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("zone_id", sa.Integer(), nullable=True))
        batch_op.alter_column("datastream_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            op.f("fk_alerts_zone_id_zones"), "zones", ["zone_id"], ["id"], ondelete="SET NULL"
        )
    op.execute(
        sa.text(
            "UPDATE alerts SET subject = 'datastream:' || CAST(datastream_id AS VARCHAR(20)) "
            "WHERE subject IS NULL"
        )
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=120), nullable=False)
        batch_op.create_index("ix_alerts_zone_id", ["zone_id"], unique=False)
        batch_op.create_index(
            "uq_alerts_open",
            ["rule_id", "subject"],
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        )


def downgrade() -> None:
    # Zone alerts have no datastream: they cannot exist in the older schema.
    op.execute(sa.text("DELETE FROM alerts WHERE datastream_id IS NULL"))
    op.drop_index("uq_alerts_open", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_zone_id")
        batch_op.drop_constraint(op.f("fk_alerts_zone_id_zones"), type_="foreignkey")
        batch_op.drop_column("zone_id")
        batch_op.drop_column("subject")
        batch_op.alter_column("datastream_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_alerts_open",
            ["rule_id", "datastream_id"],
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        )
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_column("scope")
