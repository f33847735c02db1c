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
ZIP_MAGIC = b"PK\x03\x04"
RESULT_FILES = {
    "findings": ("findings.geojson", "application/geo+json"),
    "candidates": ("candidates.geojson", "application/geo+json"),
    "coverage": ("coverage.json", "application/json"),
    "report": ("report.html", "text/html; charset=utf-8"),
    "csv": ("findings.csv", "text/csv; charset=utf-8"),
    "frames": ("frames.geojson", "application/geo+json"),  # surveys uploaded as frames
}


def check_upload(role: str, head: bytes) -> str:
    """The file name to store an upload under, after checking its first bytes."""
    if role == "frames":
        if not head.startswith(ZIP_MAGIC):
            raise ValidationError(
                "frames: expected a ZIP archive of radiometric JPEGs", field="frames"
            )
        return "frames.zip"
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


#: Limits of an uploaded frame archive, checked while unpacking (a ZIP's declared sizes can lie).
MAX_ARCHIVE_MEMBERS = 20_000
MAX_FRAME_BYTES = 40 * 2**20
MAX_UNPACKED_BYTES = 64 * 2**30


def unpack_frames(archive: Path, dest: Path) -> Path:
    """The JPEGs of ``archive`` into ``dest`` (flat: only each member's base name is used, so
    no path leaves ``dest``), bounded in count, per-file and total size; other members are
    ignored."""
    import shutil
    import zipfile

    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise ValidationError("frames: not a readable ZIP archive", field="frames") from None
    dest.mkdir(parents=True, exist_ok=True)
    total = count = 0
    with zf:
        members = zf.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise ValidationError(
                f"frames: {len(members)} entries, more than {MAX_ARCHIVE_MEMBERS}", field="frames"
            )
        for info in members:
            base = Path(info.filename.replace("\\", "/")).name
            if info.is_dir() or not base.lower().endswith((".jpg", ".jpeg")) or base[0] == ".":
                continue
            if info.file_size > MAX_FRAME_BYTES:
                raise ValidationError(f"frames: {base} is larger than a frame can be")
            target = dest / base
            if target.exists():
                raise ValidationError(f"frames: {base} appears twice in the archive")
            written = 0
            with zf.open(info) as src, target.open("wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    total += len(chunk)
                    if written > MAX_FRAME_BYTES or total > MAX_UNPACKED_BYTES:
                        out.close()
                        shutil.rmtree(dest, ignore_errors=True)
                        raise ValidationError(f"frames: {base} unpacks larger than declared")
                    out.write(chunk)
            count += 1
    if count == 0:
        raise ValidationError("frames: the archive holds no JPEG frames", field="frames")
    return dest


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
    frames_zip = folder / "frames.zip"
    if network is None or (mosaic is None and not frames_zip.is_file()):
        raise ValidationError("the survey's input files are missing")
    built = None
    if mosaic is None:
        from urbanops.domains.thermal.frames import write_geojson
        from urbanops.domains.thermal.mosaic import inspect_frames

        frames_dir = unpack_frames(frames_zip, folder / "frames")
        result, built = inspect_frames(
            frames_dir,
            network,
            folder / "out",
            exclude=find("exclude"),
            progress=progress,
            dask_address=dask_address,
        )
        assert built.survey is not None
        write_geojson(built.survey, folder / "out" / "frames.geojson")
    else:
        result = inspect(
            mosaic, network, exclude=find("exclude"), progress=progress, dask_address=dask_address
        )
    progress(0.99, "writing the report")
    write_outputs(result, folder / "out")
    summary = result.summary()
    if built is not None and built.survey is not None:
        summary["frames"] = built.survey.summary()
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


def latest_findings(conn: Connection) -> dict[str, Any]:
    """The findings of the newest survey that has them, each tagged with its survey (GeoJSON).

    An empty FeatureCollection when no survey has finished: the map layer is simply empty.
    """
    import json

    rows = conn.execute(select(thermal_surveys).order_by(thermal_surveys.c.id.desc()).limit(50))
    for row in rows:
        path = Path(row.folder) / "out" / RESULT_FILES["findings"][0]
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            for feature in data.get("features", []):
                feature.setdefault("properties", {})["survey_id"] = row.id
            data["survey_id"] = row.id
            return data
    return {"type": "FeatureCollection", "features": [], "survey_id": None}
