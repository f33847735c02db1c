"""Read SensorThings entities: collections, single entities, navigation, ``$expand``.

All reads run through :class:`Reader`, which applies the caller's visibility (anonymous callers
see only entities of Things marked public), the query options, server-driven paging and nested
expansion. Expansion is batched: one query per expanded navigation property and nesting level,
with per-parent ``$top``/``$skip`` done by a ``row_number()`` window, never one query per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, and_, func, select, true
from sqlalchemy.exc import DataError, ProgrammingError
from sqlalchemy.sql.elements import ColumnElement

from urbanops.core.sensing.entities import ENTITIES, Entity, Nav
from urbanops.core.sensing.filters import FilterTranslator, relation_condition
from urbanops.core.sensing.odata import ExpandItem
from urbanops.core.sensing.options import QueryOptions, parse_options
from urbanops.core.sensing.serialize import make_serializer
from urbanops.errors import NotFoundError, QueryError
from urbanops.storage import tables as t


def visibility(entity: Entity, alias: Any) -> ColumnElement[bool]:
    """Condition limiting ``entity`` rows to those of public Things (for anonymous readers)."""
    public_things = select(t.things.c.id).where(t.things.c.is_public.is_(True))
    public_ds = select(t.datastreams.c.id).where(t.datastreams.c.thing_id.in_(public_things))
    name = entity.set_name
    if name == "Things":
        return alias.c.is_public.is_(True)
    if name in ("Datastreams", "HistoricalLocations"):
        return alias.c.thing_id.in_(public_things)
    if name == "Observations":
        return alias.c.datastream_id.in_(public_ds)
    if name == "Locations":
        return alias.c.id.in_(
            select(t.thing_locations.c.location_id).where(
                t.thing_locations.c.thing_id.in_(public_things)
            )
        )
    if name == "Sensors":
        return alias.c.id.in_(
            select(t.datastreams.c.sensor_id).where(t.datastreams.c.thing_id.in_(public_things))
        )
    if name == "ObservedProperties":
        return alias.c.id.in_(
            select(t.datastreams.c.observed_property_id).where(
                t.datastreams.c.thing_id.in_(public_things)
            )
        )
    if name == "FeaturesOfInterest":
        return alias.c.source_location_id.in_(
            select(t.thing_locations.c.location_id).where(
                t.thing_locations.c.thing_id.in_(public_things)
            )
        )
    raise AssertionError(name)


@dataclass
class Parent:
    """The entity a navigation read starts from, e.g. ``Things(1)/Datastreams``."""

    entity: Entity
    id: int
    nav: Nav


def _below(parent: Parent, alias: Any) -> ColumnElement[bool]:
    """Rows of ``alias`` related to the parent entity, as a condition the planner can index:
    ``datastream_id = 7`` rather than a correlated EXISTS."""
    nav = parent.nav
    if nav.kind == "many":
        return alias.c[nav.fk] == parent.id
    if nav.kind == "link":
        link = nav.link
        assert link is not None
        return alias.c.id.in_(select(link.c[nav.link_dst]).where(link.c[nav.link_src] == parent.id))
    src = parent.entity.table
    return alias.c.id == select(src.c[nav.fk]).where(src.c.id == parent.id).scalar_subquery()


class Reader:
    """Reads entities for one request.

    Parameters
    ----------
    conn
        An open connection.
    base
        Service root used in links, e.g. ``http://host/sta/v1.1``.
    public_only
        Restrict every read to entities of public Things (anonymous callers).
    default_top, max_top, max_expand_depth
        Paging and nesting bounds.
    """

    def __init__(
        self,
        conn: Connection,
        base: str,
        *,
        public_only: bool,
        default_top: int,
        max_top: int,
        max_expand_depth: int = 3,
    ) -> None:
        self.conn = conn
        self.base = base
        self.public_only = public_only
        self.default_top = default_top
        self.max_top = max_top
        self.max_expand_depth = max_expand_depth

    def options(self, params: Mapping[str, str], depth: int = 0) -> QueryOptions:
        return parse_options(
            params,
            default_top=self.default_top,
            max_top=self.max_top,
            depth=depth,
            max_depth=self.max_expand_depth,
        )

    # -- building blocks ------------------------------------------------------------------
    def _base_conditions(self, entity: Entity, alias: Any, opts: QueryOptions) -> list[Any]:
        conds: list[Any] = []
        if self.public_only:
            conds.append(visibility(entity, alias))
        if opts.filter is not None:
            conds.append(FilterTranslator(entity, alias).predicate(opts.filter))
        return conds

    def _order(self, entity: Entity, alias: Any, opts: QueryOptions) -> list[Any]:
        tr = FilterTranslator(entity, alias)
        order = []
        for item in opts.orderby:
            expr = tr.order_value(item.expr)
            order.append(expr.desc() if item.descending else expr.asc())
        order.append(alias.c.id.asc())
        return order

    def _check_select(self, entity: Entity, opts: QueryOptions, depth: int = 0) -> None:
        """Validate $select names and the whole $expand tree before running any query."""
        if opts.select:
            allowed = {"id", "@iot.id", "@iot.selfLink", *entity.props, *entity.navs}
            for name in opts.select:
                if name not in allowed:
                    raise QueryError(
                        f"$select: {entity.name} has no property {name!r}", field="$select"
                    )
        for item in opts.expand:
            nav = entity.navs.get(item.name)
            if nav is None:
                raise QueryError(
                    f"$expand: {entity.name} has no navigation property {item.name!r}",
                    field="$expand",
                )
            inner = self.options(item.options, depth=depth + 1)
            self._check_select(ENTITIES[nav.target], inner, depth + 1)

    def _run(self, stmt: Any) -> Any:
        """Execute a read; a query the database cannot evaluate (e.g. comparing text
        properties with numbers on PostgreSQL) is the client's error, not a server fault."""
        try:
            return self.conn.execute(stmt)
        except (DataError, ProgrammingError) as exc:
            if self.conn.in_transaction():
                self.conn.rollback()
            reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid query"
            raise QueryError(
                f"$filter/$orderby cannot be evaluated: {reason}", field="$filter"
            ) from None

    # -- public reads ---------------------------------------------------------------------
    def collection(
        self, entity: Entity, opts: QueryOptions, *, parent: Parent | None = None, path: str
    ) -> dict[str, Any]:
        """A page of an entity set (optionally below a parent), with count and next link."""
        self._check_select(entity, opts)
        alias = entity.table.alias("e")
        conds = self._base_conditions(entity, alias, opts)
        if parent is not None:
            conds.append(_below(parent, alias))
        where = and_(true(), *conds)
        out: dict[str, Any] = {}
        if opts.count:
            out["@iot.count"] = self._run(
                select(func.count()).select_from(alias).where(where)
            ).scalar_one()
        if opts.top == 0:
            out["value"] = []
            return out
        stmt = (
            select(alias)
            .where(where)
            .order_by(*self._order(entity, alias, opts))
            .limit(opts.top + 1)
            .offset(opts.skip)
        )
        rows = self._run(stmt).all()
        more = len(rows) > opts.top
        rows = rows[: opts.top]
        cols = [c.name for c in alias.columns]
        value = self._serialize(entity, rows, cols, opts, depth=0)
        if more:
            out["@iot.nextLink"] = self._next_link(path, opts, opts.skip + opts.top)
        if opts.result_format == "dataArray" and entity.set_name == "Observations":
            return _data_array(out, value, self.base, parent)
        out["value"] = value
        return out

    def one(self, entity: Entity, ident: int, opts: QueryOptions) -> dict[str, Any]:
        """A single entity by id, or NotFoundError."""
        self._check_select(entity, opts)
        alias = entity.table.alias("e")
        conds = [*self._base_conditions(entity, alias, opts), alias.c.id == ident]
        row = self._run(select(alias).where(and_(*conds))).first()
        if row is None:
            raise NotFoundError(f"{entity.set_name}({ident}) does not exist")
        cols = [c.name for c in alias.columns]
        return self._serialize(entity, [row], cols, opts, depth=0)[0]

    def related_one(self, parent: Parent, opts: QueryOptions) -> dict[str, Any]:
        """The single entity behind a to-one navigation, e.g. ``Datastreams(1)/Thing``."""
        src = parent.entity.table.alias("p")
        fk = self.conn.execute(select(src.c[parent.nav.fk]).where(src.c.id == parent.id)).first()
        if fk is None:
            raise NotFoundError(f"{parent.entity.set_name}({parent.id}) does not exist")
        if fk[0] is None:
            raise NotFoundError(f"{parent.entity.set_name}({parent.id}) has no {parent.nav.name}")
        return self.one(ENTITIES[parent.nav.target], fk[0], opts)

    def exists(self, entity: Entity, ident: int) -> bool:
        alias = entity.table.alias("e")
        conds = [alias.c.id == ident]
        if self.public_only:
            conds.append(visibility(entity, alias))
        return self.conn.execute(select(alias.c.id).where(and_(*conds))).first() is not None

    # -- expansion ------------------------------------------------------------------------
    def _serialize(
        self, entity: Entity, rows: list[Any], cols: list[str], opts: QueryOptions, depth: int
    ) -> list[dict[str, Any]]:
        ser = make_serializer(entity, cols, self.base, opts.select)
        out = [ser(r) for r in rows]
        if opts.expand and rows:
            ids = [r[cols.index("id")] for r in rows]
            for item in opts.expand:
                self._expand(entity, ids, out, item, depth + 1)
        return out

    def _expand(
        self,
        entity: Entity,
        ids: list[int],
        out: list[dict[str, Any]],
        item: ExpandItem,
        depth: int,
    ) -> None:
        nav = entity.navs.get(item.name)
        if nav is None:
            raise QueryError(
                f"$expand: {entity.name} has no navigation property {item.name!r}", field="$expand"
            )
        target = ENTITIES[nav.target]
        opts = self.options(item.options, depth=depth)
        self._check_select(target, opts, depth)
        src = entity.table.alias("src")
        dst = target.table.alias("e")
        conds = self._base_conditions(target, dst, opts)
        conds.append(src.c.id.in_(ids))
        conds.append(relation_condition(nav, src, dst))
        parent_col = src.c.id.label("uo_parent")
        order = self._order(target, dst, opts)
        by_parent: dict[int, list[Any]] = defaultdict(list)
        cols = [c.name for c in dst.columns]
        if nav.many:
            rn = func.row_number().over(partition_by=src.c.id, order_by=order).label("uo_rn")
            inner = (
                select(dst, parent_col, rn)
                .select_from(src)
                .join(dst, true())
                .where(and_(*conds))
                .subquery()
            )
            lo, hi = opts.skip, opts.skip + opts.top + 1
            stmt = (
                select(inner)
                .where(inner.c.uo_rn > lo, inner.c.uo_rn <= hi)
                .order_by(inner.c.uo_parent, inner.c.uo_rn)
            )
        else:
            stmt = select(dst, parent_col).select_from(src).join(dst, true()).where(and_(*conds))
        ncols = len(cols)
        for row in self._run(stmt):
            by_parent[row[ncols]].append(row[:ncols])
        counts: dict[int, int] = {}
        if nav.many and opts.count:
            cstmt = (
                select(src.c.id, func.count())
                .select_from(src)
                .join(dst, true())
                .where(and_(*conds))
                .group_by(src.c.id)
            )
            counts = {pid: n for pid, n in self._run(cstmt)}
        for ident, entry in zip(ids, out, strict=True):
            rows = by_parent.get(ident, [])
            if nav.many:
                more = len(rows) > opts.top
                rows = rows[: opts.top]
                entry[nav.name] = self._serialize(target, rows, cols, opts, depth)
                if opts.count:
                    entry[f"{nav.name}@iot.count"] = counts.get(ident, 0)
                if more:
                    path = f"{entity.set_name}({ident})/{nav.name}"
                    entry[f"{nav.name}@iot.nextLink"] = self._next_link(
                        path, opts, opts.skip + opts.top
                    )
            else:
                entry[nav.name] = (
                    self._serialize(target, rows, cols, opts, depth)[0] if rows else None
                )

    def _next_link(self, path: str, opts: QueryOptions, skip: int) -> str:
        params = dict(opts.raw)
        params["$skip"] = str(skip)
        params["$top"] = str(opts.top)
        query = "&".join(f"{k}={quote(v, safe=_LINK_SAFE)}" for k, v in params.items())
        return f"{self.base}/{path}?{query}"


_LINK_SAFE = "$(),/:=;'@"


def _data_array(
    out: dict[str, Any], value: list[dict[str, Any]], base: str, parent: Parent | None
) -> dict[str, Any]:
    """The dataArray result format (STA 1.1 section 14.3.2), grouped by Datastream."""
    components = ["id", "phenomenonTime", "resultTime", "result"]
    rows = [
        [v.get("@iot.id"), v.get("phenomenonTime"), v.get("resultTime"), v.get("result")]
        for v in value
    ]
    group: dict[str, Any] = {
        "components": components,
        "dataArray@iot.count": len(rows),
        "dataArray": rows,
    }
    if parent is not None and parent.entity.set_name == "Datastreams":
        group["Datastream@iot.navigationLink"] = f"{base}/Datastreams({parent.id})"
    result: dict[str, Any] = {k: v for k, v in out.items() if k != "value"}
    result["value"] = [group]
    return result
