"""Dashboard read path: latest observation of many datastreams in one call; zones; health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from urbanops import __version__
from urbanops.api.deps import EngineDep, PrincipalDep, SettingsDep
from urbanops.api.responses import json_response
from urbanops.core.latest import latest_json, parse_bbox, parse_id_list
from urbanops.core.map_read import city_summary, parse_fields, sensor_points
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


@router.get("/api/v1/map/sensors", summary="Every located sensor with its newest value (columns)")
def map_sensors(
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    bbox: Annotated[
        str | None, Query(max_length=200, description="minLon,minLat,maxLon,maxLat (EPSG:4326)")
    ] = None,
    observed_property: Annotated[
        str | None, Query(max_length=255, description="ObservedProperty name or id")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=2_000_000)] = None,
    fields: Annotated[
        str | None, Query(max_length=200, description="columns besides id, e.g. value,time")
    ] = None,
) -> Response:
    """Positions and newest values of up to ``max_map_assets`` datastreams, one array per field.

    Anonymous callers see public Things only (unless the server allows anonymous reading).
    """
    box = parse_bbox(bbox) if bbox is not None else None
    cap = min(limit or settings.max_map_assets, settings.max_map_assets)
    with engine.connect() as conn:
        body = sensor_points(
            conn,
            bbox=box,
            observed_property=observed_property,
            public_only=not (principal.can_read_all or settings.anonymous_read),
            limit=cap,
            fields=parse_fields(fields) if fields is not None else None,
        )
    return json_response(body)


@router.get("/api/v1/summary", summary="Sensors online, readings per minute, active alerts")
def summary(
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    since_observation: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="observation_cursor of an earlier call"),
    ] = None,
) -> Response:
    """The control room's figures; alerts are counted only for keys that may read them."""
    with engine.connect() as conn:
        body = city_summary(
            conn,
            stale_after_s=settings.stale_after_s,
            since_observation=since_observation,
            public_only=not (principal.can_read_all or settings.anonymous_read),
            with_alerts=principal.can_read_all,
        )
    return json_response(body)


@router.get("/api/v1/me", summary="The caller's role (what the dashboard may offer)")
def me(principal: PrincipalDep) -> Response:
    """``anonymous`` without a key, 401 with a wrong one; never any secret."""
    return json_response(
        {
            "role": principal.role,
            "key_id": principal.key_id,
            "can_read_all": principal.can_read_all,
            "can_write_entities": principal.can_write_entities,
        }
    )


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
