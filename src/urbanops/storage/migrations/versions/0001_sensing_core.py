"""Sensing core: SensorThings entities, zones and API keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import urbanops.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


GEOMETRY_COLUMNS = [
    ("locations", "location"),
    ("features_of_interest", "feature"),
    ("datastreams", "observed_area"),
    ("zones", "geometry"),
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("encoding_type", sa.String(length=100), nullable=False),
        sa.Column("location", urbanops.storage.types.Geometry(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    op.create_table(
        "observed_properties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("definition", sa.String(length=1000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_properties")),
    )
    op.create_table(
        "sensors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("encoding_type", sa.String(length=100), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensors")),
    )
    op.create_table(
        "things",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_things")),
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=True),
        sa.Column("geometry", urbanops.storage.types.Geometry(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
        sa.UniqueConstraint("kind", "name", name="uq_zones_kind_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("thing_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", urbanops.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["things.id"],
            name=op.f("fk_api_keys_thing_id_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "datastreams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("observation_type", sa.String(length=255), nullable=False),
        sa.Column("unit_of_measurement", sa.JSON(), nullable=False),
        sa.Column("observed_area", urbanops.storage.types.Geometry(), nullable=True),
        sa.Column(
            "phenomenon_time_start",
            urbanops.storage.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "phenomenon_time_end", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "result_time_start", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "result_time_end", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("observed_property_id", sa.Integer(), nullable=False),
        sa.Column(
            "last_observation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "last_observation_time",
            urbanops.storage.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("last_value_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["observed_property_id"],
            ["observed_properties.id"],
            name=op.f("fk_datastreams_observed_property_id_observed_properties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f("fk_datastreams_sensor_id_sensors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["things.id"],
            name=op.f("fk_datastreams_thing_id_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datastreams")),
    )
    with op.batch_alter_table("datastreams", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_datastreams_observed_property_id"),
            ["observed_property_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_datastreams_sensor_id"), ["sensor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_datastreams_thing_id"), ["thing_id"], unique=False)

    op.create_table(
        "features_of_interest",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("encoding_type", sa.String(length=100), nullable=False),
        sa.Column("feature", urbanops.storage.types.Geometry(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.Column("source_location_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_location_id"],
            ["locations.id"],
            name=op.f("fk_features_of_interest_source_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features_of_interest")),
    )
    with op.batch_alter_table("features_of_interest", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_features_of_interest_source_location_id"),
            ["source_location_id"],
            unique=False,
        )

    op.create_table(
        "historical_locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("time", urbanops.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["things.id"],
            name=op.f("fk_historical_locations_thing_id_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_historical_locations")),
    )
    with op.batch_alter_table("historical_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_historical_locations_thing_id"), ["thing_id"], unique=False
        )

    op.create_table(
        "thing_locations",
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_thing_locations_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["things.id"],
            name=op.f("fk_thing_locations_thing_id_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thing_id", "location_id", name=op.f("pk_thing_locations")),
    )
    with op.batch_alter_table("thing_locations", schema=None) as batch_op:
        batch_op.create_index("ix_thing_locations_location", ["location_id"], unique=False)

    op.create_table(
        "historical_location_locations",
        sa.Column("historical_location_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["historical_location_id"],
            ["historical_locations.id"],
            name=op.f(
                "fk_historical_location_locations_historical_location_id_historical_locations"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_historical_location_locations_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "historical_location_id", "location_id", name=op.f("pk_historical_location_locations")
        ),
    )
    with op.batch_alter_table("historical_location_locations", schema=None) as batch_op:
        batch_op.create_index("ix_hll_location", ["location_id"], unique=False)

    op.create_table(
        "observations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("datastream_id", sa.Integer(), nullable=False),
        sa.Column("feature_of_interest_id", sa.Integer(), nullable=True),
        sa.Column(
            "phenomenon_time_start",
            urbanops.storage.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "phenomenon_time_end", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("result_time", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result_kind", sa.SmallInteger(), nullable=False),
        sa.Column("result_number", sa.Float(), nullable=True),
        sa.Column("result_string", sa.Text(), nullable=True),
        sa.Column("result_json", sa.JSON(), nullable=True),
        sa.Column("result_quality", sa.JSON(), nullable=True),
        sa.Column(
            "valid_time_start", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "valid_time_end", urbanops.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_observations_datastream_id_datastreams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feature_of_interest_id"],
            ["features_of_interest.id"],
            name=op.f("fk_observations_feature_of_interest_id_features_of_interest"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint(
            "datastream_id", "phenomenon_time_start", name="uq_observations_stream_time"
        ),
    )
    if postgres:
        for table, column in GEOMETRY_COLUMNS:
            op.execute(f"CREATE INDEX ix_{table}_{column}_gist ON {table} USING GIST ({column})")


def downgrade() -> None:
    op.drop_table("observations")
    with op.batch_alter_table("historical_location_locations", schema=None) as batch_op:
        batch_op.drop_index("ix_hll_location")

    op.drop_table("historical_location_locations")
    with op.batch_alter_table("thing_locations", schema=None) as batch_op:
        batch_op.drop_index("ix_thing_locations_location")

    op.drop_table("thing_locations")
    with op.batch_alter_table("historical_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_historical_locations_thing_id"))

    op.drop_table("historical_locations")
    with op.batch_alter_table("features_of_interest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_features_of_interest_source_location_id"))

    op.drop_table("features_of_interest")
    with op.batch_alter_table("datastreams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datastreams_thing_id"))
        batch_op.drop_index(batch_op.f("ix_datastreams_sensor_id"))
        batch_op.drop_index(batch_op.f("ix_datastreams_observed_property_id"))

    op.drop_table("datastreams")
    op.drop_table("api_keys")
    op.drop_table("zones")
    op.drop_table("things")
    op.drop_table("sensors")
    op.drop_table("observed_properties")
    op.drop_table("locations")
