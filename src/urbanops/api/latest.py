"""Dashboard read path: latest observation of many datastreams in one call; zones; health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from urbanops import __version__
from urbanops.api.deps import EngineDep, PrincipalDep, SettingsDep
from urbanops.api.responses import json_response
from urbanops.core.latest import latest_json, parse_bbox, parse_id_list
from urbanops.core.zones import zones_geojson
from urbanops.storage.engine import current_revision

router = APIRouter(tags=["Dashboard"])


@router.get("/api/v1/latest", summary="Latest observation of many datastreams")
def latest(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    datastreams: Annotated[
        str | None,
        Query(max_length=200_000, description="comma-separated Datastream ids (up to 10,000)"),
    ] = None,
    bbox: Annotated[
        str | None, Query(max_length=200, description="minLon,minLat,maxLon,maxLat (EPSG:4326)")
    ] = None,
    observed_property: Annotated[
        str | None, Query(max_length=255, description="ObservedProperty name or id, used with bbox")
    ] = None,
) -> Response:
    """The newest observation of each selected datastream.

    Select with ``datastreams=1,2,3`` or with ``bbox=...`` (the Things' Locations) optionally
    narrowed by ``observed_property``. Datastreams without observations are listed with
    ``result: null``.
    """
    ids = (
        parse_id_list(datastreams, limit=settings.max_latest_datastreams)
        if datastreams is not None
        else None
    )
    box = parse_bbox(bbox) if bbox is not None else None
    with engine.connect() as conn:
        rows = latest_json(
            conn,
            datastream_ids=ids,
            bbox=box,
            observed_property=observed_property,
            public_only=not (principal.can_read_all or settings.anonymous_read),
            limit=settings.max_latest_datastreams,
        )
    body = f'{{"count":{len(rows)},"value":[{",".join(rows)}]}}'
    return Response(body, media_type="application/json")


@router.get("/api/v1/zones", summary="City zones (districts) as GeoJSON")
def zones(engine: EngineDep, kind: Annotated[str | None, Query(max_length=50)] = None) -> Response:
    with engine.connect() as conn:
        return json_response(zones_geojson(conn, kind=kind), media_type="application/geo+json")


@router.get("/health", summary="Liveness and database status")
def health(engine: EngineDep) -> Response:
    revision = current_revision(engine)
    return json_response(
        {
            "status": "ok" if revision else "database not migrated",
            "version": __version__,
            "database": engine.dialect.name,
            "schema_revision": revision,
        }
    )
