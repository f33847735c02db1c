"""Storage: SQLAlchemy engine and tables of the core, Alembic migrations (SQLite and PostgreSQL)."""
