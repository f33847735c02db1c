"""Database engine for SQLite (embedded) and PostgreSQL/PostGIS (city scale), and migrations."""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect

from urbanops.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@lru_cache(maxsize=4096)
def _shape(geojson: str) -> Any:
    from shapely.geometry import shape

    return shape(json.loads(geojson))


def _udf_intersects(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    try:
        return int(_shape(a).intersects(_shape(b)))
    except Exception:  # a UDF must never raise into SQLite
        return 0


def _udf_within(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    try:
        return int(_shape(a).within(_shape(b)))
    except Exception:
        return 0


def _on_sqlite_connect(
    dbapi_conn: sqlite3.Connection, _record: Any, *, cache_mib: int = 256
) -> None:
    # WAL lets readers run beside one writer; NORMAL sync is durable across application crashes.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Page cache per connection (negative = KiB). Bounded: it is part of the resident memory.
    cur.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()
    dbapi_conn.create_function("uo_intersects", 2, _udf_intersects, deterministic=True)
    dbapi_conn.create_function("uo_within", 2, _udf_within, deterministic=True)


def make_engine(url: str, *, echo: bool = False, sqlite_cache_mib: int = 256) -> Engine:
    """Create an engine for ``url`` with the settings UrbanOps relies on.

    Parameters
    ----------
    url
        SQLAlchemy URL, ``sqlite:///path`` or ``postgresql+psycopg://...``.
    echo
        Log SQL statements (never on in production: statements may hold key hashes).
    sqlite_cache_mib
        SQLite page cache per connection. Readers of large series gain from a big one; the
        MQTT consumer, which only appends, runs with a small one to keep its memory flat.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", partial(_on_sqlite_connect, cache_mib=sqlite_cache_mib))
        return engine
    # Sessions in UTC: timestamps come back without a zone conversion per value.
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": "-c timezone=UTC"},
    )


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One shared engine per URL within a process."""
    return make_engine(url)


def alembic_config(url: str) -> Any:
    """Alembic configuration pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Create or migrate the database of ``settings`` to ``revision``."""
    from alembic import command

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(settings.sqlalchemy_url)
    engine = engine_for(settings.sqlalchemy_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None if it was never migrated."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
