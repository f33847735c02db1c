"""``/api/v1/taxi``: cabs, ride requests, binding matches, the cab's assignment stream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from urbanops.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    read_json,
    require_entity_writer,
    require_reader,
)
from urbanops.api.responses import json_response
from urbanops.api.sse import sse_response
from urbanops.domains.taxi import service
from urbanops.domains.taxi.dispatch import DispatchOptions
from urbanops.errors import AuthenticationError, ValidationError

router = APIRouter(prefix="/api/v1/taxi", tags=["Taxi"])
RID = Path(..., ge=1, le=2**31 - 1)
VID = Path(..., min_length=1, max_length=64)


async def _object(request: Request, settings: Any) -> dict[str, Any]:
    body = await read_json(request, settings)
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    return body


def _signed_in(principal: Any, action: str) -> None:
    if principal.role == "anonymous":
        raise AuthenticationError(f"an API key is needed to {action}")


@router.post("/vehicles", summary="Register a cab or update its equipment (operator)")
async def upsert_vehicle(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    require_entity_writer(principal, "register cabs")
    body = await _object(request, settings)

    def run() -> tuple[dict[str, Any], bool]:
        with engine.begin() as conn:
            return service.upsert_vehicle(conn, body)

    view, created = await run_in_threadpool(run)
    return json_response(view, status=201 if created else 200)


@router.get("/vehicles", summary="Every cab with its state and position")
def list_vehicles(
    engine: EngineDep, principal: PrincipalDep, state: str | None = Query(None, max_length=20)
) -> Response:
    require_reader(principal, "the cabs")
    if state is not None and state not in service.VEHICLE_STATES:
        raise ValidationError(f"state: one of {', '.join(service.VEHICLE_STATES)}", field="state")
    with engine.connect() as conn:
        views = service.list_vehicles(conn, state)
    return json_response({"value": views, "count": len(views)})


@router.get("/map.geojson", summary="Cabs on duty and waiting riders (GeoJSON, the map layer)")
def map_geojson(engine: EngineDep, principal: PrincipalDep) -> Response:
    require_reader(principal, "the cabs")
    with engine.connect() as conn:
        return json_response(service.map_geojson(conn), media_type="application/geo+json")


@router.get("/vehicles/{vehicle_id}", summary="The driver's view: state and the ride in hand")
def get_vehicle(
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    vehicle_id: str = VID,
) -> Response:
    _signed_in(principal, "see a cab")
    with engine.connect() as conn:
        if not principal.can_read_all:
            service.check_vehicle_access(conn, vehicle_id, principal)
        view = service.vehicle_view(conn, vehicle_id, _model_or_none(settings))
    return json_response(view)


def _model_or_none(settings: Any) -> Any:
    return service.get_model(settings) if service.network_path(settings) else None


@router.post("/vehicles/{vehicle_id}/position", summary="A cab's position (its device key)")
async def post_position(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    vehicle_id: str = VID,
) -> Response:
    _signed_in(principal, "report a position")
    body = await _object(request, settings)
    model = await run_in_threadpool(service.get_model, settings)

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            row = service.check_vehicle_access(conn, vehicle_id, principal)
            return service.report_position(
                conn, row, body, model, max_future_skew_s=settings.max_future_skew_s
            )

    return json_response(await run_in_threadpool(run))


@router.post("/vehicles/{vehicle_id}/state", summary="Go on duty (idle) or off duty (offline)")
async def post_state(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    vehicle_id: str = VID,
) -> Response:
    _signed_in(principal, "change a cab's state")
    body = await _object(request, settings)

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            row = service.check_vehicle_access(conn, vehicle_id, principal)
            return service.set_vehicle_state(conn, row, body)

    return json_response(await run_in_threadpool(run))


@router.get(
    "/vehicles/{vehicle_id}/assignments",
    summary="The cab's matches and ride changes (Server-Sent Events)",
    response_class=StreamingResponse,
)
async def assignments(
    request: Request,
    engine: EngineDep,
    principal: PrincipalDep,
    vehicle_id: str = VID,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Stream ``matched``, ``cancelled``, ``declined``... events of one cab as they happen.

    Each event's id is a cursor: reconnect with ``Last-Event-ID`` to resume after it.
    """
    _signed_in(principal, "follow a cab")

    def setup() -> int:
        with engine.connect() as conn:
            if not principal.can_read_all:
                service.check_vehicle_access(conn, vehicle_id, principal)
            else:
                service.vehicle_view(conn, vehicle_id)  # 404 for an unknown cab
            if last_event_id is not None:
                if not last_event_id.isdigit():
                    raise ValidationError("Last-Event-ID: an event id")
                return int(last_event_id)
            return service.last_event_id(conn)

    cursor = await run_in_threadpool(setup)

    after = cursor

    def fetch() -> list[tuple[str, str, bytes]]:
        nonlocal after
        with engine.connect() as conn:
            batch = service.events_after(conn, vehicle_id, after)
        if batch:
            after = batch[-1][0]
        return [(str(i), kind, orjson.dumps(data)) for i, kind, data in batch]

    return sse_response(request, fetch)


@router.post("/requests", status_code=201, summary="A rider asks for a cab (rider app's key)")
async def create_request(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=100),
) -> Response:
    require_entity_writer(principal, "request a ride")
    body = await _object(request, settings)
    model = await run_in_threadpool(service.get_model, settings)

    def run() -> tuple[dict[str, Any], bool]:
        with engine.begin() as conn:
            return service.create_request(
                conn, body, model, key_id=principal.key_id, idempotency_key=idempotency_key
            )

    view, created = await run_in_threadpool(run)
    return json_response(view, status=201 if created else 200)


@router.get("/requests/{request_id}", summary="The rider's view: status, cab and ETA")
def get_request(
    engine: EngineDep, settings: SettingsDep, principal: PrincipalDep, request_id: int = RID
) -> Response:
    require_reader(principal, "ride requests")
    with engine.connect() as conn:
        return json_response(service.request_view(conn, request_id, _model_or_none(settings)))


_ACTIONS = {
    "cancel": "cancel",
    "arriving": "arriving",
    "on-board": "on_board",
    "complete": "complete",
    "decline": "decline",
}


@router.post(
    "/requests/{request_id}/{action}",
    summary="A step of the ride: cancel (rider), arriving, on-board, complete, decline (cab)",
)
async def act(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    request_id: int = RID,
    action: Literal["cancel", "arriving", "on-board", "complete", "decline"] = Path(...),
) -> Response:
    """Apply one step; 409 (nothing applied) when the ride is not in a state that allows it.

    ``decline`` needs ``{"reason": "vehicle_fault" | "rider_no_show" | "safety"}``; the ride is
    then dispatched again at once, with priority, never to the cab that declined it.
    """
    _signed_in(principal, action.replace("-", " "))
    body = await read_json(request, settings, optional=True) or {}
    if not isinstance(body, dict) or set(body) - {"reason"}:
        raise ValidationError('expected no body, or {"reason": ...} with decline')

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            return service.transition(
                conn, request_id, _ACTIONS[action], principal, reason=body.get("reason")
            )

    view = await run_in_threadpool(run)
    if action == "decline":
        model = await run_in_threadpool(service.get_model, settings)
        options = DispatchOptions(max_pickup_s=settings.taxi_max_pickup_s)
        await run_in_threadpool(service.dispatch_round, engine, model, options)
    return json_response(view)


@router.get("/declines", summary="Declines counted by reason code and by cab")
def declines(engine: EngineDep, principal: PrincipalDep) -> Response:
    require_reader(principal, "declines")
    with engine.connect() as conn:
        return json_response(service.declines_summary(conn))


@router.post("/dispatch", summary="Run a dispatch batch now (operator)")
async def dispatch_now(
    engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    require_entity_writer(principal, "run a dispatch batch")
    model = await run_in_threadpool(service.get_model, settings)
    result = await run_in_threadpool(
        service.dispatch_round,
        engine,
        model,
        DispatchOptions(max_pickup_s=settings.taxi_max_pickup_s),
    )
    return json_response(result.as_dict())
