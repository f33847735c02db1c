"""Thermal inspection end to end on a generated survey: findings, files, CRSs, tiles, Dask."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from tests.domains.thermal.conftest import as_set, strong_leaks, write_json
from urbanops.domains.thermal import synthetic
from urbanops.domains.thermal.inspect import inspect
from urbanops.domains.thermal.models import InspectParams
from urbanops.domains.thermal.outputs import FIELDS

CONTRACT = {
    "id",
    "kind",
    "score",
    "severity",
    "delta_t_c",
    "peak_c",
    "area_m2",
    "pipe_id",
    "distance_to_pipe_m",
}


def test_strong_leaks_are_found_and_distractors_are_not_findings(
    scene: dict[str, Any], inspected: dict[str, Any]
) -> None:
    result, truth = inspected["result"], scene["truth"]
    leaks = strong_leaks(truth)
    assert len(leaks) >= 5
    found = [
        lk
        for lk in leaks
        if any(math.hypot(f.x - lk["x"], f.y - lk["y"]) <= 2.5 for f in result.findings)
    ]
    assert len(found) >= len(leaks) - 1, f"{len(found)} of {len(leaks)} strong leaks found"
    known = [d for d in truth["distractors"] if d["kind"] in ("manhole", "chamber", "car")]
    hot_objects = [d for d in known if (d.get("excess_c") or 0) >= 3]
    for f in result.findings:  # no finding sits on a hot surface object far from any leak
        on_object = any(math.hypot(f.x - d["x"], f.y - d["y"]) < 0.8 for d in hot_objects)
        near_leak = any(math.hypot(f.x - lk["x"], f.y - lk["y"]) < 4 for lk in truth["leaks"])
        assert not on_object or near_leak, f"{f.id} is on a car, manhole or chamber"
    kinds = {f.kind for f in result.findings}
    assert kinds <= {"leak", "insulation"}
    assert all(0 <= f.score <= 1 for f in result.findings + result.candidates)
    assert [f.score for f in result.findings] == sorted(
        (f.score for f in result.findings), reverse=True
    )
    assert {f.kind for f in result.candidates} & {"other"}  # cars and lids end up here


def test_output_files_follow_the_contract(scene: dict[str, Any], inspected: dict[str, Any]) -> None:
    paths = inspected["paths"]
    fc = json.loads(paths["findings"].read_text())
    assert fc["type"] == "FeatureCollection" and "crs" not in fc  # RFC 7946: WGS 84 only
    assert len(fc["features"]) == len(inspected["result"].findings) > 0
    for feat in fc["features"]:
        lon, lat = feat["geometry"]["coordinates"]
        assert feat["geometry"]["type"] == "Point"
        assert 126.9 < lon < 127.3 and 37.3 < lat < 37.6  # Seongnam
        assert set(feat["properties"]) >= CONTRACT
        assert feat["properties"]["kind"] in ("leak", "insulation")
        assert feat["properties"]["severity"] in ("low", "medium", "high", "critical")
    cand = json.loads(paths["candidates"].read_text())
    assert {f["properties"]["id"] for f in cand["features"]}.isdisjoint(
        {f["properties"]["id"] for f in fc["features"]}
    )
    with paths["csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [*FIELDS, "lon", "lat"]
    assert [r["id"] for r in rows] == [f["properties"]["id"] for f in fc["features"]]
    cov = json.loads(paths["coverage"].read_text())
    assert 0.9 < cov["fraction"] <= 1.0  # only the nodata border is not imaged
    pipe_ids = {
        f["properties"]["id"] for f in json.loads(scene["paths"]["pipes"].read_text())["features"]
    }
    assert {c["pipe_id"] for c in cov["pipes"]} == pipe_ids
    assert all(0 <= c["fraction"] <= 1 for c in cov["pipes"])
    html = paths["report"].read_text()
    assert "<table>" in html and html.count("data:image/png;base64,") == len(fc["features"]) + 1
    assert "http://" not in html.replace("http://www.w3", "") and "https://" not in html


def test_same_findings_whatever_the_crs_encoding_and_tiling(
    scene: dict[str, Any], inspected: dict[str, Any], tmp_path: Path
) -> None:
    from pyproj import Transformer

    p = scene["paths"]
    expected = as_set(inspected["result"].findings)
    # The network in WGS 84 (as GeoJSON without a crs member) instead of the mosaic's EPSG:5186.
    tr = Transformer.from_crs("EPSG:5186", "EPSG:4326", always_xy=True)
    pipes = json.loads(p["pipes"].read_text())
    for feat in pipes["features"]:
        feat["geometry"]["coordinates"] = [
            list(tr.transform(x, y)) for x, y in feat["geometry"]["coordinates"]
        ]
    del pipes["crs"]
    wgs84 = write_json(tmp_path / "pipes_wgs84.geojson", pipes)
    got = inspect(p["mosaic"], wgs84, exclude=p["known"])
    assert _close(as_set(got.findings), expected)
    # The same network as a GeoPackage.
    import pyogrio
    from shapely.geometry import shape

    geoms = np.array(
        [shape(f["geometry"]).wkb for f in json.loads(p["pipes"].read_text())["features"]],
        dtype=object,
    )
    ids = np.array([f["properties"]["id"] for f in pipes["features"]], dtype=object)
    depth = np.array([f["properties"]["depth_m"] for f in pipes["features"]])
    gpkg = tmp_path / "pipes.gpkg"
    pyogrio.raw.write(
        gpkg,
        geometry=geoms,
        field_data=[ids, depth],
        fields=["id", "depth_m"],
        geometry_type="LineString",
        crs="EPSG:5186",
        driver="GPKG",
    )
    assert as_set(inspect(p["mosaic"], gpkg, exclude=p["known"]).findings) == expected
    shp = tmp_path / "pipes.shp"  # and as a Shapefile
    pyogrio.raw.write(
        shp,
        geometry=geoms,
        field_data=[ids, depth],
        fields=["id", "depth_m"],
        geometry_type="LineString",
        crs="EPSG:5186",
        driver="ESRI Shapefile",
    )
    assert as_set(inspect(p["mosaic"], shp, exclude=p["known"]).findings) == expected
    # Scaled 16-bit integers with scale/offset tags instead of float32 deg C.
    generated = synthetic.generate(12, width_m=160, height_m=160, gsd_m=0.15)
    scaled = synthetic.write_scene(generated, tmp_path / "u16", scaled_uint16=True)
    with rasterio.open(scaled["mosaic"]) as ds:
        assert ds.dtypes[0] == "uint16" and ds.scales[0] == 0.01
    got = inspect(scaled["mosaic"], p["pipes"], exclude=p["known"])
    assert _close(as_set(got.findings), expected)
    # Small tiles (many halos) find the same as one tile (up to interpolation in the rotated
    # background, which samples each tile's grid at its own phase).
    small = inspect(
        p["mosaic"], p["pipes"], exclude=p["known"], params=replace(InspectParams(), tile_px=300)
    )
    assert small.tiles > 4
    assert _close(as_set(small.findings), expected)


def _close(a: set[Any], b: set[Any]) -> bool:
    """Same findings up to rounding: quantised or reprojected inputs move values slightly, so
    one finding at the edge of the score threshold may come or go."""
    rest = list(b)
    unmatched = 0
    for kind, x, y, dt in a:
        match = next(
            (
                r
                for r in rest
                if r[0] == kind and math.hypot(r[1] - x, r[2] - y) <= 0.5 and abs(r[3] - dt) <= 0.2
            ),
            None,
        )
        if match is None:
            unmatched += 1
        else:
            rest.remove(match)
    return unmatched <= 1 and len(rest) <= 1


def test_dask_cluster_gives_the_same_findings(
    scene: dict[str, Any], inspected: dict[str, Any]
) -> None:
    from distributed import LocalCluster

    p = scene["paths"]
    params = replace(InspectParams(), tile_px=512)
    local = inspect(p["mosaic"], p["pipes"], exclude=p["known"], params=params)
    assert local.tiles > 1
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        got = inspect(
            p["mosaic"],
            p["pipes"],
            exclude=p["known"],
            params=params,
            dask_address=cluster.scheduler_address,
        )
    assert as_set(got.findings) == as_set(local.findings)  # the same tiles, the same results


def test_baseline_flags_far_more_than_the_detector(
    scene: dict[str, Any], inspected: dict[str, Any]
) -> None:
    from urbanops.domains.thermal.evaluate import score

    p, truth = scene["paths"], scene["truth"]
    result = inspect(p["mosaic"], p["pipes"], exclude=p["known"], baseline_c=3.0)
    ours = score(truth, [(f.x, f.y, f.kind) for f in result.findings])
    naive = score(truth, [(x, y, "leak") for x, y, _ in result.baseline])
    assert ours.recall >= naive.recall
    assert ours.false_alarms < naive.false_alarms
