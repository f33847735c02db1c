"""Live data plane: dead letters and counters of ingest.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import urbanops.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_counters",
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("readings_stored", sa.BigInteger(), nullable=False),
        sa.Column("readings_duplicate", sa.BigInteger(), nullable=False),
        sa.Column("dead_letters", sa.BigInteger(), nullable=False),
        sa.Column(
            "last_message_at", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_ingest_counters")),
    )
    op.create_table(
        "ingest_dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", urbanops.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("topic", sa.String(length=1024), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_dead_letters")),
        sa.UniqueConstraint("message_key", name=op.f("uq_ingest_dead_letters_message_key")),
    )
    with op.batch_alter_table("ingest_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_dead_letters_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_dead_letters_received_at"))

    op.drop_table("ingest_dead_letters")
    op.drop_table("ingest_counters")
