"""SQL functions whose spelling differs between SQLite and PostgreSQL.

Times are integer microseconds on SQLite and ``timestamptz`` on PostgreSQL (see
:class:`urbanops.storage.types.UTCDateTime`), so date parts need one rendering per dialect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

_SQLITE_PART = {
    "year": "%Y",
    "month": "%m",
    "day": "%d",
    "hour": "%H",
    "minute": "%M",
    "second": "%S",
}


class dt_part(FunctionElement[int]):
    """Integer date part (``year`` ... ``second``) of a UTC instant column."""

    inherit_cache = True
    type = Integer()

    def __init__(self, expr: Any, part: str) -> None:
        self.part = part
        super().__init__(expr)


@compiles(dt_part)
def _dt_part_sqlite(element: dt_part, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    fmt = _SQLITE_PART[element.part]
    return f"CAST(strftime('{fmt}', ({arg}) / 1000000, 'unixepoch') AS INTEGER)"


@compiles(dt_part, "postgresql")
def _dt_part_pg(element: dt_part, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return (
        f"CAST(floor(EXTRACT({element.part.upper()} FROM ({arg}) AT TIME ZONE 'UTC')) AS INTEGER)"
    )


class str_index(FunctionElement[int]):
    """Zero-based position of the second string in the first (-1 when absent)."""

    inherit_cache = True
    type = Integer()


@compiles(str_index)
def _str_index_sqlite(element: str_index, compiler: Any, **kw: Any) -> str:
    return f"(instr({compiler.process(element.clauses, **kw)}) - 1)"


@compiles(str_index, "postgresql")
def _str_index_pg(element: str_index, compiler: Any, **kw: Any) -> str:
    return f"(strpos({compiler.process(element.clauses, **kw)}) - 1)"


class num_mod(FunctionElement[float]):
    """Remainder of a division, for integers and floats on both dialects."""

    inherit_cache = True


@compiles(num_mod)
def _mod_sqlite(element: num_mod, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(({a}) % ({b}))"


@compiles(num_mod, "postgresql")
def _mod_pg(element: num_mod, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"mod(CAST(({a}) AS numeric), CAST(({b}) AS numeric))"
