"""Taxi dispatch: cabs, ride requests and their event log.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from urbanops.storage.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taxi_vehicles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("thing_id", sa.Integer(), nullable=True),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("position_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("idle_since", UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_taxi_vehicles_thing_id_things"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxi_vehicles")),
        sa.UniqueConstraint("thing_id", name=op.f("uq_taxi_vehicles_thing_id")),
    )  # fmt: skip
    op.create_table(
        "taxi_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rider", sa.String(length=64), nullable=False),
        sa.Column("pickup_lon", sa.Float(), nullable=False),
        sa.Column("pickup_lat", sa.Float(), nullable=False),
        sa.Column("dropoff_lon", sa.Float(), nullable=False),
        sa.Column("dropoff_lat", sa.Float(), nullable=False),
        sa.Column("party_size", sa.SmallInteger(), nullable=False),
        sa.Column("wheelchair", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("vehicle_id", sa.String(length=64), nullable=True),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("declines", sa.SmallInteger(), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("matched_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("picked_up_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["taxi_vehicles.id"],
            name=op.f("fk_taxi_requests_vehicle_id_taxi_vehicles"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_taxi_requests_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxi_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_taxi_requests_idempotency_key")),
    )  # fmt: skip
    op.create_index("ix_taxi_requests_status", "taxi_requests", ["status"])
    op.create_index("ix_taxi_requests_vehicle_id", "taxi_requests", ["vehicle_id"])
    op.create_table(
        "taxi_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=True),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["taxi_requests.id"],
            name=op.f("fk_taxi_events_request_id_taxi_requests"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["taxi_vehicles.id"],
            name=op.f("fk_taxi_events_vehicle_id_taxi_vehicles"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_taxi_events_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxi_events")),
    )  # fmt: skip
    op.create_index("ix_taxi_events_request_id", "taxi_events", ["request_id"])
    op.create_index("ix_taxi_events_vehicle_id", "taxi_events", ["vehicle_id"])


def downgrade() -> None:
    op.drop_table("taxi_events")
    op.drop_table("taxi_requests")
    op.drop_table("taxi_vehicles")
