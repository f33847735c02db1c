"""The same Alembic migrations run down and up on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from urbanops.core.sensing.write import Writer
from urbanops.settings import Settings
from urbanops.storage.engine import alembic_config, current_revision, make_engine


def test_downgrade_and_upgrade_round_trip(settings: Settings) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        assert current_revision(engine) == "0011"
        cfg = alembic_config(settings.sqlalchemy_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert "observations" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        names = set(inspect(engine).get_table_names())
        assert {"things", "datastreams", "observations", "api_keys", "zones"} <= names
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("observations")}
        uniques = {u["name"] for u in inspect(engine).get_unique_constraints("observations")}
        assert "uq_observations_stream_time" in indexes | uniques
    finally:
        engine.dispose()


def test_0006_keeps_existing_alerts_as_datastream_subjects(settings: Settings) -> None:
    """Alerts stored before zone subjects existed get ``datastream:<id>`` and stay unique."""
    engine = make_engine(settings.sqlalchemy_url)
    pg = engine.dialect.name == "postgresql"
    now = "2024-01-01 00:00:00+00" if pg else 1
    try:
        cfg = alembic_config(settings.sqlalchemy_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with engine.begin() as conn:
            w = Writer(conn)
            thing = w.create("Things", {"name": "gauge"})
            sensor = w.create(
                "Sensors", {"name": "s", "encodingType": "text/plain", "metadata": ""}
            )
            prop = w.create("ObservedProperties", {"name": "p", "definition": "u"})
            conn.execute(
                text(
                    "INSERT INTO datastreams (id, name, description, observation_type, "
                    "unit_of_measurement, thing_id, sensor_id, observed_property_id) VALUES "
                    "(7, 'd', '', 'x', '{}', :t, :s, :p)"
                ),
                {"t": thing, "s": sensor, "p": prop},
            )
            conn.execute(
                text(
                    "INSERT INTO alert_rules (id, name, kind, scope_kind, scope_value, params, "
                    "severity, message, enabled, created_at, updated_at) VALUES (1, 'r', "
                    "'threshold', 'datastream', '7', '{}', 'warning', 'm', :on, :now, :now)"
                ),
                {"on": True, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO alerts (rule_id, datastream_id, state, severity, message, "
                    "opened_at) VALUES (1, 7, 'open', 'warning', 'm', :now)"
                ),
                {"now": now},
            )
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert current_revision(engine) == "0011"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT subject FROM alerts")).scalar_one() == "datastream:7"
        with pytest.raises(IntegrityError), engine.begin() as conn:  # one open alert per subject
            conn.execute(
                text(
                    "INSERT INTO alerts (rule_id, subject, state, severity, message, opened_at) "
                    "VALUES (1, 'datastream:7', 'open', 'warning', 'm', :now)"
                ),
                {"now": now},
            )
    finally:
        engine.dispose()
