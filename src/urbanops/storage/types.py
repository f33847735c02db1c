"""Column types that behave the same on SQLite and PostgreSQL/PostGIS.

* :class:`UTCDateTime` stores timezone-aware UTC instants: ``timestamptz`` on PostgreSQL and integer
  microseconds since the Unix epoch on SQLite (exact, sortable and compact, unlike ISO strings).
* :class:`Geometry` stores a geometry in EPSG:4326: a PostGIS ``geometry(Geometry, 4326)`` on
  PostgreSQL and GeoJSON text on SQLite. Values go in and come out as GeoJSON text on both, so the
  rest of the code never sees WKB.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Text, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator, UserDefinedType

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = timedelta(0)


def to_epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    """Aware UTC datetime from microseconds since the Unix epoch."""
    return EPOCH + timedelta(microseconds=value)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        if dialect.name == "sqlite":
            return to_epoch_us(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_epoch_us(int(value))
        # Sessions run with TimeZone=UTC (see storage.engine), so this is rarely needed.
        return value if value.utcoffset() == _ZERO else value.astimezone(UTC)


class _PostGISGeometry(UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(Geometry, 4326)"


class geom_from_geojson(FunctionElement[Any]):
    """GeoJSON text to the stored geometry (identity on SQLite)."""

    inherit_cache = True


class geom_as_geojson(FunctionElement[Any]):
    """Stored geometry to GeoJSON text (identity on SQLite)."""

    inherit_cache = True
    type = Text()


@compiles(geom_from_geojson)
def _from_default(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(geom_from_geojson, "postgresql")
def _from_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ST_SetSRID(ST_GeomFromGeoJSON({compiler.process(element.clauses, **kw)}), 4326)"


@compiles(geom_as_geojson)
def _as_default(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(geom_as_geojson, "postgresql")
def _as_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ST_AsGeoJSON({compiler.process(element.clauses, **kw)})"


class Geometry(TypeDecorator[str]):
    """A geometry in EPSG:4326, exchanged as GeoJSON text."""

    impl = Text()
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry())
        return dialect.type_descriptor(Text())

    def bind_expression(self, bindvalue: Any) -> Any:
        return geom_from_geojson(bindvalue)

    def column_expression(self, col: Any) -> Any:
        return geom_as_geojson(col)


class st_intersects(FunctionElement[bool]):
    """True where two geometries intersect: PostGIS on PostgreSQL, a shapely UDF on SQLite."""

    inherit_cache = True
    type = Boolean()


class st_within(FunctionElement[bool]):
    """True where the first geometry lies within the second."""

    inherit_cache = True
    type = Boolean()


@compiles(st_intersects)
def _intersects_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"uo_intersects({compiler.process(element.clauses, **kw)})"


@compiles(st_intersects, "postgresql")
def _intersects_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ST_Intersects({compiler.process(element.clauses, **kw)})"


@compiles(st_within)
def _within_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"uo_within({compiler.process(element.clauses, **kw)})"


@compiles(st_within, "postgresql")
def _within_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"ST_Within({compiler.process(element.clauses, **kw)})"


__all__ = [
    "Geometry",
    "UTCDateTime",
    "from_epoch_us",
    "func",
    "geom_as_geojson",
    "geom_from_geojson",
    "st_intersects",
    "st_within",
    "to_epoch_us",
]
