"""Tables of the parking domain (in the shared metadata, created by migration 0008).

Overlapping live reservations of one bay are forbidden by the database itself: an exclusion
constraint on PostgreSQL (``btree_gist``), triggers on SQLite (which serialises writers), both
created by the migration.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, SmallInteger, String, Table, Text

from urbanops.storage.tables import _id, metadata
from urbanops.storage.types import Geometry, UTCDateTime

parking_sites = Table(
    "parking_sites",
    metadata,
    Column("id", String(255), primary_key=True),  # the NGSI-LD entity id when imported
    Column("name", String(255), nullable=False),
    Column("kind", String(30), nullable=False, default="lot"),
    Column("geometry", Geometry()),
    Column("properties", JSON),
)

parking_bays = Table(
    "parking_bays",
    metadata,
    Column("id", String(255), primary_key=True),  # the NGSI-LD entity id when imported
    Column("site_id", ForeignKey("parking_sites.id", ondelete="SET NULL"), index=True),
    Column("name", String(255), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("owner", String(255)),
    Column("tariff_krw_per_30min", Integer, nullable=False),
    Column("owner_share_pct", SmallInteger, nullable=False),
    # Sharing windows: [{"days": [0..6], "start": "09:00", "end": "18:00"}]; null = always
    Column("windows", JSON),
    Column("closed_dates", JSON),  # ["2026-12-25", ...] local dates with no sharing
    Column("status", String(20), nullable=False, default="unknown"),
    Column("status_at", UTCDateTime()),
    Column("datastream_id", ForeignKey("datastreams.id", ondelete="SET NULL"), index=True),
    Column("properties", JSON),
)

parking_reservations = Table(
    "parking_reservations",
    metadata,
    _id(),
    Column("bay_id", ForeignKey("parking_bays.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("start_at", UTCDateTime(), nullable=False),
    Column("end_at", UTCDateTime(), nullable=False),
    # reserved, cancelled (live: reserved only; sessions will add active/completed/no_show)
    Column("status", String(20), nullable=False),
    Column("price_krw", Integer, nullable=False),
    Column("idempotency_key", String(100), unique=True),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("note", Text),
)

parking_sessions = Table(
    "parking_sessions",
    metadata,
    _id(),
    Column("bay_id", ForeignKey("parking_bays.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("start_at", UTCDateTime(), nullable=False),
    Column("end_at", UTCDateTime()),
    Column(
        "reservation_id", ForeignKey("parking_reservations.id", ondelete="SET NULL"), index=True
    ),
    Column("charge_krw", Integer),
)

# Double-entry ledger: the entries of one ``txn`` sum to zero. Accounts: ``driver:r<id>`` (what a
# reservation's driver owes), ``owner:<name>`` (the owner's share), ``platform`` (the rest).
parking_ledger = Table(
    "parking_ledger",
    metadata,
    _id(),
    Column("txn", String(64), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("account", String(255), nullable=False, index=True),
    Column("amount_krw", Integer, nullable=False),  # debit > 0, credit < 0
    Column("memo", Text, nullable=False),
    Column("session_id", ForeignKey("parking_sessions.id", ondelete="SET NULL")),
)

# Where the occupancy processing stands: the last observation id read, and per bay the state
# a sensor has reported but that has not yet lasted the debounce time.
parking_state = Table(
    "parking_state",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", JSON, nullable=False),
)
