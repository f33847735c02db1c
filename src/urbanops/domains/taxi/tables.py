"""Tables of the taxi domain (in the shared metadata, created by migration 0010).

A request and its cab change state together in one transaction; a cab's ``version`` is bumped
on every change so that two conflicting updates (a position with a state, two states at once)
cannot both apply: the second one matches no row and is refused with 409.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, SmallInteger, String, Table

from urbanops.storage.tables import _id, metadata
from urbanops.storage.types import UTCDateTime

taxi_vehicles = Table(
    "taxi_vehicles",
    metadata,
    Column("id", String(64), primary_key=True),  # the cab's call sign or plate
    # The Thing whose device key may act for this cab (its in-car terminal)
    Column("thing_id", ForeignKey("things.id", ondelete="SET NULL"), unique=True),
    Column("accessible", Boolean, nullable=False, default=False),
    Column("capacity", SmallInteger, nullable=False, default=4),
    # offline, idle, en_route (matched, driving to the pickup), occupied (rider on board)
    Column("state", String(20), nullable=False, default="offline"),
    Column("lon", Float),
    Column("lat", Float),
    Column("position_at", UTCDateTime()),
    Column("idle_since", UTCDateTime()),
    Column("request_id", Integer),  # the request it serves, if any
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", UTCDateTime(), nullable=False),
)

taxi_requests = Table(
    "taxi_requests",
    metadata,
    _id(),
    Column("rider", String(64), nullable=False),
    Column("pickup_lon", Float, nullable=False),
    Column("pickup_lat", Float, nullable=False),
    Column("dropoff_lon", Float, nullable=False),
    Column("dropoff_lat", Float, nullable=False),
    Column("party_size", SmallInteger, nullable=False, default=1),
    Column("wheelchair", Boolean, nullable=False, default=False),
    Column("priority", Boolean, nullable=False, default=False),  # elderly/disabled/redispatched
    # requested, matched, arriving, on_board, completed, cancelled
    Column("status", String(20), nullable=False, index=True),
    Column("vehicle_id", ForeignKey("taxi_vehicles.id", ondelete="SET NULL"), index=True),
    Column("eta_s", Float),  # pickup ETA when matched
    Column("declines", SmallInteger, nullable=False, default=0),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("matched_at", UTCDateTime()),
    Column("picked_up_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("idempotency_key", String(100), unique=True),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
)

taxi_events = Table(
    "taxi_events",
    metadata,
    _id(),
    Column("at", UTCDateTime(), nullable=False),
    # matched, arriving, on_board, completed, cancelled, declined, state
    Column("kind", String(20), nullable=False),
    Column("request_id", ForeignKey("taxi_requests.id", ondelete="CASCADE"), index=True),
    Column("vehicle_id", ForeignKey("taxi_vehicles.id", ondelete="CASCADE"), index=True),
    Column("reason", String(30)),  # decline reason code
    Column("eta_s", Float),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
)
