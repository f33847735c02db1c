"""Civic: complaints (Open311 service requests), their history, chat conversations, the
staff-edited knowledge base.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from urbanops.storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "civic_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_notes", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("media_url", sa.String(length=2000), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("device_id", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("jurisdiction_id", sa.String(length=100), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expected_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["civic_requests.id"],
            name=op.f("fk_civic_requests_duplicate_of_civic_requests"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_civic_requests_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_civic_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_civic_requests_token")),
    )  # fmt: skip
    op.create_index("ix_civic_requests_service_code", "civic_requests", ["service_code"])
    op.create_index("ix_civic_requests_status", "civic_requests", ["status"])
    op.create_index("ix_civic_requests_requested_at", "civic_requests", ["requested_at"])
    op.create_table(
        "civic_request_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["civic_requests.id"],
            name=op.f("fk_civic_request_history_request_id_civic_requests"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_civic_request_history_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_civic_request_history")),
    )  # fmt: skip
    op.create_index("ix_civic_request_history_request_id", "civic_request_history", ["request_id"])

    op.create_table(
        "civic_conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["civic_requests.id"],
            name=op.f("fk_civic_conversations_request_id_civic_requests"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_civic_conversations_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_civic_conversations")),
    )  # fmt: skip
    op.create_table(
        "civic_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["civic_conversations.id"],
            name=op.f("fk_civic_messages_conversation_id_civic_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_civic_messages")),
    )  # fmt: skip
    op.create_index("ix_civic_messages_conversation_id", "civic_messages", ["conversation_id"])

    op.create_table(
        "civic_kb_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_civic_kb_rows")),
    )
    op.create_index("ix_civic_kb_rows_answer_id", "civic_kb_rows", ["answer_id"])


def downgrade() -> None:
    op.drop_table("civic_kb_rows")
    op.drop_table("civic_messages")
    op.drop_table("civic_conversations")
    op.drop_table("civic_request_history")
    op.drop_table("civic_requests")
