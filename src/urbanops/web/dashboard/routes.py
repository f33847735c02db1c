"""Serve the dashboard: the page, its configuration, its scripts and Leaflet (from xstatic).

Everything the browser runs comes from this server (Leaflet from the ``xstatic-leaflet``
package), so the dashboard works without internet; only the basemap tiles are fetched from
``dashboard_tile_url`` when one is set. The page sends a Content-Security-Policy that allows
scripts from this server only and images from it and the tile server.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from urbanops import __version__
from urbanops.api.deps import SettingsDep
from urbanops.api.responses import json_response
from urbanops.errors import NotFoundError, PayloadTooLargeError
from urbanops.settings import Settings

router = APIRouter(include_in_schema=False)

#: The dashboard's own files (anything else is 404: no path from the request reaches the disk).
STATIC = {
    "app.js": "text/javascript",
    "api.js": "text/javascript",
    "i18n.js": "text/javascript",
    "points.js": "text/javascript",
    "chart.js": "text/javascript",
    "layers.js": "text/javascript",
    "incidents.js": "text/javascript",
    "indicators.js": "text/javascript",
    "dashboard.css": "text/css",
}
LEAFLET = {
    "leaflet.js": "text/javascript",
    "leaflet.css": "text/css",
    "images/layers.png": "image/png",
    "images/layers-2x.png": "image/png",
    "images/marker-icon.png": "image/png",
    "images/marker-icon-2x.png": "image/png",
    "images/marker-shadow.png": "image/png",
}
MAX_STREETS_BYTES = 50 * 2**20


def _static_dir() -> Path:
    return Path(str(resources.files("urbanops") / "web" / "dashboard" / "static"))


def _leaflet_dir() -> Path:
    import xstatic.pkg.leaflet as leaflet

    return Path(leaflet.BASE_DIR)


def _origin(url: str) -> str | None:
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme in ("http", "https") and parts.netloc:
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in url else parts.netloc
        return f"{parts.scheme}://{host}"
    return None


def content_security_policy(settings: Settings) -> str:
    """Scripts and data from this server only; images also from the basemap's tile server."""
    tiles = _origin(settings.dashboard_tile_url) if settings.dashboard_tile_url else None
    img = "'self' data: blob:" + (f" {tiles}" if tiles else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; "
        "form-action 'self'"
    )


def dashboard_config(settings: Settings) -> dict[str, Any]:
    """What the page needs before its first API call: basemap, map view, layers, time zone."""
    from urbanops.domains import ALL

    layers = [layer.public() | {"domain": d.name} for d in ALL for layer in d.layers]
    return {
        "version": __version__,
        "tile_url": settings.dashboard_tile_url or None,
        "tile_attribution": settings.dashboard_tile_attribution,
        "center": list(settings.dashboard_center),
        "zoom": settings.dashboard_zoom,
        "streets": "/dashboard/streets.geojson" if settings.dashboard_streets else None,
        "timezone": settings.city_timezone,
        "stale_after_s": settings.stale_after_s,
        "anonymous_read": settings.anonymous_read,
        "layers": layers,
    }


@router.get("/")
def page(settings: SettingsDep) -> Response:
    body = (_static_dir() / "index.html").read_bytes()
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": content_security_policy(settings),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@router.get("/dashboard/config.json")
def config(settings: SettingsDep) -> Response:
    return json_response(dashboard_config(settings))


@router.get("/dashboard/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise NotFoundError(f"no dashboard file {name!r}")
    return FileResponse(
        _static_dir() / name,
        media_type=f"{STATIC[name]}; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/dashboard/vendor/leaflet/{name:path}")
def leaflet(name: str) -> Response:
    if name not in LEAFLET:
        raise NotFoundError(f"no Leaflet file {name!r}")
    return FileResponse(
        _leaflet_dir() / name,
        media_type=LEAFLET[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/dashboard/streets.geojson")
def streets(request: Request, settings: SettingsDep) -> Response:
    """The local street lines of the offline basemap (``URBANOPS_DASHBOARD_STREETS``)."""
    path = settings.dashboard_streets
    if path is None or not path.is_file():
        raise NotFoundError("no local streets configured (URBANOPS_DASHBOARD_STREETS)")
    if path.stat().st_size > MAX_STREETS_BYTES:
        raise PayloadTooLargeError(
            f"{path.name} is larger than {MAX_STREETS_BYTES // 2**20} MB: simplify it first"
        )
    return FileResponse(path, media_type="application/geo+json")
