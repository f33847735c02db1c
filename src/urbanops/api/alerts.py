"""Alert rules and alerts: ``/api/v1/rules`` and ``/api/v1/alerts``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbanops.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    read_json,
    require_entity_writer,
    require_reader,
)
from urbanops.api.responses import json_response
from urbanops.core import alerting
from urbanops.core.keys import Principal
from urbanops.core.rule_store import (
    create_rule,
    delete_rule,
    get_rule,
    parse_patch,
    parse_rule,
    rule_public,
    update_rule,
)
from urbanops.errors import ValidationError
from urbanops.storage import tables as t

router = APIRouter(prefix="/api/v1", tags=["Alerts"])
RULE_ID = Path(..., ge=1, le=2**31 - 1)
ALERT_ID = Path(..., ge=1, le=2**31 - 1)  # one Path object per parameter name
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _note(body: Any) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) - {"note"}:
        raise ValidationError('expected {"note": "..."}', field="note")
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise ValidationError("note: a string of at most 2000 characters", field="note")
    return note


@router.get("/rules", summary="Alert rules")
def list_rules(engine: EngineDep, principal: PrincipalDep) -> Response:
    require_reader(principal, "alerts")
    with engine.connect() as conn:
        rows = conn.execute(select(t.alert_rules).order_by(t.alert_rules.c.id)).all()
    return json_response({"value": [rule_public(r) for r in rows]})


@router.post("/rules", status_code=201, openapi_extra=BODY, summary="Create an alert rule")
async def post_rule(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    require_entity_writer(principal)
    rule = parse_rule(await read_json(request, settings))

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            rid = create_rule(conn, rule)
            return rule_public(get_rule(conn, rid))

    return json_response(await run_in_threadpool(run), 201)


@router.get("/rules/{rule_id}", summary="One alert rule")
def get_one_rule(engine: EngineDep, principal: PrincipalDep, rule_id: int = RULE_ID) -> Response:
    require_reader(principal, "alerts")
    with engine.connect() as conn:
        return json_response(rule_public(get_rule(conn, rule_id)))


@router.patch("/rules/{rule_id}", openapi_extra=BODY, summary="Change a rule")
async def patch_rule(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    rule_id: int = RULE_ID,
) -> Response:
    require_entity_writer(principal)
    body = await read_json(request, settings)
    patch = parse_patch(body)

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            update_rule(conn, rule_id, patch)
            return rule_public(get_rule(conn, rule_id))

    return json_response(await run_in_threadpool(run))


@router.delete("/rules/{rule_id}", summary="Delete a rule and its alerts")
def remove_rule(engine: EngineDep, principal: PrincipalDep, rule_id: int = RULE_ID) -> Response:
    require_entity_writer(principal)
    with engine.begin() as conn:
        delete_rule(conn, rule_id)
    return Response(status_code=204)


@router.get("/alerts", summary="Alerts, newest first")
def list_alerts(
    engine: EngineDep,
    principal: PrincipalDep,
    state: Literal["open", "acknowledged", "resolved", "active"] | None = None,
    severity: Literal["info", "warning", "critical"] | None = None,
    rule_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    datastream_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    zone_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """``state=active`` lists open and acknowledged alerts; ``zone_id`` the alerts of
    aggregate rules about that zone."""
    require_reader(principal, "alerts")
    with engine.connect() as conn:
        found = alerting.list_alerts(
            conn,
            state=state,
            severity=severity,
            rule_id=rule_id,
            datastream_id=datastream_id,
            zone_id=zone_id,
            limit=limit,
            before_id=before_id,
        )
    return json_response({"value": found})


@router.get("/ngsi-ld/alerts", summary="Alerts as NGSI-LD entities (Smart Data Models Alert)")
def ngsi_ld_alerts(
    engine: EngineDep,
    principal: PrincipalDep,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """``application/ld+json`` entities, ready for an NGSI-LD context broker."""
    require_reader(principal, "alerts")
    from urbanops.core.ngsi_ld import alert_entities

    with engine.connect() as conn:
        entities = alert_entities(conn, active_only=active, limit=limit)
    return json_response(entities, media_type="application/ld+json")


@router.get("/alerts/{alert_id}", summary="One alert with its history")
def get_alert(engine: EngineDep, principal: PrincipalDep, alert_id: int = ALERT_ID) -> Response:
    require_reader(principal, "alerts")
    with engine.connect() as conn:
        return json_response(alerting.alert_with_history(conn, alert_id))


async def _transition(
    request: Request, engine: Any, settings: Any, principal: Principal, alert_id: int, action: Any
) -> Response:
    require_entity_writer(principal)
    note = _note(await read_json(request, settings, optional=True))

    def run() -> None:
        with engine.begin() as conn:
            action(conn, alert_id, by_key_id=principal.key_id, note=note)

    await run_in_threadpool(run)
    return Response(status_code=204)


@router.post("/alerts/{alert_id}/acknowledge", status_code=204, summary="Take an alert in hand")
async def acknowledge_alert(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    alert_id: int = ALERT_ID,
) -> Response:
    return await _transition(request, engine, settings, principal, alert_id, alerting.acknowledge)


@router.post("/alerts/{alert_id}/resolve", status_code=204, summary="Resolve an alert by hand")
async def resolve_alert(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    alert_id: int = ALERT_ID,
) -> Response:
    return await _transition(request, engine, settings, principal, alert_id, alerting.resolve)
