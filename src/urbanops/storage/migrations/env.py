"""Alembic environment: runs the same migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context

import urbanops.domains  # noqa: F401 - registers domain tables on the shared metadata
from urbanops.storage.engine import make_engine
from urbanops.storage.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run_with(conn)
    else:
        _run_with(connection)


def _run_with(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
