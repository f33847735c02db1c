"""``/api/v1/thermal``: upload a survey, follow its inspection, read its results."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from urbanops.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    require_entity_writer,
    require_reader,
)
from urbanops.api.responses import json_response
from urbanops.core.jobs import create_job
from urbanops.domains.thermal import service
from urbanops.errors import PayloadTooLargeError, ValidationError

router = APIRouter(prefix="/api/v1/thermal", tags=["Thermal inspection"])
SURVEY_ID = Path(..., ge=1, le=2**31 - 1)
UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["network"],
                    "properties": {
                        "mosaic": {"type": "string", "format": "binary"},
                        "frames": {"type": "string", "format": "binary"},
                        "network": {"type": "string", "format": "binary"},
                        "exclude": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": 255},
                    },
                }
            }
        },
    }
}


@router.post(
    "/surveys",
    status_code=202,
    openapi_extra=UPLOAD_DOC,
    summary="Upload a survey (mosaic GeoTIFF, pipe network, known features) and inspect it",
)
async def upload_survey(
    request: Request, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    """Multipart form with ``mosaic`` (GeoTIFF) or ``frames`` (a ZIP of radiometric JPEGs, as
    they come off the camera's card), ``network`` (GeoJSON or GeoPackage), optional ``exclude``
    and ``name``. Answers 202 with the job to follow."""
    require_entity_writer(principal, "upload surveys")
    length = request.headers.get("content-length")
    if length is None or not length.isascii() or not length.isdigit():
        raise ValidationError("send the upload with a Content-Length header")
    if int(length) > settings.max_upload_bytes:
        raise PayloadTooLargeError(
            f"upload of {length} bytes; the limit is {settings.max_upload_bytes}"
        )
    try:
        form = await request.form(max_files=4, max_fields=5)
    except Exception as exc:  # malformed multipart, too many parts
        raise ValidationError(f"not a valid multipart form ({exc})") from None
    files: dict[str, UploadFile] = {}
    for role in ("mosaic", "frames", "network", "exclude"):
        item: Any = form.get(role)
        if isinstance(item, UploadFile):
            files[role] = item
        elif item is not None:
            raise ValidationError(f"{role}: expected a file", field=role)
    if "network" not in files:
        raise ValidationError("network: missing file", field="network")
    if ("mosaic" in files) == ("frames" in files):
        raise ValidationError(
            "send either a mosaic (GeoTIFF) or frames (a ZIP of radiometric JPEGs)", field="mosaic"
        )
    source = files.get("mosaic") or files["frames"]
    name = form.get("name")
    name = name.strip()[:255] if isinstance(name, str) and name.strip() else source.filename
    folder = settings.data_dir / "thermal" / f"survey-{secrets.token_hex(8)}"

    def store() -> int:
        for role, upload in files.items():
            service.store_upload(upload.file, folder, role, settings.max_upload_bytes)
        with engine.begin() as conn:
            job_id = create_job(conn, "thermal.inspect", key_id=principal.key_id)
            survey_id = service.create_survey(conn, name[:255], folder, job_id)
        request.app.state.jobs.submit(
            job_id,
            lambda progress: service.run_survey(
                engine,
                survey_id,
                folder,
                dask_address=settings.dask_address,
                progress=progress,
            ),
        )
        return survey_id

    try:
        survey_id = await run_in_threadpool(store)
    except Exception:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # nothing half-stored
        raise
    with engine.connect() as conn:
        body = service.survey_public(service.get_survey(conn, survey_id))
    return json_response(body, 202, {"Location": body["links"]["job"]})


@router.get("/surveys", summary="Surveys, newest first")
def list_surveys(
    engine: EngineDep, principal: PrincipalDep, limit: int = Query(100, ge=1, le=1000)
) -> Response:
    require_reader(principal, "surveys")
    with engine.connect() as conn:
        return json_response({"value": service.list_surveys(conn, limit)})


@router.get("/findings", summary="Findings of the newest finished survey (GeoJSON, the map layer)")
def latest_findings(engine: EngineDep, principal: PrincipalDep) -> Response:
    require_reader(principal, "surveys")
    with engine.connect() as conn:
        return json_response(service.latest_findings(conn), media_type="application/geo+json")


@router.get("/surveys/{survey_id}", summary="A survey: its job, summary and result links")
def get_survey(engine: EngineDep, principal: PrincipalDep, survey_id: int = SURVEY_ID) -> Response:
    require_reader(principal, "surveys")
    with engine.connect() as conn:
        return json_response(service.survey_public(service.get_survey(conn, survey_id)))


def _result(what: str) -> Any:
    def route(
        engine: EngineDep, principal: PrincipalDep, survey_id: int = Path(..., ge=1, le=2**31 - 1)
    ) -> Response:
        require_reader(principal, "surveys")
        with engine.connect() as conn:
            path, media = service.result_file(conn, survey_id, what)
        return FileResponse(path, media_type=media)

    route.__name__ = f"survey_{what}"
    return route


for _what in service.RESULT_FILES:
    router.add_api_route(
        f"/surveys/{{survey_id}}/{_what}",
        _result(_what),
        methods=["GET"],
        summary=f"The survey's {service.RESULT_FILES[_what][0]}",
    )
