"""Validation of SensorThings request bodies at the edge: types, bounds, unknown fields.

Every error names the field path (``Datastreams[0].unitOfMeasurement``) so a client can fix its
request without reading server logs.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from urbanops.core.timeutil import TimeValue, parse_instant, parse_time
from urbanops.errors import ValidationError
from urbanops.storage import tables as t

MAX_JSON_DEPTH = 32
MAX_GEOMETRY_POINTS = 100_000


def fail(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}" if path else message, field=path or None)


def check_finite(value: Any, path: str, depth: int = 0) -> None:
    """Refuse NaN/inf anywhere in a JSON value, and absurd nesting."""
    if depth > MAX_JSON_DEPTH:
        raise fail(path, f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail(path, "NaN and infinity are not valid JSON numbers")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, f"{path}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_finite(v, f"{path}[{i}]", depth + 1)


def string(value: Any, path: str, max_length: int | None) -> str:
    if not isinstance(value, str):
        raise fail(path, f"expected a string, got {_typename(value)}")
    if max_length is not None and len(value) > max_length:
        raise fail(path, f"longer than {max_length} characters")
    return value


def json_object(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(path, f"expected a JSON object, got {_typename(value)}")
    check_finite(value, path)
    return value


def unit_of_measurement(value: Any, path: str) -> dict[str, Any]:
    obj = json_object(value, path)
    if obj is None:
        raise fail(path, "required")
    for key in obj:
        if key not in ("name", "symbol", "definition"):
            raise fail(f"{path}.{key}", "unknown field (allowed: name, symbol, definition)")
        if obj[key] is not None and not isinstance(obj[key], str):
            raise fail(f"{path}.{key}", "expected a string or null")
    return obj


def geometry(value: Any, path: str) -> str:
    """Validate a GeoJSON geometry (or Feature) in lon/lat and return it as GeoJSON text."""
    if not isinstance(value, dict):
        raise fail(path, f"expected a GeoJSON object, got {_typename(value)}")
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise fail(path, "Feature without a geometry")
    gtype = value.get("type")
    if gtype not in (
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
    ):
        raise fail(path, f"unsupported or missing GeoJSON type {gtype!r}")
    coords = value.get("coordinates")
    flat: list[float] = []
    _flatten(coords, flat, path, 0)
    if not flat:
        raise fail(path, "coordinates missing or malformed")
    from shapely.geometry import shape

    try:
        geom = shape({"type": gtype, "coordinates": coords})
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise fail(path, f"invalid coordinates ({exc})") from None
    if geom.is_empty:
        raise fail(path, "empty geometry")
    import shapely

    xy = shapely.get_coordinates(geom)
    if len(xy) > MAX_GEOMETRY_POINTS:
        raise fail(path, f"more than {MAX_GEOMETRY_POINTS} points")
    lon, lat = xy[:, 0], xy[:, 1]
    if not (lon.min() >= -180 and lon.max() <= 180):
        raise fail(path, "longitude outside -180..180 (GeoJSON order is [lon, lat])")
    if not (lat.min() >= -90 and lat.max() <= 90):
        raise fail(path, "latitude outside -90..90 (GeoJSON order is [lon, lat])")
    return orjson.dumps({"type": gtype, "coordinates": coords}).decode()


def _flatten(coords: Any, out: list[float], path: str, depth: int) -> None:
    if depth > 4:
        raise fail(path, "coordinates nested too deeply")
    if isinstance(coords, list):
        for c in coords:
            _flatten(c, out, path, depth + 1)
    elif isinstance(coords, int | float) and not isinstance(coords, bool):
        if not math.isfinite(coords):
            raise fail(path, "coordinates must be finite numbers")
        out.append(float(coords))
    else:
        raise fail(path, f"coordinates must be numbers, got {_typename(coords)}")


def instant(value: Any, path: str) -> Any:
    try:
        return parse_instant(value, field=path)
    except ValidationError as exc:
        raise fail("", exc.detail) from None


def interval(value: Any, path: str) -> TimeValue:
    try:
        return parse_time(value, field=path)
    except ValidationError as exc:
        raise fail("", exc.detail) from None


def result(value: Any, path: str) -> tuple[int, float | None, str | None, Any]:
    """Split a result into (kind, number, string, json) as stored."""
    if isinstance(value, bool):
        return t.RESULT_BOOL, 1.0 if value else 0.0, None, None
    if isinstance(value, int | float):
        f = float(value)
        if not math.isfinite(f):
            raise fail(path, "NaN and infinity are not valid results")
        return t.RESULT_NUMBER, f, None, None
    if isinstance(value, str):
        if len(value) > 100_000:
            raise fail(path, "string result longer than 100000 characters")
        return t.RESULT_STRING, None, value, None
    check_finite(value, path)
    return t.RESULT_JSON, None, None, value


def reference_id(value: Any, path: str) -> int | None:
    """The id of a ``{"@iot.id": n}`` reference, or None if ``value`` is an inline entity.

    As in STA 1.1 (section 10.2.1), a nested object carrying ``@iot.id`` links the existing
    entity; any other properties sent with it (clients such as frost-sta-client send the whole
    entity) are ignored.
    """
    if isinstance(value, dict) and "@iot.id" in value:
        return entity_id(value["@iot.id"], f"{path}.@iot.id")
    if not isinstance(value, dict):
        raise fail(path, f"expected an entity or a reference, got {_typename(value)}")
    return None


def entity_id(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        else:
            raise fail(path, f"expected an integer id, got {_typename(value)}")
    if not 1 <= value < 2**63:
        raise fail(path, "id out of range")
    return value


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)
