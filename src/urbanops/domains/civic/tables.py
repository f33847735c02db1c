"""Tables of the civic domain (created by migration 0011): complaints and their history."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, String, Table, Text

from urbanops.storage.tables import _id, metadata
from urbanops.storage.types import UTCDateTime

civic_requests = Table(
    "civic_requests",
    metadata,
    _id(),
    Column("token", String(36), nullable=False, unique=True),
    Column("service_code", String(64), nullable=False, index=True),
    # received, assigned, in_progress, resolved, closed, duplicate, rejected
    Column("status", String(20), nullable=False, index=True),
    Column("status_notes", Text),
    Column("description", Text),
    Column("lat", Float),
    Column("lon", Float),
    Column("address", String(500)),
    Column("department", String(200)),
    Column("media_url", String(2000)),
    # Personal data: kept for the case, never in Open311 answers, logs or exports
    Column("email", String(320)),
    Column("phone", String(64)),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("device_id", String(200)),
    Column("account_id", String(200)),
    Column("jurisdiction_id", String(100)),
    Column("duplicate_of", ForeignKey("civic_requests.id", ondelete="SET NULL")),
    Column("requested_at", UTCDateTime(), nullable=False, index=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("expected_at", UTCDateTime()),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
)

civic_request_history = Table(
    "civic_request_history",
    metadata,
    _id(),
    Column(
        "request_id",
        ForeignKey("civic_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("note", Text),
    Column("department", String(200)),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
)

civic_conversations = Table(
    "civic_conversations",
    metadata,
    Column("id", String(36), primary_key=True),  # a random UUID handed to the resident
    Column("lang", String(2), nullable=False),
    # chat, report (collecting a complaint), handoff (waiting for staff)
    Column("state", String(20), nullable=False),
    Column("draft", JSON),  # the complaint being collected
    Column("request_id", ForeignKey("civic_requests.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
)

civic_messages = Table(
    "civic_messages",
    metadata,
    _id(),
    Column(
        "conversation_id",
        ForeignKey("civic_conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("role", String(10), nullable=False),  # resident, bot
    Column("kind", String(20), nullable=False),
    Column("text", Text, nullable=False),  # personal data masked
)

civic_kb_rows = Table(
    "civic_kb_rows",
    metadata,
    _id(),  # file order
    Column("answer_id", String(64), nullable=False, index=True),
    Column("lang", String(2), nullable=False),
    Column("question", String(500), nullable=False),
    Column("answer", Text, nullable=False),
    Column("category", String(64), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
