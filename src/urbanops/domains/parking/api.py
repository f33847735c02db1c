"""``/api/v1/parking``: availability, reservations (no double booking), NGSI-LD entities."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbanops.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    require_entity_writer,
    require_reader,
)
from urbanops.api.responses import json_response
from urbanops.domains.parking import service
from urbanops.errors import ValidationError

router = APIRouter(prefix="/api/v1/parking", tags=["Parking"])
RID = Path(..., ge=1, le=2**31 - 1)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 16_384:
        raise ValidationError("request body larger than 16 kB")
    import orjson

    try:
        body = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    return body


@router.get("/availability", summary="Bays free for a whole interval near a point, nearest first")
def availability(
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    lon: float = Query(..., ge=-180, le=180),
    lat: float = Query(..., ge=-90, le=90),
    radius_m: float = Query(500, gt=0, le=service.MAX_RADIUS_M),
    start: str = Query(..., max_length=40),
    end: str = Query(..., max_length=40),
    limit: int = Query(50, ge=1, le=500),
) -> Response:
    require_reader(principal, "parking availability")
    t0 = service.parse_instant(start, "start")
    t1 = service.parse_instant(end, "end")
    with engine.connect() as conn:
        found = service.availability(
            conn, lon, lat, radius_m, t0, t1, tz=settings.city_timezone, limit=limit
        )
    return json_response({"value": found, "count": len(found)})


@router.post("/reservations", status_code=201, summary="Reserve a bay (409 on overlap)")
async def create_reservation(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=100),
) -> Response:
    require_entity_writer(principal, "reserve a bay")
    body = await _body(request)
    bay_id = body.get("bay_id")
    if not isinstance(bay_id, str) or not bay_id or len(bay_id) > 255:
        raise ValidationError("bay_id: a bay id (string) is required", field="bay_id")
    start = service.parse_instant(body.get("start"), "start")
    end = service.parse_instant(body.get("end"), "end")
    row, new = await run_in_threadpool(
        service.reserve, engine, bay_id, start, end, tz=settings.city_timezone,
        idempotency_key=idempotency_key, key_id=principal.key_id,
    )  # fmt: skip
    headers = {"Location": f"/api/v1/parking/reservations/{row['id']}"}
    if not new:
        headers["Idempotent-Replayed"] = "true"
    return json_response(row, 201, headers)


@router.get("/reservations", summary="Reservations, by start time (filter by bay and status)")
def list_reservations(
    engine: EngineDep,
    principal: PrincipalDep,
    bay_id: str | None = Query(None, max_length=255),
    status: str | None = Query(None, pattern="^(reserved|active|cancelled|completed|no_show)$"),
    limit: int = Query(100, ge=1, le=1000),
) -> Response:
    require_reader(principal, "reservations")
    with engine.connect() as conn:
        value = service.list_reservations(conn, bay_id=bay_id, status=status, limit=limit)
    return json_response({"value": value})


@router.get("/reservations/{rid}", summary="One reservation")
def get_reservation(engine: EngineDep, principal: PrincipalDep, rid: int = RID) -> Response:
    require_reader(principal, "reservations")
    with engine.connect() as conn:
        return json_response(service.reservation_public(service.get_reservation(conn, rid)))


@router.post("/reservations/{rid}/cancel", summary="Cancel a reservation")
async def cancel_reservation(
    engine: EngineDep, principal: PrincipalDep, rid: int = RID
) -> Response:
    require_entity_writer(principal, "cancel a reservation")
    return json_response(await run_in_threadpool(service.cancel, engine, rid))


@router.post("/reservations/{rid}/extend", summary="Extend a reservation if the bay is still free")
async def extend_reservation(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    rid: int = RID,
) -> Response:
    require_entity_writer(principal, "extend a reservation")
    body = await _body(request)
    end = service.parse_instant(body.get("end"), "end")
    row = await run_in_threadpool(service.extend, engine, rid, end, tz=settings.city_timezone)
    return json_response(row)


@router.get("/bays.geojson", summary="Every bay with its status (GeoJSON, the map layer)")
def bays_geojson(engine: EngineDep) -> Response:
    """Public: which bays are free is what residents look for (Seoul's shared-parking app)."""
    with engine.connect() as conn:
        return json_response(service.bays_geojson(conn), media_type="application/geo+json")


@router.get("/ngsi-ld/entities", summary="Sites and bays as NGSI-LD (FIWARE ParkingSpot)")
def ngsi_ld_entities(
    engine: EngineDep,
    principal: PrincipalDep,
    options: str | None = Query(None, pattern="^keyValues$"),
) -> Response:
    require_reader(principal, "parking entities")
    with engine.connect() as conn:
        data = service.export_entities(conn, key_values=options == "keyValues")
    return json_response(data, media_type="application/ld+json")


@router.post("/ngsi-ld/entities", summary="Import NGSI-LD ParkingSpot / OffStreetParking entities")
async def import_entities(request: Request, engine: EngineDep, principal: PrincipalDep) -> Response:
    require_entity_writer(principal, "import parking entities")
    raw = await request.body()
    if len(raw) > 50 * 2**20:
        raise ValidationError("larger than 50 MB")
    import orjson

    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON ({exc})") from None

    def run() -> dict[str, int]:
        with engine.begin() as conn:
            return service.import_entities(conn, data)

    return json_response(await run_in_threadpool(run))
