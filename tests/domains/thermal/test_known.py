"""Known warm features: their lids come out of the residual, a leak beside or under them stays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from urbanops.domains.thermal.classify import classify
from urbanops.domains.thermal.detect import Blob, find_blobs
from urbanops.domains.thermal.known import KnownFeature
from urbanops.domains.thermal.models import InspectParams

PX_M = 0.2
SHAPE = (160, 160)
PARAMS = InspectParams()


def _scene(*, lid_c: float, leak_c: float, leak_at: tuple[float, float]) -> np.ndarray:
    """A 1.6 m x 2.2 m chamber lid at (80, 80) and a leak 1.1 m down, on noisy ground."""
    import cv2

    rr, cc = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float32)
    lid = ((np.abs(rr - 80) < 4) & (np.abs(cc - 80) < 5.5)).astype(np.float32) * lid_c
    d_px = 1.1 / PX_M
    leak = leak_c * (1 + ((rr - leak_at[0]) ** 2 + (cc - leak_at[1]) ** 2) / d_px**2) ** -1.5
    rng = np.random.default_rng(11)
    temp = 4.0 + lid + leak + rng.normal(0, 0.05, SHAPE).astype(np.float32)
    return cv2.GaussianBlur(temp.astype(np.float32), (0, 0), 0.6)


def _blobs(temp: np.ndarray, known: list[KnownFeature] | None) -> list[Blob]:
    valid = np.ones(SHAPE, bool)
    corridor = np.ones(SHAPE, np.int32)
    return find_blobs(temp, valid, corridor, PX_M, PARAMS, known=known)


def _kind(blob: Blob) -> tuple[str, float]:
    kind, score, _sev, _why = classify(
        blob, px_m=PX_M, distance_m=0.2, depth_m=1.1, alignment_deg=None,
        known=blob.known, params=PARAMS,
    )  # fmt: skip
    return kind, score


def _feature() -> KnownFeature:
    return KnownFeature(80.0, 80.0, PARAMS.known_search_m / PX_M)


def test_a_lid_alone_leaves_nothing_to_report() -> None:
    feat = _feature()
    blobs = _blobs(_scene(lid_c=5.0, leak_c=0.0, leak_at=(0, 0)), [feat])
    assert feat.removed and feat.step_c == pytest.approx(5.0, abs=0.6)
    reported = [b for b in blobs if _kind(b)[0] != "other" and _kind(b)[1] >= 0.4]
    assert reported == []


@pytest.mark.parametrize("leak_at", [(80.0, 80.0), (80.0, 85.0), (75.0, 83.0)])
def test_a_leak_under_or_beside_a_lid_is_found_as_a_leak(leak_at: tuple[float, float]) -> None:
    temp = _scene(lid_c=5.0, leak_c=3.0, leak_at=leak_at)
    feat = _feature()
    blobs = _blobs(temp, [feat])
    assert feat.removed
    near = [b for b in blobs if np.hypot(b.row - leak_at[0], b.col - leak_at[1]) <= 2.5 / PX_M]
    assert near, [(b.row, b.col) for b in blobs]
    best = max(near, key=lambda b: _kind(b)[1])
    kind, score = _kind(best)
    assert (kind, best.known) == ("leak", "beside") and score >= PARAMS.finding_score
    # Most of the leak's 3 deg C is kept (alone on open ground it measures 2.8).
    assert best.peak_excess_c >= 1.8


def test_a_lid_at_the_nodata_edge_is_suppressed_as_before() -> None:
    # Beside nodata the fit would see the fill, not the ground: nothing is taken out, and
    # candidates on the registered feature are suppressed (they may be the feature itself).
    feat = _feature()
    valid = np.ones(SHAPE, bool)
    valid[:, 92:] = False
    temp = np.where(valid, _scene(lid_c=5.0, leak_c=0.0, leak_at=(0, 0)), np.nan)
    corridor = np.ones(SHAPE, np.int32)
    blobs = find_blobs(temp.astype(np.float32), valid, corridor, PX_M, PARAMS, known=[feat])
    assert not feat.removed
    on = [b for b in blobs if b.known == "on"]
    assert on and all(_kind(b)[0] == "other" for b in on)


def test_without_the_register_the_lid_is_reported_as_a_surface_object() -> None:
    blobs = _blobs(_scene(lid_c=5.0, leak_c=0.0, leak_at=(0, 0)), None)
    assert blobs and all(_kind(b)[0] == "other" or _kind(b)[1] < 0.4 for b in blobs)


def _lid_and_leak(scene: Any, s_m: float, *, leak_c: float) -> tuple[float, float]:
    """Draw a warm 2.4 m x 1.6 m chamber lid on the scene's first pipe at ``s_m`` along it
    (registered as known), with a leak ``leak_c`` warm 1.3 m along the pipe from its centre
    (0.1 m past the lid's end: where the pipe leaves the chamber)."""
    from urbanops.domains.thermal.synthetic import _point_on

    pipe = scene.pipes[0]
    x, y = _point_on(pipe, s_m)
    g = scene.gsd_m
    h, w = scene.temp_c.shape
    rows, cols = np.mgrid[0:h, 0:w]
    xs, ys = (cols + 0.5) * g, scene.height_m - (rows + 0.5) * g
    ux, uy = (np.subtract(pipe.end, pipe.start)) / np.hypot(*np.subtract(pipe.end, pipe.start))
    along, across = (xs - x) * ux + (ys - y) * uy, -(xs - x) * uy + (ys - y) * ux
    lid = (np.abs(along) < 1.2) & (np.abs(across) < 0.8)
    scene.temp_c += np.where(lid, np.float32(5.0), np.float32(0.0))
    scene.known.append({"kind": "chamber", "x": x, "y": y, "excess_c": 5.0, "radius_m": 0.8})
    lx, ly = x + 1.3 * ux, y + 1.3 * uy
    if leak_c:
        d = pipe.depth_m
        r2 = (xs - lx) ** 2 + (ys - ly) ** 2
        scene.temp_c += (leak_c * (1 + r2 / d**2) ** -1.5).astype(np.float32)
    return lx, ly


def _outlines_in_wgs84(scene: Any, path: Path) -> None:
    """The register as polygons in longitude/latitude: the outline of each lid this test drew
    (2.4 m x 1.6 m along the first pipe) and a 0.9 m square around each generated feature."""
    from pyproj import Transformer

    from urbanops.domains.thermal import synthetic

    to_lonlat = Transformer.from_crs(synthetic.CRS, "EPSG:4326", always_xy=True)
    pipe = scene.pipes[0]
    ux, uy = (np.subtract(pipe.end, pipe.start)) / np.hypot(*np.subtract(pipe.end, pipe.start))
    features = []
    for k in scene.known:
        if k.get("radius_m") == 0.8 and k["kind"] == "chamber" and k["excess_c"] == 5.0:
            a, b = (1.2 * ux, 1.2 * uy), (-0.8 * uy, 0.8 * ux)  # half along, half across
        else:
            a, b = (0.45, 0.0), (0.0, 0.45)
        ring = [(k["x"] + sa * a[0] + sb * b[0], k["y"] + sa * a[1] + sb * b[1])
                for sa, sb in ((1, 1), (-1, 1), (-1, -1), (1, -1), (1, 1))]  # fmt: skip
        lonlat = [
            list(to_lonlat.transform(x + synthetic.ORIGIN_XY[0], y + synthetic.ORIGIN_XY[1]))
            for x, y in ring
        ]
        features.append(
            {"type": "Feature", "properties": {"kind": k["kind"]},
             "geometry": {"type": "Polygon", "coordinates": [lonlat]}}
        )  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


@pytest.mark.parametrize("register", ["points", "outlines in WGS84"])
def test_inspection_finds_a_leak_beside_a_registered_chamber(tmp_path: Path, register: str) -> None:
    from urbanops.domains.thermal import synthetic
    from urbanops.domains.thermal.inspect import inspect

    scene = synthetic.generate(10, width_m=60, height_m=60, gsd_m=0.1)
    scene.leaks.clear()  # only ours: the generated ones may sit anywhere
    length = float(np.hypot(*np.subtract(scene.pipes[0].end, scene.pipes[0].start)))
    leak_xy = _lid_and_leak(scene, length * 0.3, leak_c=3.0)
    quiet_xy = _lid_and_leak(scene, length * 0.7, leak_c=0.0)
    quiet_lid = (scene.known[-1]["x"], scene.known[-1]["y"])
    paths = synthetic.write_scene(scene, tmp_path)
    if register != "points":
        _outlines_in_wgs84(scene, paths["known"])
    result = inspect(paths["mosaic"], paths["pipes"], exclude=paths["known"])
    to_world = synthetic.ORIGIN_XY

    def near(xy: tuple[float, float], radius_m: float) -> list[Any]:
        wx, wy = xy[0] + to_world[0], xy[1] + to_world[1]
        return [f for f in result.findings if np.hypot(f.x - wx, f.y - wy) <= radius_m]

    found = near(leak_xy, 2.5)
    assert [f.kind for f in found] == ["leak"], [(f.kind, f.reasons) for f in result.findings]
    assert found[0].delta_t_c >= 2.0  # most of its 3 deg C
    assert near(quiet_xy, 3.0) == []  # the lid alone is not a finding
    # ... nor even a candidate: its warmth was taken out (unregistered, it is an `other`).
    wx, wy = quiet_lid[0] + to_world[0], quiet_lid[1] + to_world[1]
    assert not [c for c in result.candidates if np.hypot(c.x - wx, c.y - wy) <= 1.5]
