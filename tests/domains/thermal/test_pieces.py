"""The detector's pieces on hand-made arrays: averaging, crops, splitting, sizing, sampling."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from urbanops.domains.thermal.classify import classify
from urbanops.domains.thermal.detect import find_blobs
from urbanops.domains.thermal.inspect import block_mean
from urbanops.domains.thermal.models import Crop, InspectParams


def _reference_mean(a: np.ndarray, f: int) -> np.ndarray:
    h, w = a.shape
    hh, ww = -(-h // f), -(-w // f)
    pad = np.full((hh * f, ww * f), np.nan, np.float32)
    pad[:h, :w] = a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(pad.reshape(hh, f, ww, f), axis=(1, 3))


@pytest.mark.parametrize(("h", "w", "f"), [(8, 8, 2), (7, 9, 2), (10, 10, 3), (61, 47, 4)])
def test_block_mean_ignores_nodata_and_keeps_partial_edge_blocks(h: int, w: int, f: int) -> None:
    rng = np.random.default_rng(h * w)
    a = rng.normal(10, 2, size=(h, w)).astype(np.float32)
    assert np.allclose(block_mean(a.copy(), f), _reference_mean(a, f), atol=1e-4)
    a[rng.random((h, w)) < 0.3] = np.nan
    a[: f + 1, : f + 1] = np.nan  # at least one all-nodata block
    got = block_mean(a.copy(), f)
    assert got.shape == (-(-h // f), -(-w // f))
    assert np.isnan(got[0, 0])
    assert np.allclose(got, _reference_mean(a, f), atol=1e-4, equal_nan=True)


def test_crop_is_quantised_bounded_and_marks_nodata() -> None:
    temp = np.linspace(0, 10, 600 * 500, dtype=np.float32).reshape(600, 500)
    temp[0:5, :] = np.nan
    crop = Crop.cut(temp, (100, 100, 110, 120), origin=(0, 0), pad_px=20)
    assert (crop.row0, crop.col0, crop.step) == (80, 80, 1)
    assert crop.data.shape == (50, 60) and crop.data.dtype == np.uint8
    back = crop.lo_c + crop.data.astype(np.float32) / 254 * (crop.hi_c - crop.lo_c)
    assert np.abs(back - temp[80:130, 80:140]).max() <= (crop.hi_c - crop.lo_c) / 254
    # A large blob is decimated to at most max_px a side; nodata is 255; the window is clipped.
    big = Crop.cut(temp, (1000, 2000, 1600, 2500), origin=(1000, 2000), pad_px=50, max_px=200)
    assert max(big.data.shape) <= 200 and big.step == 3
    assert (big.row0, big.col0) == (1000, 2000)
    assert (big.data[0] == 255).all() and (big.data[5:] < 255).all()


def _leak(shape: tuple[int, int], row: float, col: float, peak: float, d_px: float) -> np.ndarray:
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    r2 = (rr - row) ** 2 + (cc - col) ** 2
    return (peak * (1 + r2 / d_px**2) ** -1.5).astype(np.float32)


def test_a_weak_leak_on_the_flank_of_a_strong_one_is_its_own_finding() -> None:
    px = 0.2
    shape = (200, 200)
    rng = np.random.default_rng(3)
    # Two leaks 3 m apart at 1.2 m depth: the weaker is barely more than a shoulder on the
    # flank of the stronger (its drop to the saddle between them is about 0.3 deg C).
    temp = 5.0 + _leak(shape, 100, 80, 12.0, 1.2 / px) + _leak(shape, 100, 95, 2.5, 1.2 / px)
    temp += rng.normal(0, 0.03, shape).astype(np.float32)
    corridor = np.ones(shape, np.int32)
    valid = np.ones(shape, bool)
    blobs = find_blobs(temp, valid, corridor, px, InspectParams())
    places = sorted((round(b.row), round(b.col)) for b in blobs)
    assert any(abs(r - 100) <= 2 and abs(c - 80) <= 2 for r, c in places), places
    assert any(abs(r - 100) <= 4 and abs(c - 95) <= 4 for r, c in places), places
    # Split on the residual itself with the old prominence, the weak one is not found.
    old = InspectParams(split_scale_m=0.0, split_prominence_c=1.0)
    flat = find_blobs(temp, valid, corridor, px, old)
    assert not any(abs(b.row - 100) <= 4 and abs(b.col - 95) <= 4 for b in flat)


def test_a_spot_smaller_than_heat_from_depth_can_make_scores_low() -> None:
    px = 0.1
    shape = (160, 160)
    params = InspectParams()
    valid = np.ones(shape, bool)
    corridor = np.ones(shape, np.int32)
    rr, cc = np.mgrid[0:160, 0:160]
    # A warm manhole cover, 0.7 m across, versus a leak 1.2 m down with the same peak.
    cover = (np.hypot(rr - 80, cc - 80) < 3.5).astype(np.float32) * 4.0
    leak = _leak(shape, 80, 80, 4.0, 1.2 / px)
    scores = {}
    for name, extra in (("cover", cover), ("leak", leak)):
        import cv2

        temp = cv2.GaussianBlur(5.0 + extra, (0, 0), 0.8)
        blobs = find_blobs(temp, valid, corridor, px, params)
        top = max(blobs, key=lambda b: b.peak_excess_c)
        scores[name] = classify(
            top,
            px_m=px,
            distance_m=0.1,
            depth_m=1.2,
            alignment_deg=None,
            known="",
            params=params,
        )[1]
    assert scores["leak"] >= params.finding_score > scores["cover"]


def test_value_check_reads_the_whole_file_when_the_sampled_blocks_are_empty(
    tmp_path: Path,
) -> None:
    import rasterio
    from rasterio.transform import from_origin

    from urbanops.domains.thermal.io import ThermalInputError, open_mosaic

    data = np.full((2048, 2048), np.nan, np.float32)
    data[700:760, 1100:1200] = 3.5  # data only between the sampled blocks
    profile = {
        "driver": "GTiff",
        "width": 2048,
        "height": 2048,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:5186",
        "transform": from_origin(209000, 536000, 0.1, 0.1),
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    path = tmp_path / "sparse.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    assert open_mosaic(path).width == 2048
    data[:] = np.nan
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    with pytest.raises(ThermalInputError, match="no data"):
        open_mosaic(path)


def test_report_pictures_are_svg_with_the_spot_inside(inspected: dict[str, object]) -> None:
    html = Path(inspected["paths"]["report"]).read_text()  # type: ignore[index]
    crops = re.findall(
        r"<svg role=img aria-label='thermal crop of (F\d+)' "
        r"viewBox='0 0 (\d+) (\d+)'.*?<path d='M([\d.-]+),([\d.-]+)H",
        html,
    )
    assert crops, "no crop pictures"
    for _fid, w, h, x0, y in crops:
        assert -1 <= float(y) <= int(h) + 1 and float(x0) <= int(w)
