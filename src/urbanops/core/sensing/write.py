"""Create, update and delete SensorThings entities, including deep insert.

A deep insert (a Thing with its Locations and Datastreams, each with Sensor and ObservedProperty)
is validated as a whole and written in the caller's transaction, so a bad nested entity leaves
nothing behind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from urbanops.core.sensing import validate as v
from urbanops.core.sensing.entities import ENTITIES, Entity, Prop
from urbanops.core.sensing.observations import (
    parse_observation,
    refresh_datastream,
    write_observations,
)
from urbanops.errors import ConflictError, NotFoundError, ValidationError
from urbanops.storage import tables as t

#: Navigation properties that may carry nested entities or references on create.
DEEP = {
    "Things": {"Locations", "Datastreams"},
    "Locations": {"Things"},
    "HistoricalLocations": {"Thing", "Locations"},
    "Datastreams": {"Thing", "Sensor", "ObservedProperty", "Observations"},
    "Sensors": {"Datastreams"},
    "ObservedProperties": {"Datastreams"},
    "FeaturesOfInterest": set(),
    "Observations": {"Datastream", "FeatureOfInterest"},
}


def _values(entity: Entity, body: dict[str, Any], path: str, *, partial: bool) -> dict[str, Any]:
    """Column values from the plain properties of a body (unknown fields refused)."""
    p = f"{path}." if path else ""
    values: dict[str, Any] = {}
    for key, val in body.items():
        if key == "@iot.id" or key in entity.navs:
            continue
        if key.endswith("@iot.navigationLink") or key == "@iot.selfLink":
            continue
        prop = entity.props.get(key)
        if prop is None:
            raise v.fail(f"{p}{key}", f"unknown field for {entity.name}")
        if not prop.writable:
            raise v.fail(f"{p}{key}", "is computed by the server and cannot be written")
        values.update(_convert(prop, val, f"{p}{key}"))
    if not partial:
        for prop in entity.props.values():
            if prop.required and prop.name not in body:
                raise v.fail(f"{p}{prop.name}", f"required for {entity.name}")
            if not prop.required and prop.name not in body and prop.kind == "str":
                values.setdefault(prop.columns[0], "")
    if entity.set_name == "Things" and "properties" in body:
        props = body.get("properties") or {}
        values["is_public"] = props.get("public") is True
    return values


def _convert(prop: Prop, val: Any, path: str) -> dict[str, Any]:
    cols = prop.columns
    if prop.kind == "str":
        if val is None and not prop.required:
            return {cols[0]: ""}
        return {cols[0]: v.string(val, path, prop.max_length)}
    if prop.kind == "json":
        if prop.name == "unitOfMeasurement":
            return {cols[0]: v.unit_of_measurement(val, path)}
        if prop.name in ("properties", "parameters"):
            return {cols[0]: v.json_object(val, path)}
        if val is None and prop.required:
            raise v.fail(path, "required")
        v.check_finite(val, path)
        return {cols[0]: val}
    if prop.kind == "geometry":
        if val is None and not prop.required:
            return {cols[0]: None}
        return {cols[0]: v.geometry(val, path)}
    if prop.kind == "time":
        if val is None and not prop.required:
            return {cols[0]: None}
        return {cols[0]: v.instant(val, path)}
    if prop.kind == "interval":
        if val is None:
            return {cols[0]: None, cols[1]: None}
        tv = v.interval(val, path)
        return {cols[0]: tv.start, cols[1]: tv.end}
    if prop.kind == "result":
        kind, num, text, js = v.result(val, path)
        return dict(zip(cols, (kind, num, text, js), strict=True))
    raise AssertionError(prop.kind)


class Writer:
    """Entity writes within one transaction (``conn`` is inside ``engine.begin()``)."""

    def __init__(self, conn: Connection, *, device_thing_id: int | None = None) -> None:
        self.conn = conn
        self.device_thing_id = device_thing_id

    # -- create -----------------------------------------------------------------------------
    def create(
        self, set_name: str, body: Any, *, path: str = "", link: tuple[str, int] | None = None
    ) -> int:
        """Create an entity (deep insert allowed) and return its id.

        ``link`` is the parent when posting to a navigation collection, e.g.
        ``("Datastream", 5)`` for ``POST Datastreams(5)/Observations``.
        """
        entity = ENTITIES[set_name]
        if not isinstance(body, dict):
            raise v.fail(path, f"expected a JSON object for {entity.name}")
        if set_name == "Observations":
            ds = link[1] if link and link[0] == "Datastream" else None
            if link and link[0] == "FeatureOfInterest":
                body = {**body, "FeatureOfInterest": {"@iot.id": link[1]}}
            row = parse_observation(body, path, datastream_id=ds, now=datetime.now(UTC))
            return write_observations(self.conn, [row], device_thing_id=self.device_thing_id).ids[0]
        if "@iot.id" in body and path:
            ident = v.entity_id(body["@iot.id"], f"{path}.@iot.id")
            self._require(entity, ident, path)
            return ident
        if "@iot.id" in body:
            raise v.fail(f"{path}.@iot.id" if path else "@iot.id", "ids are assigned by the server")
        p = f"{path}." if path else ""
        for key in body:
            if key in entity.navs and key not in DEEP[set_name]:
                raise v.fail(f"{p}{key}", f"cannot be set when creating a {entity.name}")
        values = _values(entity, body, path, partial=False)
        links = dict((link and [link]) or [])
        # Resolve to-one parents first (they must exist before the row that points at them).
        for nav in entity.navs.values():
            if nav.kind != "one":
                continue
            if nav.name in links:
                values[nav.fk] = links[nav.name]
                self._require(ENTITIES[nav.target], links[nav.name], path)
                continue
            sub = body.get(nav.name)
            if sub is None:
                if set_name in ("Datastreams", "HistoricalLocations"):
                    raise v.fail(f"{p}{nav.name}", f"required for {entity.name}")
                continue
            values[nav.fk] = self.create(nav.target, sub, path=f"{p}{nav.name}")
        ident = int(
            self.conn.execute(
                insert(entity.table).values(**values).returning(entity.table.c.id)
            ).scalar_one()
        )
        # Then to-many children and links.
        for nav in entity.navs.values():
            if nav.kind == "one":
                continue
            items = body.get(nav.name)
            if nav.name in links:
                items = [{"@iot.id": links[nav.name]}]
            if items is None:
                continue
            if not isinstance(items, list):
                raise v.fail(f"{p}{nav.name}", "expected an array")
            child_ids = []
            for i, sub in enumerate(items):
                sp = f"{p}{nav.name}[{i}]"
                if nav.kind == "many":
                    if not isinstance(sub, dict):
                        raise v.fail(sp, "expected an object")
                    if "@iot.id" in sub:
                        raise v.fail(
                            sp,
                            f"link existing {nav.target} by creating them here "
                            "is not supported; create them inline",
                        )
                    back = ENTITIES[nav.target]
                    parent_nav = next(
                        n for n in back.navs.values() if n.kind == "one" and n.target == set_name
                    )
                    self.create(nav.target, sub, path=sp, link=(parent_nav.name, ident))
                else:
                    child_ids.append(self.create(nav.target, sub, path=sp))
            if nav.kind == "link" and child_ids:
                assert nav.link is not None
                for cid in dict.fromkeys(child_ids):
                    self.conn.execute(
                        insert(nav.link).values({nav.link_src: ident, nav.link_dst: cid})
                    )
                if set_name == "Things" and nav.name == "Locations":
                    self._historical(ident, list(dict.fromkeys(child_ids)))
                if set_name == "Locations" and nav.name == "Things":
                    for tid in dict.fromkeys(child_ids):
                        self._historical(tid, [ident])
        return ident

    def _historical(self, thing_id: int, location_ids: list[int]) -> None:
        hl = int(
            self.conn.execute(
                insert(t.historical_locations)
                .values(thing_id=thing_id, time=datetime.now(UTC))
                .returning(t.historical_locations.c.id)
            ).scalar_one()
        )
        for lid in location_ids:
            self.conn.execute(
                insert(t.historical_location_locations).values(
                    historical_location_id=hl, location_id=lid
                )
            )

    def _require(self, entity: Entity, ident: int, path: str) -> None:
        found = self.conn.execute(
            select(entity.table.c.id).where(entity.table.c.id == ident)
        ).first()
        if found is None:
            raise NotFoundError(
                f"{path + ': ' if path else ''}{entity.set_name}({ident}) does not exist",
                field=path or None,
            )

    # -- update -----------------------------------------------------------------------------
    def update(self, set_name: str, ident: int, body: Any) -> None:
        """PATCH: change the given properties; to-one links may be replaced by reference."""
        entity = ENTITIES[set_name]
        if not isinstance(body, dict):
            raise v.fail("", f"expected a JSON object for {entity.name}")
        self._require(entity, ident, "")
        if "@iot.id" in body and body["@iot.id"] != ident:
            raise v.fail("@iot.id", "cannot be changed")
        values = _values(entity, body, "", partial=True)
        for key, sub in body.items():
            nav = entity.navs.get(key)
            if nav is None:
                continue
            if nav.kind == "one":
                ref = v.reference_id(sub, key)
                if ref is None:
                    raise v.fail(key, 'PATCH takes a reference {"@iot.id": n}')
                self._require(ENTITIES[nav.target], ref, key)
                values[nav.fk] = ref
            elif set_name == "Things" and key == "Locations":
                if not isinstance(sub, list):
                    raise v.fail(key, "expected an array")
                lids = [self.create("Locations", s, path=f"{key}[{i}]") for i, s in enumerate(sub)]
                self.conn.execute(
                    delete(t.thing_locations).where(t.thing_locations.c.thing_id == ident)
                )
                for lid in dict.fromkeys(lids):
                    self.conn.execute(
                        insert(t.thing_locations).values(thing_id=ident, location_id=lid)
                    )
                self._historical(ident, list(dict.fromkeys(lids)))
            else:
                raise v.fail(key, "cannot be changed with PATCH")
        if set_name == "Observations":
            if "phenomenonTime" in values and values.get("phenomenon_time_start") is None:
                raise v.fail("phenomenonTime", "cannot be null")
            old_ds = self.conn.execute(
                select(t.observations.c.datastream_id).where(t.observations.c.id == ident)
            ).scalar_one()
            if self.device_thing_id is not None:
                self._device_check(old_ds)
        if values:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        update(entity.table).where(entity.table.c.id == ident).values(**values)
                    )
            except Exception as exc:
                if "unique" in str(exc).lower() or "UNIQUE" in str(exc):
                    raise ConflictError(
                        "another observation of this datastream has that phenomenonTime"
                    ) from None
                raise
        if set_name == "Observations":
            new_ds = self.conn.execute(
                select(t.observations.c.datastream_id).where(t.observations.c.id == ident)
            ).scalar_one()
            for ds in {old_ds, new_ds}:
                refresh_datastream(self.conn, ds)

    def _device_check(self, datastream_id: int) -> None:
        from urbanops.errors import PermissionDeniedError

        thing = self.conn.execute(
            select(t.datastreams.c.thing_id).where(t.datastreams.c.id == datastream_id)
        ).scalar()
        if thing != self.device_thing_id:
            raise PermissionDeniedError("this device key may only change its own Thing's data")

    # -- delete -----------------------------------------------------------------------------
    def delete(self, set_name: str, ident: int) -> None:
        """Delete an entity; dependent entities go with it as STA 1.1 section 10.4 requires."""
        entity = ENTITIES[set_name]
        self._require(entity, ident, "")
        ds_to_refresh: set[int] = set()
        if set_name == "Observations":
            ds = self.conn.execute(
                select(t.observations.c.datastream_id).where(t.observations.c.id == ident)
            ).scalar_one()
            if self.device_thing_id is not None:
                self._device_check(ds)
            ds_to_refresh.add(ds)
        elif set_name == "FeaturesOfInterest":
            ds_to_refresh.update(
                self.conn.execute(
                    select(t.observations.c.datastream_id)
                    .where(t.observations.c.feature_of_interest_id == ident)
                    .distinct()
                ).scalars()
            )
        self.conn.execute(delete(entity.table).where(entity.table.c.id == ident))
        for ds in ds_to_refresh:
            refresh_datastream(self.conn, ds)


__all__ = ["ValidationError", "Writer"]
