"""``/open311/v2`` (GeoReport v2, JSON) and ``/api/v1/civic`` (staff workflow).

Open311 clients expect the spec's error bodies, ``[{"code": 404, "description": "..."}]``, so
the Open311 routes answer errors that way (with the same HTTP status the rest of the API
uses); the staff routes answer RFC 9457 problem+json like every other UrbanOps route.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from urbanops.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    read_json,
    require_entity_writer,
    require_reader,
)
from urbanops.api.responses import json_response
from urbanops.core.keys import authenticate
from urbanops.core.timeutil import parse_instant
from urbanops.domains.civic import complaints
from urbanops.domains.civic.services import load_services
from urbanops.errors import (
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UrbanOpsError,
    ValidationError,
)

MAX_FORM_BYTES = 64 * 1024


class Open311Route(APIRoute):
    """Errors as GeoReport v2 error lists."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except UrbanOpsError as exc:
                return JSONResponse([{"code": exc.status, "description": exc.detail}], exc.status)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
                text = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
                return JSONResponse([{"code": 400, "description": text}], 400)

        return handler


open311 = APIRouter(prefix="/open311/v2", tags=["Open311"], route_class=Open311Route)
staff = APIRouter(prefix="/api/v1/civic", tags=["Civic"])
router = APIRouter()
RID = Path(..., ge=1, le=2**31 - 1)
JURISDICTION = Query(None, max_length=100)


def _services(settings: Any) -> Any:
    return load_services(str(settings.civic_services) if settings.civic_services else None)


@open311.get("/services.json", summary="The complaint categories")
def service_list(settings: SettingsDep, jurisdiction_id: str | None = JURISDICTION) -> Response:
    return json_response([s.open311() for s in _services(settings).values()])


@open311.get("/services/{service_code}.json", summary="A category's definition")
def service_definition(
    settings: SettingsDep,
    service_code: str = Path(..., max_length=64),
    jurisdiction_id: str | None = JURISDICTION,
) -> Response:
    service = _services(settings).get(service_code)
    if service is None:
        raise NotFoundError(f"service_code {service_code!r} is not a service here")
    return json_response({"service_code": service.code, "attributes": []})


@open311.get("/requests.json", summary="Service requests (by ids, or filtered)")
def get_requests(
    engine: EngineDep,
    settings: SettingsDep,
    service_request_id: str | None = Query(None, max_length=11_000),
    service_code: str | None = Query(None, max_length=2000),
    start_date: str | None = Query(None, max_length=40),
    end_date: str | None = Query(None, max_length=40),
    status: str | None = Query(None, max_length=20),
    jurisdiction_id: str | None = JURISDICTION,
) -> Response:
    start = parse_instant(start_date, field="start_date") if start_date else None
    end = parse_instant(end_date, field="end_date") if end_date else None
    with engine.connect() as conn:
        found = complaints.list_requests(
            conn,
            _services(settings),
            service_request_id=service_request_id,
            service_code=service_code,
            start=start,
            end=end,
            status=status,
        )
    return json_response(found)


@open311.post("/requests.json", status_code=201, summary="Create a service request (api_key)")
async def post_request(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise PayloadTooLargeError(f"body larger than {MAX_FORM_BYTES} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype == "application/json":
        body = await read_json(request, settings)
        if not isinstance(body, dict):
            raise ValidationError("expected a JSON object")
        fields = {k: v if isinstance(v, str) or v is None else str(v) for k, v in body.items()}
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form(max_files=0, max_fields=100)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        raise ValidationError("send the request as application/x-www-form-urlencoded")
    key = fields.pop("api_key", None) or _bearer(request)
    if not key:
        raise AuthenticationError("api_key is required to create a service request")

    def run() -> list[dict[str, Any]]:
        with engine.begin() as conn:
            principal = authenticate(conn, key)
            if not principal.can_write_entities:
                raise PermissionDeniedError(f"a {principal.role} key cannot create requests")
            return [
                complaints.create_request(
                    conn, fields, _services(settings), key_id=principal.key_id
                )
            ]

    return json_response(await run_in_threadpool(run), status=201)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@open311.get("/requests/{service_request_id}.json", summary="One service request (a list)")
def get_request(
    engine: EngineDep,
    settings: SettingsDep,
    service_request_id: int = Path(..., ge=1, le=2**31 - 1),
    jurisdiction_id: str | None = JURISDICTION,
) -> Response:
    with engine.connect() as conn:
        row = complaints.get_row(conn, service_request_id)
        return json_response([complaints.open311(row, _services(settings))])


@open311.get("/tokens/{token}.json", summary="The request id behind a token")
def get_token(
    engine: EngineDep,
    token: str = Path(..., min_length=1, max_length=36),
    jurisdiction_id: str | None = JURISDICTION,
) -> Response:
    with engine.connect() as conn:
        return json_response(complaints.by_token(conn, token))


@staff.post("/requests/{request_id}/status", summary="Move a request along the workflow (staff)")
async def change_status(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    request_id: int = RID,
) -> Response:
    """``{"status", "note"?, "department"?, "duplicate_of"?}``; 409 when the move is not allowed."""
    require_entity_writer(principal, "change a request's status")
    body = await read_json(request, settings)
    if not isinstance(body, dict) or set(body) - {"status", "note", "department", "duplicate_of"}:
        raise ValidationError("expected {status, note?, department?, duplicate_of?}")
    dup = body.get("duplicate_of")
    if dup is not None and (not isinstance(dup, int) or isinstance(dup, bool) or dup < 1):
        raise ValidationError("duplicate_of: a request id", field="duplicate_of")
    for name in ("status", "note", "department"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ValidationError(f"{name}: text expected", field=name)

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            row = complaints.set_status(
                conn,
                request_id,
                body.get("status", ""),
                note=body.get("note"),
                department=body.get("department"),
                duplicate_of=dup,
                key_id=principal.key_id,
            )
            view = complaints.open311(row, _services(settings))
            view["workflow_status"] = row.status
            return view

    return json_response(await run_in_threadpool(run))


@staff.post(
    "/requests/{request_id}/photo",
    summary="Attach a photo to a complaint (JPEG, PNG or WebP, at most 10 MiB)",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"photo": {"type": "string", "format": "binary"}},
                        "required": ["photo"],
                    }
                }
            }
        }
    },
)
async def attach_photo(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    request_id: int = RID,
) -> Response:
    """Multipart ``photo``: checked to be a real image before it is stored; the complaint's
    ``media_url`` then points at it."""
    from starlette.datastructures import UploadFile

    from urbanops.domains.civic.photos import MAX_PHOTO_BYTES, store_photo

    require_entity_writer(principal, "attach photos")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise ValidationError("send the photo with a Content-Length header")
    if int(length) > MAX_PHOTO_BYTES + 64 * 1024:
        raise PayloadTooLargeError(f"photo larger than {MAX_PHOTO_BYTES // 2**20} MiB")
    try:
        form = await request.form(max_files=1, max_fields=2)
    except Exception as exc:  # malformed multipart
        raise ValidationError(f"not a valid multipart form ({exc})") from None
    upload = form.get("photo")
    if not isinstance(upload, UploadFile):
        raise ValidationError("photo: missing file", field="photo")
    data = await upload.read(MAX_PHOTO_BYTES + 1)

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            row = complaints.get_row(conn, request_id)
            name = store_photo(data, settings.data_dir, row.id)
            base = (settings.public_base_url or str(request.base_url)).rstrip("/")
            url = f"{base}/api/v1/civic/photos/{name}"
            complaints.set_media_url(conn, row.id, url)
            return {"service_request_id": str(row.id), "media_url": url}

    return json_response(await run_in_threadpool(run), status=201)


@staff.get("/photos/{name}", summary="A complaint's photo")
def get_photo(settings: SettingsDep, name: str = Path(..., max_length=100)) -> Response:
    from urbanops.domains.civic.photos import photo_path

    path = photo_path(settings.data_dir, name)
    kind = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[path.suffix[1:]]
    return Response(path.read_bytes(), media_type=kind, headers={"Cache-Control": "private"})


@staff.get("/requests/{request_id}/duplicates", summary="Possible duplicates (staff)")
def request_duplicates(
    engine: EngineDep, principal: PrincipalDep, request_id: int = RID
) -> Response:
    """Open complaints within 50 m with the same category or a similar description."""
    require_reader(principal, "duplicate suggestions")

    def run() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return complaints.suggest_duplicates(conn, request_id)

    return json_response({"value": run()})


@staff.get("/requests/{request_id}/history", summary="Every change of a request")
def request_history(engine: EngineDep, principal: PrincipalDep, request_id: int = RID) -> Response:
    require_reader(principal, "a request's history")
    with engine.connect() as conn:
        return json_response({"value": complaints.history(conn, request_id)})


_chat_lock = threading.Lock()
_chats: dict[str, Any] = {}


def get_chat(settings: Any, engine: Any) -> Any:
    """The chat over the current knowledge base (staff-edited in the database, else the file
    ``URBANOPS_CIVIC_KB``, else the starter base), rebuilt when it changes (thread-safe)."""
    from urbanops.domains.civic.chat import Chat
    from urbanops.domains.civic.kb import load_stored, read_kb, starter_kb
    from urbanops.domains.civic.retrieve import Retriever

    with engine.connect() as conn:
        stored, version = load_stored(conn)
    key = f"{version}|{settings.civic_kb or ''}"
    with _chat_lock:
        chat = _chats.get(key)
        if chat is None:
            if stored is not None:
                kb = stored
            elif settings.civic_kb:
                kb = read_kb(settings.civic_kb)
            else:
                kb = starter_kb()
            chat = Chat(Retriever(kb), _services(settings))
            _chats.clear()
            _chats[key] = chat
    return chat


@staff.get("/kb", summary="The knowledge base the chat answers from")
def get_kb(engine: EngineDep, settings: SettingsDep, principal: PrincipalDep) -> Response:
    from urbanops.domains.civic.kb import load_stored, read_kb, starter_kb

    require_reader(principal, "the knowledge base")
    with engine.connect() as conn:
        stored, version = load_stored(conn)
    kb = stored or (read_kb(settings.civic_kb) if settings.civic_kb else starter_kb())
    rows = [
        {"id": e.id, "lang": e.lang, "question": e.question, "answer": kb.answers[(e.id, e.lang)],
         "category": e.category}
        for e in kb.entries
    ]  # fmt: skip
    source = "stored" if stored else ("file" if settings.civic_kb else "starter")
    return json_response({"source": source, "version": version, "rows": rows})


@staff.put("/kb", summary="Replace the knowledge base (staff; all rows validated first)")
async def put_kb(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    """A JSON list of rows ``{id, lang, question, answer, category}``; one bad row refuses the
    whole list (naming it) and the stored base stays as it was."""
    from datetime import UTC, datetime

    from urbanops.domains.civic.kb import build_kb, store

    require_entity_writer(principal, "edit the knowledge base")
    body = await read_json(request, settings)
    if not isinstance(body, list):
        raise ValidationError("expected a JSON list of rows {id, lang, question, answer, category}")
    kb = build_kb(body, source="knowledge base", first_row=1)

    def run() -> int:
        with engine.begin() as conn:
            return store(conn, kb, now=datetime.now(UTC))

    count = await run_in_threadpool(run)
    return json_response({"rows": count, "answers": len(kb.ids)})


@staff.post("/chat", summary="One message of a conversation with the civil-service bot")
async def chat_message(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    """``{"conversation_id"?, "message", "lat"?, "lon"?, "photo_url"?}``: the bot answers from
    the knowledge base, collects a complaint, tells a complaint's status or hands off."""
    if not settings.civic_public_chat:
        if principal.role == "anonymous":
            raise AuthenticationError("the chat needs an API key (or URBANOPS_CIVIC_PUBLIC_CHAT)")
        if not (principal.can_write_entities or principal.role == "device"):
            raise PermissionDeniedError(f"a {principal.role} key cannot chat")
    body = await read_json(request, settings)
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    chat = await run_in_threadpool(get_chat, settings, engine)

    def run() -> dict[str, Any]:
        with engine.begin() as conn:
            return chat.reply(conn, body, key_id=principal.key_id)

    return json_response(await run_in_threadpool(run))


@staff.get("/conversations/{conversation_id}", summary="A conversation's transcript (staff)")
def conversation(
    engine: EngineDep,
    principal: PrincipalDep,
    conversation_id: str = Path(..., min_length=1, max_length=36),
) -> Response:
    from urbanops.domains.civic.chat import transcript

    require_reader(principal, "conversations")
    with engine.connect() as conn:
        return json_response(transcript(conn, conversation_id))


pages = APIRouter(prefix="/civic", tags=["Civic"], include_in_schema=False)


def _asset(name: str) -> bytes:
    from importlib import resources

    return (resources.files("urbanops") / "web" / "civic" / name).read_bytes()


@pages.get("/widget.js", summary="The embeddable chat widget")
def widget() -> Response:
    return Response(
        _asset("widget.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@pages.get("/chat", summary="A page with the chat widget")
def chat_page() -> Response:
    return Response(_asset("chat.html"), media_type="text/html; charset=utf-8")


router.include_router(pages)
router.include_router(open311)
router.include_router(staff)
