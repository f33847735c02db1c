"""``/api/v1/heat``: the live heat map (summary, GeoTIFFs, XYZ tiles, legends)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from urbanops.api.deps import EngineDep, PrincipalDep, SettingsDep, require_reader
from urbanops.api.responses import json_response
from urbanops.domains.heat import service
from urbanops.errors import NotFoundError

router = APIRouter(prefix="/api/v1/heat", tags=["Heat map"])
LAYERS = ("air_temp", "apparent_temp", "uncertainty")


@router.get("/map", summary="The current heat map (rebuilt when newer observations arrived)")
async def current_map(
    engine: EngineDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    require_reader(principal, "the heat map")
    s = await run_in_threadpool(
        service.current_map, engine, settings.data_dir, metric_crs=settings.metric_crs
    )
    s = dict(s)
    s["links"] = {
        layer: f"/api/v1/heat/map/{layer}.tif"
        for layer in LAYERS
        if (service.current_dir(settings.data_dir) / f"{layer}.tif").exists()
    }
    s["links"]["tiles"] = "/api/v1/heat/tiles/{layer}/{z}/{x}/{y}.png"
    return json_response(s)


LAYER = Path(..., pattern="^[a-z_]{1,20}$")


def _current_file(
    data_dir: Any, layer: str, relative: str, media_type: str, missing: str, **kw: Any
) -> Response:
    """A file of the current map, or a 404 problem (unknown layer or not built)."""
    path = service.current_dir(data_dir) / relative
    if layer not in LAYERS or not path.exists():
        raise NotFoundError(missing)
    return FileResponse(path, media_type=media_type, **kw)


@router.get("/map/{layer}.tif", summary="A layer of the current map as GeoTIFF")
def map_layer(settings: SettingsDep, principal: PrincipalDep, layer: str = LAYER) -> Response:
    require_reader(principal, "the heat map")
    return _current_file(
        settings.data_dir, layer, f"{layer}.tif", "image/tiff",
        f"no layer {layer!r} in the current map (GET /api/v1/heat/map first)",
        filename=f"{layer}.tif",
    )  # fmt: skip


@router.get("/tiles/{layer}/{z}/{x}/{y}.png", summary="An XYZ tile of the current map")
def tile(
    settings: SettingsDep,
    principal: PrincipalDep,
    layer: str = LAYER,
    z: int = Path(..., ge=0, le=22),
    x: int = Path(..., ge=0, le=2**22),
    y: int = Path(..., ge=0, le=2**22),
) -> Response:
    require_reader(principal, "the heat map")
    return _current_file(
        settings.data_dir, layer, f"tiles/{layer}/{z}/{x}/{y}.png", "image/png",
        f"no tile {layer}/{z}/{x}/{y} in the current map",
    )  # fmt: skip


@router.get("/legend/{layer}.png", summary="The colour scale of a layer's tiles")
def legend(settings: SettingsDep, principal: PrincipalDep, layer: str = LAYER) -> Response:
    require_reader(principal, "the heat map")
    return _current_file(
        settings.data_dir, layer, f"legend_{layer}.png", "image/png", f"no legend for {layer!r}"
    )


@router.get("/advisories", summary="KMA heat-wave level per district for the latest day")
async def advisories(engine: EngineDep, settings: SettingsDep, principal: PrincipalDep) -> Response:
    """Each district's level (``advisory``, ``warning`` or ``""``) on the latest day with data,
    with its daily maximum apparent temperature (the dashboard's heat-wave indicator)."""
    require_reader(principal, "heat advisories")
    with engine.connect() as conn:
        end, _ = service.latest_stamp(conn)
    if end is None:
        return json_response({"value": []})
    levels = await run_in_threadpool(
        service.district_levels, engine, end, tz=settings.city_timezone
    )
    latest = levels.sort_values("date").groupby("district").tail(1) if len(levels) else levels
    value = [
        {
            "zone_id": int(r.district),
            "name": r.name,
            "date": str(r.date),
            "max_apparent_c": round(float(r.max_apparent_c), 2),
            "level": r.level,
        }
        for r in latest.sort_values("district").itertuples()
    ]
    return json_response({"value": value})
