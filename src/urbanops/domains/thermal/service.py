"""Surveys as stored work: accept uploaded files, inspect them as a job, serve the results."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, insert, select, update

from urbanops.core.jobs import Progress
from urbanops.domains.thermal.tables import thermal_surveys
from urbanops.errors import NotFoundError, PayloadTooLargeError, ValidationError

#: First bytes of what an upload may be, checked before any parser sees the file.
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
GPKG_MAGIC = b"SQLite format 3\x00"
RESULT_FILES = {
    "findings": ("findings.geojson", "application/geo+json"),
    "candidates": ("candidates.geojson", "application/geo+json"),
    "coverage": ("coverage.json", "application/json"),
    "report": ("report.html", "text/html; charset=utf-8"),
    "csv": ("findings.csv", "text/csv; charset=utf-8"),
}


def check_upload(role: str, head: bytes) -> str:
    """The file name to store an upload under, after checking its first bytes."""
    if role == "mosaic":
        if not head.startswith(TIFF_MAGIC):
            raise ValidationError(
                "mosaic: not a GeoTIFF (the file does not start like a TIFF)", field="mosaic"
            )
        return "mosaic.tif"
    if head.startswith(GPKG_MAGIC):
        return f"{role}.gpkg"
    if head.lstrip()[:1] == b"{":
        return f"{role}.geojson"
    raise ValidationError(f"{role}: expected a GeoJSON or GeoPackage file", field=role)


def store_upload(src: BinaryIO, folder: Path, role: str, limit_bytes: int) -> Path:
    """Copy an upload into ``folder`` (type checked first, size bounded); returns its path."""
    head = src.read(64)
    name = check_upload(role, head)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    written = len(head)
    with path.open("wb") as dst:
        dst.write(head)
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > limit_bytes:
                dst.close()
                path.unlink(missing_ok=True)
                raise PayloadTooLargeError(f"{role}: larger than {limit_bytes} bytes")
            dst.write(chunk)
    return path


def create_survey(conn: Connection, name: str, folder: Path, job_id: int) -> int:
    return int(
        conn.execute(
            insert(thermal_surveys)
            .values(name=name, created_at=datetime.now(UTC), job_id=job_id, folder=str(folder))
            .returning(thermal_surveys.c.id)
        ).scalar_one()
    )


def run_survey(
    engine: Engine,
    survey_id: int,
    folder: Path,
    *,
    dask_address: str | None,
    progress: Progress,
) -> dict[str, Any]:
    """The job: inspect the stored inputs, write the results, record the summary."""
    from urbanops.domains.thermal.inspect import inspect
    from urbanops.domains.thermal.outputs import write_outputs

    def find(role: str) -> Path | None:
        for ext in ("tif", "geojson", "gpkg"):
            if (folder / f"{role}.{ext}").is_file():
                return folder / f"{role}.{ext}"
        return None

    mosaic, network = find("mosaic"), find("network")
    if mosaic is None or network is None:
        raise ValidationError("the survey's input files are missing")
    result = inspect(
        mosaic, network, exclude=find("exclude"), progress=progress, dask_address=dask_address
    )
    progress(0.99, "writing the report")
    write_outputs(result, folder / "out")
    summary = result.summary()
    with engine.begin() as conn:
        conn.execute(
            update(thermal_surveys).where(thermal_surveys.c.id == survey_id).values(summary=summary)
        )
    base = f"/api/v1/thermal/surveys/{survey_id}"
    return {
        "survey_id": survey_id,
        "summary": summary,
        "links": {k: f"{base}/{k}" for k in RESULT_FILES},
    }


def survey_public(row: Any) -> dict[str, Any]:
    from urbanops.core.timeutil import format_time

    base = f"/api/v1/thermal/surveys/{row.id}"
    return {
        "id": row.id,
        "name": row.name,
        "created_at": format_time(row.created_at),
        "job_id": row.job_id,
        "summary": row.summary,
        "links": {"job": f"/api/v1/jobs/{row.job_id}", **{k: f"{base}/{k}" for k in RESULT_FILES}},
    }


def get_survey(conn: Connection, survey_id: int) -> Any:
    row = conn.execute(select(thermal_surveys).where(thermal_surveys.c.id == survey_id)).first()
    if row is None:
        raise NotFoundError(f"survey {survey_id} does not exist")
    return row


def result_file(conn: Connection, survey_id: int, what: str) -> tuple[Path, str]:
    """Path and media type of a result; 404 while the inspection has not written it."""
    row = get_survey(conn, survey_id)
    name, media = RESULT_FILES[what]
    path = Path(row.folder) / "out" / name
    if not path.is_file():
        raise NotFoundError(f"survey {survey_id} has no {what} yet (see its job)")
    return path, media


def list_surveys(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(select(thermal_surveys).order_by(thermal_surveys.c.id.desc()).limit(limit))
    return [survey_public(r) for r in rows]
