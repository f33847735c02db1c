"""The same Alembic migrations run down and up on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from urbanops.settings import Settings
from urbanops.storage.engine import alembic_config, current_revision, make_engine


def test_downgrade_and_upgrade_round_trip(settings: Settings) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        assert current_revision(engine) == "0005"
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
