"""Translate a parsed ``$filter`` / ``$orderby`` AST into SQLAlchemy expressions.

Property paths may cross navigation properties (``Datastream/Thing/name``,
``Datastreams/name`` on Things). A predicate that mentions navigation paths becomes an ``EXISTS``
over the joined entities, which gives the "any related entity" meaning for to-many links and the
plain meaning for to-one links. In ``$orderby`` only to-one paths are allowed (a correlated scalar
subquery per hop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from urbanops.core.sensing.entities import ENTITIES, Entity, Nav
from urbanops.core.sensing.odata import Binary, Call, Literal, Node, Path, Unary
from urbanops.core.sensing.sqlfuncs import dt_part, num_mod, str_index
from urbanops.errors import QueryError
from urbanops.storage import tables as t
from urbanops.storage.types import geom_from_geojson, st_intersects, st_within

BOOL_FUNCS = {
    "substringof",
    "startswith",
    "endswith",
    "contains",
    "geo.intersects",
    "st_intersects",
    "st_within",
    "st_contains",
    "st_disjoint",
    "st_equals",
}


@dataclass
class Typed:
    """An SQL expression with the OData type it carries."""

    sql: Any
    kind: str  # number, string, bool, datetime, geometry, json, result, null


def relation_condition(nav: Nav, src: Any, dst: Any) -> ColumnElement[bool]:
    """Join condition between a source alias and a target alias along ``nav``."""
    if nav.kind == "one":
        return src.c[nav.fk] == dst.c.id
    if nav.kind == "many":
        return dst.c[nav.fk] == src.c.id
    link = nav.link
    assert link is not None
    inner = select(link.c[nav.link_dst]).where(link.c[nav.link_src] == src.c.id).correlate(src)
    return dst.c.id.in_(inner)


@dataclass
class _Scope:
    """Aliases bound to navigation prefixes while translating one predicate."""

    entity: Entity
    alias: Any
    bound: dict[tuple[str, ...], tuple[Entity, Any]] = field(default_factory=dict)


def _nav_prefixes(entity: Entity, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Navigation prefixes of a path, e.g. ('Datastream',), ('Datastream', 'Thing')."""
    prefixes = []
    current = entity
    for i, part in enumerate(path[:-1]):
        nav = current.navs.get(part)
        if nav is None:
            break
        prefixes.append(path[: i + 1])
        current = ENTITIES[nav.target]
    return prefixes


def _collect_paths(node: Node, out: list[Path]) -> None:
    if isinstance(node, Path):
        out.append(node)
    elif isinstance(node, Unary):
        _collect_paths(node.operand, out)
    elif isinstance(node, Binary):
        _collect_paths(node.left, out)
        _collect_paths(node.right, out)
    elif isinstance(node, Call):
        for arg in node.args:
            _collect_paths(arg, out)


class FilterTranslator:
    """Turns AST nodes into SQL for one entity set (alias ``alias`` of ``entity.table``)."""

    def __init__(self, entity: Entity, alias: Any, *, now: datetime | None = None) -> None:
        self.entity = entity
        self.alias = alias
        self.now = now or datetime.now(UTC)

    # -- boolean structure -----------------------------------------------------------------
    def predicate(self, node: Node) -> ColumnElement[bool]:
        """SQL condition for a ``$filter`` expression."""
        if isinstance(node, Binary) and node.op in ("and", "or"):
            left, right = self.predicate(node.left), self.predicate(node.right)
            return and_(left, right) if node.op == "and" else or_(left, right)
        if isinstance(node, Unary) and node.op == "not":
            return not_(self.predicate(node.operand))
        return self._leaf(node)

    def _leaf(self, node: Node) -> ColumnElement[bool]:
        paths: list[Path] = []
        _collect_paths(node, paths)
        prefixes: list[tuple[str, ...]] = []
        for p in paths:
            for pre in _nav_prefixes(self.entity, p.parts):
                if pre not in prefixes:
                    prefixes.append(pre)
        scope = _Scope(self.entity, self.alias)
        if not prefixes:
            return self._as_bool(self.value(node, scope))
        # Bind one alias per navigation prefix, joined along the path, inside one EXISTS.
        prefixes.sort(key=len)
        conditions = []
        froms = []
        for pre in prefixes:
            parent_entity, parent_alias = (
                scope.bound[pre[:-1]] if len(pre) > 1 else (self.entity, self.alias)
            )
            nav = parent_entity.navs[pre[-1]]
            target = ENTITIES[nav.target]
            alias = target.table.alias()
            scope.bound[pre] = (target, alias)
            froms.append(alias)
            conditions.append(relation_condition(nav, parent_alias, alias))
        cond = self._as_bool(self.value(node, scope))
        return exists(select(literal(1)).select_from(*froms).where(and_(*conditions, cond)))

    def _as_bool(self, typed: Typed) -> ColumnElement[bool]:
        if typed.kind == "bool":
            return typed.sql
        if typed.kind == "json":
            return typed.sql.as_boolean()
        raise QueryError("$filter: expression is not a condition (true/false)", field="$filter")

    # -- values --------------------------------------------------------------------------------
    def value(self, node: Node, scope: _Scope) -> Typed:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, Path):
            return self._path(node, scope)
        if isinstance(node, Unary):
            if node.op == "neg":
                inner = self._number(self.value(node.operand, scope))
                return Typed(-inner, "number")
            return Typed(not_(self._as_bool(self.value(node.operand, scope))), "bool")
        if isinstance(node, Binary):
            if node.op in ("and", "or"):
                left = self._as_bool(self.value(node.left, scope))
                right = self._as_bool(self.value(node.right, scope))
                return Typed(and_(left, right) if node.op == "and" else or_(left, right), "bool")
            if node.op in ("eq", "ne", "gt", "ge", "lt", "le"):
                return Typed(
                    self._compare(
                        node.op, self.value(node.left, scope), self.value(node.right, scope)
                    ),
                    "bool",
                )
            return self._arith(node.op, self.value(node.left, scope), self.value(node.right, scope))
        return self._call(node, scope)

    def _literal(self, node: Literal) -> Typed:
        if node.kind == "null":
            return Typed(null(), "null")
        if node.kind == "bool":
            return Typed(true() if node.value else false(), "bool")
        if node.kind == "geometry":
            return Typed(geom_from_geojson(literal(node.value, String())), "geometry")
        return Typed(node.value, node.kind)

    def _path(self, node: Path, scope: _Scope) -> Typed:
        parts = node.parts
        entity, alias = scope.entity, scope.alias
        # Walk bound navigation prefixes (longest first).
        for n in range(len(parts) - 1, 0, -1):
            if parts[:n] in scope.bound:
                entity, alias = scope.bound[parts[:n]]
                parts = parts[n:]
                break
        name = parts[0]
        if name in ("id", "@iot.id"):
            if len(parts) > 1:
                raise QueryError(
                    f"$filter: {'/'.join(node.parts)!r}: id has no sub-properties", field="$filter"
                )
            return Typed(alias.c.id, "number")
        prop = entity.props.get(name)
        if prop is None:
            if name in entity.navs:
                raise QueryError(
                    f"$filter: {'/'.join(node.parts)!r} names a navigation property, not a value",
                    field="$filter",
                )
            raise QueryError(f"$filter: {entity.name} has no property {name!r}", field="$filter")
        if len(parts) > 1 and prop.kind not in ("json", "result"):
            raise QueryError(f"$filter: {name!r} has no sub-property {parts[1]!r}", field="$filter")
        if prop.kind == "json":
            col = alias.c[prop.columns[0]]
            return Typed(col[tuple(parts[1:])] if len(parts) > 1 else col, "json")
        if prop.kind == "result":
            if len(parts) > 1:
                return Typed(alias.c.result_json[tuple(parts[1:])], "json")
            return Typed(alias, "result")
        if prop.kind in ("time", "interval"):
            return Typed(alias.c[prop.columns[0]], "datetime")
        if prop.kind == "geometry":
            return Typed(alias.c[prop.columns[0]], "geometry")
        return Typed(alias.c[prop.columns[0]], "string")

    # -- operators -------------------------------------------------------------------------
    def _number(self, v: Typed) -> Any:
        if v.kind == "number":
            return v.sql
        if v.kind == "result":
            return v.sql.c.result_number
        if v.kind == "json":
            return v.sql.as_float()
        raise QueryError(f"$filter: expected a number, got a {v.kind}", field="$filter")

    def _arith(self, op: str, a: Typed, b: Typed) -> Typed:
        x, y = self._number(a), self._number(b)
        if isinstance(x, int | float) and isinstance(y, int | float):
            x = literal(x)
        if op == "add":
            return Typed(x + y, "number")
        if op == "sub":
            return Typed(x - y, "number")
        if op == "mul":
            return Typed(x * y, "number")
        if op == "div":
            if isinstance(y, int | float) and y == 0:
                raise QueryError("$filter: division by zero", field="$filter")
            return Typed(x / y, "number")
        return Typed(num_mod(x, y), "number")

    def _compare(self, op: str, a: Typed, b: Typed) -> ColumnElement[bool]:
        # Put the column-like side first so literals take its type.
        if (a.kind not in ("result", "json") and b.kind in ("result", "json")) or (
            not isinstance(b.sql, int | float | str | datetime)
            and isinstance(a.sql, int | float | str | datetime)
        ):
            a, b = b, a
            op = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}.get(op, op)
        if b.kind == "null" or a.kind == "null":
            other = a if b.kind == "null" else b
            col = self._plain(other)
            if op == "eq":
                return col.is_(None)
            if op == "ne":
                return col.is_not(None)
            raise QueryError(f"$filter: '{op}' cannot compare with null", field="$filter")
        if op not in ("eq", "ne") and "bool" in (a.kind, b.kind):
            raise QueryError(f"$filter: '{op}' cannot compare true/false values", field="$filter")
        left, right = self._coerce_pair(a, b)
        if isinstance(left, int | float | str | datetime) and isinstance(
            right, int | float | str | datetime
        ):
            left = literal(left)
        return {
            "eq": lambda: left == right,
            "ne": lambda: left != right,
            "gt": lambda: left > right,
            "ge": lambda: left >= right,
            "lt": lambda: left < right,
            "le": lambda: left <= right,
        }[op]()

    def _plain(self, v: Typed) -> Any:
        if v.kind == "result":
            return case(
                (v.sql.c.result_kind == t.RESULT_JSON, v.sql.c.result_json),
                else_=func.coalesce(v.sql.c.result_number, v.sql.c.result_string),
            )
        return v.sql

    def _coerce_pair(self, a: Typed, b: Typed) -> tuple[Any, Any]:
        kinds = {a.kind, b.kind}
        if a.kind == "result":
            res = a.sql
            if b.kind == "string":
                return res.c.result_string, b.sql
            if b.kind == "bool":
                return (
                    case((res.c.result_kind == t.RESULT_BOOL, res.c.result_number), else_=None),
                    1 if _is_true(b.sql) else 0,
                )
            return res.c.result_number, self._number(b) if b.kind != "number" else b.sql
        if a.kind == "json":
            if b.kind == "number" or b.kind == "result":
                return a.sql.as_float(), self._number(b)
            if b.kind == "bool":
                return a.sql.as_boolean(), b.sql
            return a.sql.as_string(), b.sql
        if kinds <= {"number"} or kinds <= {"string"} or kinds <= {"datetime"} or kinds <= {"bool"}:
            return a.sql, b.sql
        if kinds == {"datetime", "string"}:
            raise QueryError(
                "$filter: compare times with an unquoted ISO 8601 date-time, "
                "e.g. phenomenonTime ge 2024-07-01T00:00:00Z",
                field="$filter",
            )
        raise QueryError(f"$filter: cannot compare a {a.kind} with a {b.kind}", field="$filter")

    def _string(self, v: Typed) -> Any:
        if v.kind == "string":
            return v.sql
        if v.kind == "result":
            return v.sql.c.result_string
        if v.kind == "json":
            return v.sql.as_string()
        raise QueryError(f"$filter: expected a string, got a {v.kind}", field="$filter")

    def _time(self, v: Typed) -> Any:
        if v.kind != "datetime":
            raise QueryError(f"$filter: expected a date-time, got a {v.kind}", field="$filter")
        return v.sql

    def _geometry(self, v: Typed) -> Any:
        if v.kind != "geometry":
            raise QueryError(f"$filter: expected a geometry, got a {v.kind}", field="$filter")
        return v.sql

    def _call(self, node: Call, scope: _Scope) -> Typed:
        args = [self.value(a, scope) for a in node.args]
        name = node.name
        if name in ("substringof", "contains", "startswith", "endswith"):
            s1, s2 = (self._string(a) for a in args)
            if name == "substringof":
                s1, s2 = s2, s1
            if isinstance(s1, str):
                s1 = literal(s1)
            if name in ("substringof", "contains"):
                expr = s1.contains(s2, autoescape=isinstance(s2, str))
            elif name == "startswith":
                expr = s1.startswith(s2, autoescape=isinstance(s2, str))
            else:
                expr = s1.endswith(s2, autoescape=isinstance(s2, str))
            return Typed(expr, "bool")
        if name == "length":
            return Typed(func.length(self._string(args[0])), "number")
        if name == "indexof":
            return Typed(str_index(self._string(args[0]), self._string(args[1])), "number")
        if name == "substring":
            start = self._number(args[1])
            s = self._string(args[0])
            if len(args) == 3:
                return Typed(func.substr(s, start + 1, self._number(args[2])), "string")
            return Typed(func.substr(s, start + 1), "string")
        if name in ("tolower", "toupper", "trim"):
            fn = {"tolower": func.lower, "toupper": func.upper, "trim": func.trim}[name]
            return Typed(fn(self._string(args[0])), "string")
        if name == "concat":
            a, b = (self._string(x) for x in args)
            return Typed(
                literal(a, String()).concat(b) if isinstance(a, str) else a.concat(b), "string"
            )
        if name in ("year", "month", "day", "hour", "minute", "second"):
            return Typed(dt_part(self._time(args[0]), name), "number")
        if name == "now":
            return Typed(self.now, "datetime")
        if name in ("mindatetime", "maxdatetime"):
            raise QueryError(f"$filter: {name}() is not supported", field="$filter")
        if name in ("round", "floor", "ceiling"):
            fn = {"round": func.round, "floor": func.floor, "ceiling": func.ceil}[name]
            return Typed(fn(self._number(args[0])), "number")
        a, b = (self._geometry(x) for x in args)
        if name in ("geo.intersects", "st_intersects"):
            return Typed(st_intersects(a, b), "bool")
        if name == "st_within":
            return Typed(st_within(a, b), "bool")
        if name == "st_contains":
            return Typed(st_within(b, a), "bool")
        if name == "st_disjoint":
            return Typed(not_(st_intersects(a, b)), "bool")
        if name == "st_equals":
            return Typed(and_(st_within(a, b), st_within(b, a)), "bool")
        raise QueryError(f"$filter: function {name}() is not supported", field="$filter")

    # -- ordering ----------------------------------------------------------------------------
    def order_value(self, node: Node) -> Any:
        """SQL expression to sort by (to-one navigation paths become scalar subqueries)."""
        if isinstance(node, Path):
            return self._order_path(self.entity, self.alias, node.parts)
        scope = _Scope(self.entity, self.alias)
        v = self.value(node, scope)
        return self._plain(v) if v.kind != "number" else v.sql

    def _order_path(self, entity: Entity, alias: Any, parts: tuple[str, ...]) -> Any:
        nav = entity.navs.get(parts[0])
        if nav is not None and len(parts) > 1:
            if nav.many:
                raise QueryError(f"$orderby: {parts[0]!r} leads to many entities", field="$orderby")
            target = ENTITIES[nav.target]
            dst = target.table.alias()
            inner = self._order_path(target, dst, parts[1:])
            return select(inner).where(relation_condition(nav, alias, dst)).scalar_subquery()
        v = FilterTranslator(entity, alias, now=self.now)._path(Path(parts), _Scope(entity, alias))
        if v.kind == "result":
            return alias.c.result_number
        if v.kind == "json":
            return v.sql.as_string()
        return v.sql


def _is_true(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


__all__ = ["BOOL_FUNCS", "FilterTranslator", "Typed", "relation_condition"]
