"""Parking: sites, bays, reservations; no two live reservations of a bay may overlap.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from urbanops.storage.types import Geometry, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LIVE = "('reserved', 'active')"


def upgrade() -> None:
    op.create_table(
        "parking_sites",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("geometry", Geometry(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_sites")),
    )
    op.create_table(
        "parking_bays",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("site_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("tariff_krw_per_30min", sa.Integer(), nullable=False),
        sa.Column("owner_share_pct", sa.SmallInteger(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=True),
        sa.Column("closed_dates", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("datastream_id", sa.Integer(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["parking_sites.id"],
            name=op.f("fk_parking_bays_site_id_parking_sites"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_parking_bays_datastream_id_datastreams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_bays")),
    )
    op.create_index("ix_parking_bays_site_id", "parking_bays", ["site_id"])
    op.create_index("ix_parking_bays_datastream_id", "parking_bays", ["datastream_id"])
    op.create_index("ix_parking_bays_lat_lon", "parking_bays", ["lat", "lon"])
    op.create_table(
        "parking_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bay_id", sa.String(length=255), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("price_krw", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bay_id"],
            ["parking_bays.id"],
            name=op.f("fk_parking_reservations_bay_id_parking_bays"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_parking_reservations_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_reservations")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_parking_reservations_idempotency_key")
        ),
        sa.CheckConstraint("end_at > start_at", name="ck_parking_reservations_positive"),
    )
    op.create_index("ix_parking_reservations_bay_id", "parking_reservations", ["bay_id"])
    op.create_index(
        "ix_parking_reservations_bay_time", "parking_reservations", ["bay_id", "start_at", "end_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE parking_reservations ADD CONSTRAINT ex_parking_reservations_overlap "
            "EXCLUDE USING gist (bay_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            f"WHERE (status IN {LIVE})"
        )
    else:
        for event, when in (
            ("INSERT", "NEW.status IN " + LIVE),
            ("UPDATE", "NEW.status IN " + LIVE),
        ):
            op.execute(
                f"CREATE TRIGGER tr_parking_reservations_overlap_{event.lower()} "
                f"BEFORE {event} ON parking_reservations FOR EACH ROW WHEN {when} BEGIN "
                "SELECT RAISE(ABORT, 'parking reservation overlap') WHERE EXISTS ("
                "SELECT 1 FROM parking_reservations r WHERE r.bay_id = NEW.bay_id "
                f"AND r.id IS NOT NEW.id AND r.status IN {LIVE} "
                "AND r.start_at < NEW.end_at AND NEW.start_at < r.end_at); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tr_parking_reservations_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS tr_parking_reservations_overlap_update")
    op.drop_table("parking_reservations")
    op.drop_table("parking_bays")
    op.drop_table("parking_sites")
