"""Vector layers: the direct GeoJSON reader agrees with GDAL's and refuses bad files clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import CRS

from urbanops.core.vector import read_layer
from urbanops.errors import ValidationError

LINES = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"id": "P-1", "depth_m": 1.2},
         "geometry": {"type": "LineString", "coordinates": [[127.1, 37.4], [127.11, 37.41]]}},
        {"type": "Feature", "properties": {"id": "P-2", "dn": 300},
         "geometry": {"type": "MultiLineString", "coordinates": [
             [[127.1, 37.4], [127.1, 37.42]], [[127.0, 37.0], [127.0, 37.1]]]}},
        {"type": "Feature", "properties": {"id": "P-3"}, "geometry": None},
    ],
}  # fmt: skip


def _write(tmp_path: Path, data: object, name: str = "layer.geojson") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_same_answer_as_gdal(tmp_path: Path) -> None:
    import pyogrio
    from shapely import wkb

    path = _write(tmp_path, LINES)
    shapes, rows, crs = read_layer(path, "network")
    meta, _fids, geoms, _fields = pyogrio.raw.read(path)
    gdal = [wkb.loads(bytes(g)) if g is not None else None for g in geoms]
    assert len(shapes) == len(gdal) == 3
    for ours, theirs in zip(shapes, gdal, strict=True):
        assert (ours is None and theirs is None) or ours.equals(theirs)
    assert [r.get("id") for r in rows] == ["P-1", "P-2", "P-3"]
    assert rows[0]["depth_m"] == 1.2 and rows[1]["dn"] == 300
    assert crs is None  # RFC 7946: WGS 84; GDAL says the same in its own words
    assert CRS.from_user_input(meta["crs"]).equals(CRS.from_epsg(4326))


def test_crs_member_single_feature_and_bare_geometry(tmp_path: Path) -> None:
    projected = {
        **LINES,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5186"}},
    }
    _, _, crs = read_layer(_write(tmp_path, projected), "network")
    assert crs is not None and crs.equals(CRS.from_epsg(5186))
    shapes, rows, _ = read_layer(_write(tmp_path, LINES["features"][0]), "network")
    assert len(shapes) == 1 and rows == [{"id": "P-1", "depth_m": 1.2}]
    point = {"type": "Point", "coordinates": [127.0, 37.5]}
    shapes, rows, _ = read_layer(_write(tmp_path, point), "exclude")
    assert shapes[0].x == 127.0 and rows == [{}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"type": "FeatureCollection", "features": [', "not a readable GeoJSON"),
        ("\x00\x01binary", "not a readable GeoJSON"),
        ('{"type": "Topology"}', "no FeatureCollection, Feature or geometry"),
        ("[1, 2, 3]", "no FeatureCollection, Feature or geometry"),
        ('{"type": "FeatureCollection", "features": [7]}', "feature 0 is not an object"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
         ' "geometry": {"type": "LineString", "coordinates": [[1]]}}]}',
         "feature 0 has a geometry that cannot be read"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
         ' "geometry": {"type": "Circle", "coordinates": [1, 2]}}]}',
         "feature 0 has a geometry that cannot be read"),
        ('{"type": "FeatureCollection", "features": [], "crs": {"type": "name",'
         ' "properties": {"name": "EPSG:999999"}}}', "unreadable crs member"),
    ],
)  # fmt: skip
def test_bad_files_are_refused_clearly(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_layer(_write(tmp_path, content), "network")


def test_size_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        read_layer(tmp_path / "nope.geojson", "network")
    big = _write(tmp_path, LINES)
    with pytest.raises(ValidationError, match="at most"):
        read_layer(big, "network", max_bytes=10)
