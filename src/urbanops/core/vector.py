"""Read vector layers (GeoJSON, GeoPackage, Shapefile) in any CRS, and pick a metric CRS.

Shared by the domains that take user geometry files (pipe networks, zones): one reader that
turns every way a file can be unreadable into one :class:`~urbanops.errors.ValidationError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyproj import CRS
from shapely import wkb
from shapely.geometry.base import BaseGeometry

from urbanops.errors import ValidationError


def short_reason(exc: Exception) -> str:
    """The first line of an exception's message, at most 200 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


#: Larger vector files are refused before they are parsed.
MAX_BYTES = 512 * 2**20


def read_layer(
    path: Path,
    what: str,
    *,
    error: type[ValidationError] = ValidationError,
    max_bytes: int = MAX_BYTES,
) -> tuple[list[BaseGeometry | None], list[dict[str, Any]], CRS | None]:
    """Geometries, attributes and CRS of the first layer of a vector file.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage or Shapefile (anything GDAL's vector drivers read).
    what
        The input's name in error messages (``"network"``, ``"airspace"``).
    error
        The error class raised, a :class:`ValidationError`.
    max_bytes
        Files larger than this are refused before they are parsed.

    Returns
    -------
    The geometries (None where a feature has none), one dict of attributes per feature, and
    the layer's CRS (None when the file names none: GeoJSON is then EPSG:4326 by RFC 7946).
    """
    if not path.exists():
        raise error(f"{path}: no such file", field=what)
    if path.is_dir() and path.suffix.lower() not in (".gdb",):
        raise error(f"{path}: is a folder, not a {what} file", field=what)
    if path.is_file() and path.stat().st_size > max_bytes:
        raise error(
            f"{path.name}: {path.stat().st_size / 2**20:.0f} MiB; at most "
            f"{max_bytes / 2**20:.0f} MiB",
            field=what,
        )
    if path.is_file() and path.suffix.lower() in (".geojson", ".json"):
        return _read_geojson(path, what, error)
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        meta, _fids, geoms, fields = pyogrio.raw.read(path)
    except (DataSourceError, DataLayerError, ValueError, OSError) as exc:
        raise error(
            f"{path.name}: not a readable GeoJSON, GeoPackage or Shapefile ({short_reason(exc)})",
            field=what,
        ) from None
    crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    names = list(meta["fields"])
    rows = [{name: fields[j][i] for j, name in enumerate(names)} for i in range(len(geoms))]
    shapes: list[BaseGeometry | None] = []
    for i, g in enumerate(geoms):
        try:
            shapes.append(wkb.loads(bytes(g)) if g is not None else None)
        except Exception as exc:  # GEOS rejects some malformed geometries outright
            raise _unreadable_geometry(error, path, i, exc, what) from None
    return shapes, rows, crs


def _unreadable_geometry(
    error: type[ValidationError], path: Path, i: int, exc: Exception, what: str
) -> ValidationError:
    return error(
        f"{path.name}: feature {i} has a geometry that cannot be read ({short_reason(exc)})",
        field=what,
    )


_GEOMETRY_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection",
}  # fmt: skip


def _read_geojson(
    path: Path, what: str, error: type[ValidationError]
) -> tuple[list[BaseGeometry | None], list[dict[str, Any]], CRS | None]:
    """GeoJSON read directly (orjson + shapely): the same answer as through GDAL without
    importing it (half a second of a command's start-up when geopandas is installed).

    Reads a FeatureCollection, a single Feature or a bare geometry; a legacy ``crs`` member
    (``{"type": "name", "properties": {"name": "EPSG:5186"}}``) gives the CRS.
    """
    import orjson
    from shapely.geometry import shape

    bad = f"{path.name}: not a readable GeoJSON, GeoPackage or Shapefile"
    try:
        data = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as exc:
        raise error(f"{bad} ({short_reason(exc)})", field=what) from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection" and isinstance(data.get("features"), list):
        features = data["features"]
    elif kind == "Feature":
        features = [data]
    elif kind in _GEOMETRY_TYPES:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise error(f"{bad} (no FeatureCollection, Feature or geometry)", field=what)
    crs = None
    named = data.get("crs")
    if named is not None:
        try:
            crs = CRS.from_user_input(named["properties"]["name"])
        except Exception as exc:  # a malformed or unknown crs member
            raise error(
                f"{path.name}: unreadable crs member ({short_reason(exc)})", field=what
            ) from None
    shapes: list[BaseGeometry | None] = []
    rows: list[dict[str, Any]] = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise error(f"{path.name}: feature {i} is not an object", field=what)
        props = feature.get("properties")
        rows.append(dict(props) if isinstance(props, dict) else {})
        geometry = feature.get("geometry")
        if geometry is None:
            shapes.append(None)
            continue
        try:
            if not isinstance(geometry, dict) or geometry.get("type") not in _GEOMETRY_TYPES:
                raise ValueError("unknown geometry type")
            shapes.append(shape(geometry))
        except Exception as exc:  # shapely and GEOS reject malformed coordinates in many ways
            raise _unreadable_geometry(error, path, i, exc, what) from None
    return shapes, rows, crs


def utm_for(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone CRS that holds a point (a metric CRS valid anywhere)."""
    zone = min(60, int((lon + 180) // 6) + 1)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_crs_for(lon: float, lat: float, preferred: str | None = None) -> CRS:
    """``preferred`` (the city's metric CRS) if its area of use holds the point, else UTM."""
    if preferred:
        crs = CRS.from_user_input(preferred)
        area = crs.area_of_use
        if area is None or (area.west <= lon <= area.east and area.south <= lat <= area.north):
            return crs
    return utm_for(lon, lat)
