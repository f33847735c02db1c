"""Webhook subscriptions and their delivery log: ``/api/v1/webhooks``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import delete, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbanops.api.deps import EngineDep, PrincipalDep, SettingsDep, read_json, require_admin
from urbanops.api.responses import json_response
from urbanops.core import webhooks
from urbanops.core.timeutil import format_time
from urbanops.storage import tables as t

router = APIRouter(prefix="/api/v1/webhooks", tags=["Webhooks"])
SUB_ID = Path(..., ge=1, le=2**31 - 1)
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "",
    status_code=201,
    openapi_extra=BODY,
    summary="Subscribe a URL to alert events (the secret is shown once)",
)
async def subscribe(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    require_admin(principal)
    body = await read_json(request, settings)

    def run() -> dict[str, object]:
        with engine.begin() as conn:
            return webhooks.create_subscription(conn, body)

    return json_response(await run_in_threadpool(run), 201)


@router.get("", summary="Subscriptions with their delivery state (no secrets)")
def list_subscriptions(engine: EngineDep, principal: PrincipalDep) -> Response:
    require_admin(principal)
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(t.webhook_subscriptions.c.id).order_by(t.webhook_subscriptions.c.id)
            )
            .scalars()
            .all()
        )
        return json_response({"value": [webhooks.public(conn, i) for i in ids]})


@router.get("/{sub_id}/deliveries", summary="Delivery log, newest first")
def deliveries(
    engine: EngineDep,
    principal: PrincipalDep,
    sub_id: int = SUB_ID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    require_admin(principal)
    d = t.webhook_deliveries
    with engine.connect() as conn:
        webhooks.public(conn, sub_id)  # 404 if unknown
        rows = conn.execute(
            select(d).where(d.c.subscription_id == sub_id).order_by(d.c.id.desc()).limit(limit)
        ).all()
    return json_response(
        {
            "value": [
                {
                    "event_id": r.alert_event_id,
                    "attempt": r.attempt,
                    "at": format_time(r.at),
                    "status_code": r.status_code,
                    "error": r.error,
                    "delivered": r.delivered,
                }
                for r in rows
            ]
        }
    )


@router.delete("/{sub_id}", status_code=204, summary="Unsubscribe")
def unsubscribe(engine: EngineDep, principal: PrincipalDep, sub_id: int = SUB_ID) -> Response:
    require_admin(principal)
    with engine.begin() as conn:
        webhooks.public(conn, sub_id)
        conn.execute(delete(t.webhook_subscriptions).where(t.webhook_subscriptions.c.id == sub_id))
    return Response(status_code=204)
