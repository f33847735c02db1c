"""Parking: sessions from occupancy sensors, a double-entry ledger, processing state.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from urbanops.storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parking_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bay_id", sa.String(length=255), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("charge_krw", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bay_id"], ["parking_bays.id"], name=op.f("fk_parking_sessions_bay_id_parking_bays"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"], ["parking_reservations.id"],
            name=op.f("fk_parking_sessions_reservation_id_parking_reservations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_sessions")),
    )  # fmt: skip
    op.create_index("ix_parking_sessions_bay_id", "parking_sessions", ["bay_id"])
    op.create_index("ix_parking_sessions_reservation_id", "parking_sessions", ["reservation_id"])
    op.create_table(
        "parking_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txn", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("amount_krw", sa.Integer(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["parking_sessions.id"],
            name=op.f("fk_parking_ledger_session_id_parking_sessions"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_ledger")),
    )  # fmt: skip
    op.create_index("ix_parking_ledger_txn", "parking_ledger", ["txn"])
    op.create_index("ix_parking_ledger_account", "parking_ledger", ["account"])
    op.create_table(
        "parking_state",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_parking_state")),
    )


def downgrade() -> None:
    op.drop_table("parking_state")
    op.drop_table("parking_ledger")
    op.drop_table("parking_sessions")
