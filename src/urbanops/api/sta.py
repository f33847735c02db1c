"""OGC SensorThings API 1.1 (Sensing part) at ``/sta/v1.1``.

Routes are generated from the entity descriptions in :mod:`urbanops.core.sensing.entities`, one
set per entity type: the collection, one entity, its properties, and its navigation properties.
Handlers stay thin: parse, authorise, call :class:`~urbanops.core.sensing.query.Reader` or
:class:`~urbanops.core.sensing.write.Writer`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbanops.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    read_json,
    require_entity_writer,
    require_observation_writer,
)
from urbanops.api.responses import json_response
from urbanops.core.keys import Principal
from urbanops.core.sensing.entities import ENTITIES, Entity, Nav
from urbanops.core.sensing.observations import parse_data_array, write_observations
from urbanops.core.sensing.query import Parent, Reader
from urbanops.core.sensing.write import Writer
from urbanops.core.stored_feed import collecting
from urbanops.errors import NotFoundError
from urbanops.settings import Settings

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["SensorThings"])

ID = Path(..., ge=1, le=2**63 - 1, description="@iot.id")

QUERY_DOC = {
    "parameters": [
        {"name": n, "in": "query", "required": False, "schema": s, "description": d}
        for n, s, d in [
            ("$top", {"type": "integer", "minimum": 0}, "page size (bounded by the server)"),
            ("$skip", {"type": "integer", "minimum": 0}, "entities to skip"),
            ("$count", {"type": "boolean"}, "include @iot.count"),
            ("$filter", {"type": "string"}, "OData filter, e.g. result gt 30"),
            ("$orderby", {"type": "string"}, "e.g. phenomenonTime desc"),
            ("$select", {"type": "string"}, "comma-separated properties"),
            ("$expand", {"type": "string"}, "navigation properties with nested options"),
        ]
    ]
}
BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
ARRAY_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}


def base_url(request: Request, settings: Settings) -> str:
    root = settings.public_base_url or str(request.base_url)
    return root.rstrip("/") + PREFIX


def _reader(conn: Any, request: Request, settings: Settings, principal: Principal) -> Reader:
    return Reader(
        conn,
        base_url(request, settings),
        public_only=not (principal.can_read_all or settings.anonymous_read),
        default_top=settings.default_top,
        max_top=settings.max_top,
        max_expand_depth=settings.max_expand_depth,
    )


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@router.get("", summary="Service root: entity sets and conformance")
def service_root(request: Request, settings: SettingsDep) -> Response:
    base = base_url(request, settings)
    return json_response(
        {
            "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITIES],
            "serverSettings": {
                "conformance": [
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
                ]
            },
        }
    )


def _add_collection(entity: Entity) -> None:
    name = entity.set_name

    def list_(
        request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
    ) -> Response:
        with engine.connect() as conn:
            reader = _reader(conn, request, settings, principal)
            opts = reader.options(_params(request))
            return json_response(reader.collection(entity, opts, path=name))

    async def create(
        request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
    ) -> Response:
        _authorise(principal, name)
        body = await read_json(request, settings)
        ident = await run_in_threadpool(_create, request, engine, principal, name, body, None)
        return _created(request, settings, name, ident)

    def get_one(
        request: Request,
        engine: EngineDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        id: int = ID,
    ) -> Response:
        with engine.connect() as conn:
            reader = _reader(conn, request, settings, principal)
            return json_response(reader.one(entity, id, reader.options(_params(request))))

    async def patch(
        request: Request,
        engine: EngineDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        id: int = ID,
    ) -> Response:
        _authorise(principal, name)
        body = await read_json(request, settings)

        def run() -> None:
            with engine.begin() as conn:
                Writer(conn, device_thing_id=principal.thing_id).update(name, id, body)

        await run_in_threadpool(run)
        return Response(status_code=200)

    def delete(engine: EngineDep, principal: PrincipalDep, id: int = ID) -> Response:
        _authorise(principal, name)
        with engine.begin() as conn:
            Writer(conn, device_thing_id=principal.thing_id).delete(name, id)
        return Response(status_code=200)

    one = f"/{name}({{id}})"
    for path, endpoint, method, summary, extra, status in (
        (f"/{name}", list_, "GET", f"List {name}", QUERY_DOC, 200),
        (f"/{name}", create, "POST", f"Create a {entity.name}", BODY_DOC, 201),
        (one, get_one, "GET", f"Get one {entity.name}", QUERY_DOC, 200),
        (one, patch, "PATCH", f"Update a {entity.name}", BODY_DOC, 200),
        (one, delete, "DELETE", f"Delete a {entity.name}", None, 200),
    ):
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            summary=summary,
            status_code=status,
            openapi_extra=extra,
            name=f"{method.lower()}_{path}",
        )
    for prop in entity.props:
        _add_property(entity, prop)
    for nav in entity.navs.values():
        _add_navigation(entity, nav)


def _add_property(entity: Entity, prop: str) -> None:
    def get_prop(
        request: Request,
        engine: EngineDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        id: int = ID,
    ) -> Response:
        with engine.connect() as conn:
            reader = _reader(conn, request, settings, principal)
            value = reader.one(entity, id, reader.options({"$select": prop}))
        return json_response({prop: value.get(prop)})

    def get_value(
        request: Request,
        engine: EngineDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        id: int = ID,
    ) -> Response:
        with engine.connect() as conn:
            reader = _reader(conn, request, settings, principal)
            value = reader.one(entity, id, reader.options({"$select": prop})).get(prop)
        if isinstance(value, str):
            return Response(value, media_type="text/plain")
        return json_response(value)

    router.add_api_route(
        f"/{entity.set_name}({{id}})/{prop}",
        get_prop,
        methods=["GET"],
        summary=f"{entity.name} property {prop}",
        name=f"prop_{entity.set_name}_{prop}",
    )
    router.add_api_route(
        f"/{entity.set_name}({{id}})/{prop}/$value",
        get_value,
        methods=["GET"],
        summary=f"Raw value of {entity.name}.{prop}",
        name=f"value_{entity.set_name}_{prop}",
    )


def _add_navigation(entity: Entity, nav: Nav) -> None:
    target = ENTITIES[nav.target]
    path = f"/{entity.set_name}({{id}})/{nav.name}"

    def get_nav(
        request: Request,
        engine: EngineDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        id: int = ID,
    ) -> Response:
        with engine.connect() as conn:
            reader = _reader(conn, request, settings, principal)
            opts = reader.options(_params(request))
            if not reader.exists(entity, id):
                raise NotFoundError(f"{entity.set_name}({id}) does not exist")
            parent = Parent(entity, id, nav)
            if nav.many:
                return json_response(
                    reader.collection(
                        target, opts, parent=parent, path=f"{entity.set_name}({id})/{nav.name}"
                    )
                )
            return json_response(reader.related_one(parent, opts))

    router.add_api_route(
        path,
        get_nav,
        methods=["GET"],
        summary=f"{nav.name} of a {entity.name}",
        openapi_extra=QUERY_DOC,
        name=f"nav_{entity.set_name}_{nav.name}",
    )
    if nav.kind == "many":
        back = next(
            n for n in target.navs.values() if n.kind == "one" and n.target == entity.set_name
        )

        async def create_child(
            request: Request,
            engine: EngineDep,
            settings: SettingsDep,
            principal: PrincipalDep,
            id: int = ID,
        ) -> Response:
            _authorise(principal, target.set_name)
            body = await read_json(request, settings)
            ident = await run_in_threadpool(
                _create, request, engine, principal, target.set_name, body, (back.name, id)
            )
            return _created(request, settings, target.set_name, ident)

        router.add_api_route(
            path,
            create_child,
            methods=["POST"],
            status_code=201,
            summary=f"Create a {target.name} of a {entity.name}",
            openapi_extra=BODY_DOC,
            name=f"create_{entity.set_name}_{nav.name}",
        )


def _authorise(principal: Principal, set_name: str) -> None:
    """Writes of observations need an observation writer; other entities an entity writer."""
    if set_name == "Observations":
        require_observation_writer(principal)
    else:
        require_entity_writer(principal)


def _create(
    request: Request,
    engine: Any,
    principal: Principal,
    set_name: str,
    body: Any,
    link: tuple[str, int] | None,
) -> int:
    with collecting(engine, request.app.state.stored_publisher) as conn:
        return Writer(conn, device_thing_id=principal.thing_id).create(set_name, body, link=link)


def _created(request: Request, settings: Settings, set_name: str, ident: int) -> Response:
    location = f"{base_url(request, settings)}/{set_name}({ident})"
    return json_response({"@iot.id": ident, "@iot.selfLink": location}, 201, {"Location": location})


@router.post(
    "/CreateObservations",
    status_code=201,
    openapi_extra=ARRAY_BODY_DOC,
    summary="Create many observations (dataArray extension)",
)
async def create_observations(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    """Bulk write: all rows or none. Answers the selfLink of each observation, in order."""
    require_observation_writer(principal)
    body = await read_json(request, settings)
    base = base_url(request, settings)

    def run() -> bytes:
        rows = parse_data_array(body)
        if len(rows) > settings.max_bulk_observations:
            from urbanops.errors import PayloadTooLargeError

            raise PayloadTooLargeError(
                f"{len(rows)} observations in one request; the limit is "
                f"{settings.max_bulk_observations}"
            )
        with collecting(engine, request.app.state.stored_publisher) as conn:
            result = write_observations(conn, rows, device_thing_id=principal.thing_id)
        prefix = f"{base}/Observations("
        return orjson.dumps([f"{prefix}{i})" for i in result.ids])

    payload = await run_in_threadpool(run)
    return Response(payload, status_code=201, media_type="application/json")


for _entity in ENTITIES.values():
    _add_collection(_entity)

__all__ = ["router"]
