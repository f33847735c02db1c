"""Tables of the core: the SensorThings sensing model, zones and API keys.

Table names are plain STA entity names in snake case. Domains add their own tables, prefixed with
the domain name (``parking_*``), to the same :data:`metadata` so Alembic sees them.

Two queries are hot and the schema is shaped for them:

* *latest observation per datastream* is served by ``datastreams.last_value_json``, a copy of the
  newest observation kept by the write path, so the dashboard's read of 10,000 datastreams
  scans one small table;
* *one datastream over a time range* is served by the unique index
  ``(datastream_id, phenomenon_time_start)``, which also makes writes idempotent.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from urbanops.storage.types import Geometry, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

#: Kinds of observation result, stored in ``observations.result_kind``.
RESULT_NUMBER, RESULT_STRING, RESULT_BOOL, RESULT_JSON = 0, 1, 2, 3


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


things = Table(
    "things",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("properties", JSON),
    Column("is_public", Boolean, nullable=False, default=False),
)

locations = Table(
    "locations",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("encoding_type", String(100), nullable=False, default="application/geo+json"),
    Column("location", Geometry(), nullable=False),
    Column("properties", JSON),
)

thing_locations = Table(
    "thing_locations",
    metadata,
    Column("thing_id", ForeignKey("things.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_thing_locations_location", "location_id"),
)

historical_locations = Table(
    "historical_locations",
    metadata,
    _id(),
    Column("thing_id", ForeignKey("things.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("time", UTCDateTime(), nullable=False),
)

historical_location_locations = Table(
    "historical_location_locations",
    metadata,
    Column(
        "historical_location_id",
        ForeignKey("historical_locations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("location_id", ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_hll_location", "location_id"),
)

sensors = Table(
    "sensors",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("encoding_type", String(100), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("properties", JSON),
)

observed_properties = Table(
    "observed_properties",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("definition", String(1000), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("properties", JSON),
)

datastreams = Table(
    "datastreams",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("observation_type", String(255), nullable=False),
    Column("unit_of_measurement", JSON, nullable=False),
    Column("observed_area", Geometry()),
    Column("phenomenon_time_start", UTCDateTime()),
    Column("phenomenon_time_end", UTCDateTime()),
    Column("result_time_start", UTCDateTime()),
    Column("result_time_end", UTCDateTime()),
    Column("properties", JSON),
    Column("thing_id", ForeignKey("things.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sensor_id", ForeignKey("sensors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column(
        "observed_property_id",
        ForeignKey("observed_properties.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # Denormalised pointer to the newest observation (by phenomenon time), kept by the write path.
    Column("last_observation_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("last_observation_time", UTCDateTime()),
    # The newest observation's phenomenonTime, resultTime and result as JSON members, ready to
    # be served by the latest-values read path without touching the observations table.
    Column("last_value_json", Text),
)

features_of_interest = Table(
    "features_of_interest",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("encoding_type", String(100), nullable=False, default="application/geo+json"),
    Column("feature", Geometry(), nullable=False),
    Column("properties", JSON),
    # Set when the server generated the feature from a Thing's Location (STA 1.1, 9.2.4).
    Column("source_location_id", ForeignKey("locations.id", ondelete="SET NULL"), index=True),
)

observations = Table(
    "observations",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("datastream_id", ForeignKey("datastreams.id", ondelete="CASCADE"), nullable=False),
    Column("feature_of_interest_id", ForeignKey("features_of_interest.id", ondelete="CASCADE")),
    Column("phenomenon_time_start", UTCDateTime(), nullable=False),
    Column("phenomenon_time_end", UTCDateTime()),
    Column("result_time", UTCDateTime()),
    Column("result_kind", SmallInteger, nullable=False, default=RESULT_NUMBER),
    Column("result_number", Float),
    Column("result_string", Text),
    Column("result_json", JSON),
    Column("result_quality", JSON),
    Column("valid_time_start", UTCDateTime()),
    Column("valid_time_end", UTCDateTime()),
    Column("parameters", JSON),
    UniqueConstraint("datastream_id", "phenomenon_time_start", name="uq_observations_stream_time"),
)

zones = Table(
    "zones",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column("kind", String(50), nullable=False, default="district"),
    Column("code", String(50)),
    Column("geometry", Geometry(), nullable=False),
    Column("properties", JSON),
    UniqueConstraint("kind", "name", name="uq_zones_kind_name"),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(128), nullable=False),
    Column("role", String(20), nullable=False),
    Column("thing_id", ForeignKey("things.id", ondelete="CASCADE")),
    Column("name", String(255), nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)


ingest_dead_letters = Table(
    "ingest_dead_letters",
    metadata,
    _id(),
    Column("received_at", UTCDateTime(), nullable=False, index=True),
    Column("source", String(20), nullable=False),
    Column("topic", String(1024), nullable=False),
    # SHA-256 of topic and payload: a message redelivered after a crash is recorded once.
    Column("message_key", String(64), nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

ingest_counters = Table(
    "ingest_counters",
    metadata,
    Column("source", String(20), primary_key=True),
    Column("messages", BigInteger, nullable=False, default=0),
    Column("readings_stored", BigInteger, nullable=False, default=0),
    Column("readings_duplicate", BigInteger, nullable=False, default=0),
    Column("dead_letters", BigInteger, nullable=False, default=0),
    Column("last_message_at", UTCDateTime()),
)

alert_rules = Table(
    "alert_rules",
    metadata,
    _id(),
    Column("name", String(255), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("scope_kind", String(30), nullable=False),
    Column("scope_value", String(255), nullable=False),
    Column("params", JSON, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("message", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # FIWARE Smart Data Models Alert category / subCategory, used by the NGSI-LD export.
    Column("category", String(30), nullable=False, server_default="environment"),
    Column("sub_category", String(60)),
    # The whole scope as given (e.g. {"zone": 3, "observed_property": "water_level"});
    # scope_kind/scope_value hold its most selective part, by which rules are indexed.
    Column("scope", JSON),
)

alert_rules_meta = Table(
    "alert_rules_meta",
    metadata,
    Column("id", Integer, primary_key=True),
    # Bumped with every rule change so writers in other processes reload their rule cache.
    Column("version", BigInteger, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    Column("rule_id", ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
    # What the alert is about: "datastream:<id>", "zone:<id>" (aggregate rules) or "city".
    Column("subject", String(120), nullable=False),
    Column("datastream_id", ForeignKey("datastreams.id", ondelete="CASCADE")),
    Column("zone_id", ForeignKey("zones.id", ondelete="SET NULL"), index=True),
    Column("state", String(20), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("message", Text, nullable=False),
    Column("value", Float),
    Column("observed_at", UTCDateTime()),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    # One alert per rule and subject until it is resolved: no alert storms.
    Index(
        "uq_alerts_open",
        "rule_id",
        "subject",
        unique=True,
        sqlite_where=text("resolved_at IS NULL"),
        postgresql_where=text("resolved_at IS NULL"),
    ),
    Index("ix_alerts_state", "state", "opened_at"),
)

alert_events = Table(
    "alert_events",
    metadata,
    _id(),
    Column("alert_id", ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("action", String(20), nullable=False),
    Column("value", Float),
    Column("note", Text),
    Column("by_key_id", Integer),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    _id(),
    Column("url", String(2000), nullable=False),
    # Shared secret for the HMAC-SHA256 signature; needed in clear to sign, never shown again.
    Column("secret", String(200), nullable=False),
    Column("events", JSON, nullable=False),
    Column("min_severity", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("cursor", BigInteger, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime()),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    Column(
        "subscription_id",
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("alert_event_id", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("delivered", Boolean, nullable=False),
)


jobs = Table(
    "jobs",
    metadata,
    _id(),
    Column("kind", String(50), nullable=False),
    Column("state", String(20), nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("result", JSON),
    Column("error", Text),
    Column("key_id", ForeignKey("api_keys.id", ondelete="SET NULL")),
)
