"""``urbanops heat plan``: read the inputs, plan shelters, welfare checks and spraying, write.

Points (people, shelters, candidates) come from GeoJSON/GeoPackage/Shapefile in any CRS, or
CSV with ``lon, lat`` (and optional ``weight``/``count``, ``id``). The heat map is a GeoTIFF
from ``urbanops heat map`` (``apparent_temp.tif`` or ``air_temp.tif``); its CRS is the plan's.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, mapping

from urbanops.core import vector
from urbanops.domains.heat.response import (
    ResponseError,
    ShelterPlan,
    plan_shelters,
    welfare_priority,
)
from urbanops.domains.heat.spraying import SprayPlan, plan_spraying

MAX_POINTS = 2_000_000
Progress = Callable[[float, str], None]


@dataclass
class Points:
    lonlat: np.ndarray
    weight: np.ndarray
    ids: list[str]


def read_points(path: Path, what: str) -> Points:
    """Points with weights (``weight``, ``count`` or 1) and ids, in longitude/latitude."""
    if path.suffix.lower() in (".csv", ".txt") or path.name.lower().endswith(".csv.gz"):
        if not path.is_file():
            raise ResponseError(f"{path}: no such file", field=what)
        try:
            df = pd.read_csv(path, nrows=MAX_POINTS + 1)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise ResponseError(f"{path.name}: not a readable CSV ({exc})", field=what) from None
        cols = {c.lower(): c for c in df.columns}
        lon = next((cols[c] for c in ("lon", "longitude", "lng", "x") if c in cols), None)
        lat = next((cols[c] for c in ("lat", "latitude", "y") if c in cols), None)
        if lon is None or lat is None:
            raise ResponseError(f"{path.name}: needs lon and lat columns", field=what)
        ll = np.column_stack(
            [pd.to_numeric(df[lon], errors="coerce"), pd.to_numeric(df[lat], errors="coerce")]
        )
        wcol = next(
            (cols[c] for c in ("weight", "count", "people", "population") if c in cols), None
        )
        w = pd.to_numeric(df[wcol], errors="coerce").to_numpy(float) if wcol else np.ones(len(df))
        idcol = next((cols[c] for c in ("id", "name", "household_id") if c in cols), None)
        ids = df[idcol].astype(str).tolist() if idcol else [str(i + 1) for i in range(len(df))]
    else:
        shapes, rows, crs = vector.read_layer(path, what, error=ResponseError)
        pts = []
        for i, g in enumerate(shapes):
            if g is None or g.is_empty:
                pts.append((np.nan, np.nan))
            elif g.geom_type != "Point":
                raise ResponseError(
                    f"{path.name}: feature {i} is a {g.geom_type}; expected points", field=what
                )
            else:
                pts.append((g.x, g.y))
        ll = np.array(pts, dtype=float).reshape(-1, 2)
        if crs is not None and not crs.is_geographic:
            t = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
            ll = np.column_stack(t.transform(ll[:, 0], ll[:, 1]))
        w = np.array([float(r.get("weight") or r.get("count") or 1) for r in rows])
        ids = [str(r.get("id") or r.get("name") or i + 1) for i, r in enumerate(rows)]
    if len(ll) > MAX_POINTS:
        raise ResponseError(f"{path.name}: more than {MAX_POINTS:,} points", field=what)
    ok = np.isfinite(ll).all(axis=1) & (np.abs(ll[:, 0]) <= 180) & (np.abs(ll[:, 1]) <= 90)
    ok &= np.isfinite(w) & (w >= 0)
    if not ok.any():
        raise ResponseError(f"{path.name}: no point with valid coordinates and weight", field=what)
    return Points(ll[ok], w[ok], [i for i, k in zip(ids, ok, strict=True) if k])


class RasterField:
    """A heat map GeoTIFF held in memory, sampled at the nearest cell."""

    def __init__(self, path: Path) -> None:
        import rasterio
        from rasterio.errors import RasterioIOError

        try:
            with rasterio.open(path) as ds:
                if ds.crs is None:
                    raise ResponseError(f"{path.name}: the heat map has no CRS", field="heat")
                self.values = ds.read(1, masked=True).filled(np.nan).astype(float)
                self.crs = CRS.from_wkt(ds.crs.to_wkt())
                self.transform = ds.transform
                self.bounds = tuple(ds.bounds)
        except RasterioIOError as exc:
            raise ResponseError(
                f"{path.name}: not a readable GeoTIFF ({exc})", field="heat"
            ) from None
        inv = ~self.transform
        self._inv = (inv.a, inv.b, inv.c, inv.d, inv.e, inv.f)

    def cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b, c, d, e, f = self._inv
        col = np.floor(a * xy[:, 0] + b * xy[:, 1] + c).astype(int)
        row = np.floor(d * xy[:, 0] + e * xy[:, 1] + f).astype(int)
        return row, col

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        row, col = self.cells(xy)
        h, w = self.values.shape
        inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
        out = np.full(len(xy), np.nan)
        out[inside] = self.values[row[inside], col[inside]]
        return out


def run_plan(
    *,
    people: Path,
    shelters: Path | None,
    candidates: Path | None,
    heat: Path | None,
    roads: Path | None,
    depot: tuple[float, float] | None,
    walk_m: float,
    detour: float,
    new_sites: int,
    trucks: int,
    tank_km: float,
    spray_share: float,
    metric_crs: str | None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Everything ``heat plan`` computes, ready to write."""
    say = progress or (lambda f, m: None)
    say(0.05, "reading inputs")
    ppl = read_points(people, "people")
    sh = (
        read_points(shelters, "shelters") if shelters else Points(np.zeros((0, 2)), np.zeros(0), [])
    )
    cand = (
        read_points(candidates, "candidates")
        if candidates
        else Points(np.zeros((0, 2)), np.zeros(0), [])
    )
    field = RasterField(heat) if heat else None
    crs = (
        field.crs
        if field is not None
        else vector.metric_crs_for(
            float(np.median(ppl.lonlat[:, 0])), float(np.median(ppl.lonlat[:, 1])), metric_crs
        )
    )
    to_m = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)

    def m(ll: np.ndarray) -> np.ndarray:
        return np.column_stack(to_m.transform(ll[:, 0], ll[:, 1])) if len(ll) else np.zeros((0, 2))

    pxy, sxy, cxy = m(ppl.lonlat), m(sh.lonlat), m(cand.lonlat)
    heat_p = field(pxy) if field is not None else np.full(len(pxy), np.nan)
    # weight: people count, times how far the heat at home is above the 2nd percentile
    w = ppl.weight.copy()
    if field is not None and np.isfinite(heat_p).any():
        base = np.nanpercentile(heat_p, 2)
        w = w * (1 + np.clip(np.nan_to_num(heat_p - base, nan=0.0), 0, None))
    say(0.2, f"shelters: {len(sxy)} existing, {len(cxy)} candidates, {len(pxy):,} people")
    if candidates is None:
        new_sites = 0  # coverage of the existing shelters only
    sp = plan_shelters(pxy, w, sxy, cxy, walk_m=walk_m, detour=detour, new_sites=new_sites)
    order = welfare_priority(heat_p, sp.person_covered_after, ppl.weight)
    cells = None
    if field is not None:
        # blocks of about 250 m: what a welfare team covers in one visit round
        cell_m = abs(field.transform.a)
        k = max(1, round(250.0 / cell_m))
        row, col = field.cells(pxy)
        hgt, wid = field.values.shape
        bh, bw = -(-hgt // k), -(-wid // k)
        inside = (row >= 0) & (row < hgt) & (col >= 0) & (col < wid)
        flat = (row[inside] // k) * bw + col[inside] // k
        count = np.bincount(flat, weights=ppl.weight[inside], minlength=bh * bw)
        unc = np.bincount(
            flat, weights=ppl.weight[inside] * ~sp.person_covered_after[inside], minlength=bh * bw
        )
        pad = np.full((bh * k, bw * k), np.nan)
        pad[:hgt, :wid] = field.values
        with np.errstate(all="ignore"):
            block_heat = np.nanmean(pad.reshape(bh, k, bw, k), axis=(1, 3)).ravel()
        # heat above the city's median block, times the people there (ties: more people)
        med = np.nanmedian(block_heat[count > 0]) if (count > 0).any() else 0.0
        excess = np.clip(np.nan_to_num(block_heat - med, nan=0.0), 0, None)
        score = excess * count + 1e-6 * count
        top = np.argsort(-score)[: min(500, int((count > 0).sum()))]
        cells = (top, count[top], unc[top], block_heat[top], k, bw)
    spray = None
    if roads is not None:
        if field is None:
            raise ResponseError("--roads needs --heat (the hottest segments are sprayed)")
        if depot is None:
            raise ResponseError("--roads needs --depot LON,LAT (where the trucks fill up)")
        say(0.5, "spraying routes")
        shapes, _, rcrs = vector.read_layer(roads, "roads", error=ResponseError)
        t = Transformer.from_crs(rcrs or CRS.from_epsg(4326), crs, always_xy=True)
        lines = []
        for i, g in enumerate(shapes):
            if g is None or g.is_empty:
                continue
            if g.geom_type not in ("LineString", "MultiLineString"):
                raise ResponseError(
                    f"{roads.name}: feature {i} is a {g.geom_type}; roads are lines"
                )
            lines.extend(shapely.get_parts(shapely.transform(g, t.transform, interleaved=False)))
        if not lines:
            raise ResponseError(f"{roads.name}: no roads")
        dxy = m(np.array([depot]))[0]
        spray = plan_spraying(lines, field, dxy, trucks=trucks, tank_km=tank_km, share=spray_share)
    say(0.9, "writing")
    return {
        "crs": crs,
        "people": ppl,
        "shelters": sh,
        "candidates": cand,
        "heat_p": heat_p,
        "plan": sp,
        "order": order,
        "cells": cells,
        "field": field,
        "spray": spray,
        "walk_m": walk_m,
        "detour": detour,
        "pxy": pxy,
        "sxy": sxy,
        "cxy": cxy,
    }


def _fc(features: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features})


def write_plan(r: dict[str, Any], out_dir: Path) -> list[Path]:
    """new_shelters.geojson, welfare_checks.csv, priority_cells.csv, spray_routes.geojson,
    summary.json and plan.html, written together."""
    sp: ShelterPlan = r["plan"]
    to_ll = Transformer.from_crs(r["crs"], CRS.from_epsg(4326), always_xy=True)
    files: dict[str, str | bytes] = {}
    cand = r["candidates"]
    files["new_shelters.geojson"] = _fc(
        [
            {
                "type": "Feature",
                "properties": {"id": cand.ids[j], "rank": k + 1, "kind": "new_shelter"},
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(v), 7) for v in cand.lonlat[j]],
                },
            }
            for k, j in enumerate(sp.chosen)
        ]
    )
    ppl = r["people"]
    o = r["order"]
    files["welfare_checks.csv"] = pd.DataFrame(
        {
            "rank": np.arange(1, len(o) + 1),
            "id": np.asarray(ppl.ids, dtype=object)[o],
            "lon": ppl.lonlat[o, 0].round(7),
            "lat": ppl.lonlat[o, 1].round(7),
            "heat_c": np.round(r["heat_p"][o], 2),
            "shelter_within_walk": sp.person_covered_after[o],
            "weight": ppl.weight[o],
        }
    ).to_csv(index=False)
    if r["cells"] is not None:
        top, count, unc, heat, k, bw = r["cells"]
        f = r["field"]
        rows, cols = np.divmod(top, bw)
        t = f.transform
        cc, rr = (cols + 0.5) * k, (rows + 0.5) * k
        xs, ys = t.c + t.a * cc + t.b * rr, t.f + t.d * cc + t.e * rr
        lon, lat = to_ll.transform(np.asarray(xs), np.asarray(ys))
        files["priority_cells.csv"] = pd.DataFrame(
            {
                "rank": np.arange(1, len(top) + 1),
                "lon": np.round(lon, 7),
                "lat": np.round(lat, 7),
                "heat_c": np.round(heat, 2),
                "people": count,
                "people_uncovered": unc,
            }
        ).to_csv(index=False)
    spray: SprayPlan | None = r["spray"]
    if spray is not None:
        feats = []
        for rt in spray.routes:
            g = shapely.transform(LineString(rt.path), to_ll.transform, interleaved=False)
            feats.append(
                {
                    "type": "Feature",
                    "properties": {
                        "kind": "route",
                        "truck": rt.truck,
                        "spray_km": round(rt.spray_m / 1000, 3),
                        "drive_km": round(rt.drive_m / 1000, 3),
                        "segments": len(rt.sprayed),
                    },
                    "geometry": mapping(shapely.set_precision(g, 1e-7)),
                }
            )
        for k in spray.selected:
            g = shapely.transform(spray.segments[k], to_ll.transform, interleaved=False)
            feats.append(
                {
                    "type": "Feature",
                    "properties": {
                        "kind": "hot_segment",
                        "heat_c": round(float(spray.heat_c[k]), 2),
                        "length_m": round(spray.segments[k].length, 1),
                        "sprayed": int(k) not in spray.left_out,
                    },
                    "geometry": mapping(shapely.set_precision(g, 1e-7)),
                }
            )
        files["spray_routes.geojson"] = _fc(feats)
    summary = {
        "people": sp.people,
        "walk_m": r["walk_m"],
        "detour": r["detour"],
        "existing_shelters": len(r["shelters"].ids),
        "candidates": len(cand.ids),
        "new_shelters": len(sp.chosen),
        "people_covered_before": sp.covered_people_before,
        "people_covered_after": sp.covered_people_after,
        "weighted_coverage_before_pct": round(100 * sp.covered_before / sp.weight_total, 2),
        "weighted_coverage_after_pct": round(100 * sp.covered_after / sp.weight_total, 2),
        "weighted_coverage_after_greedy_pct": round(
            100 * sp.covered_after_greedy / sp.weight_total, 2
        ),
        "mclp_optimal": sp.optimal,
        "trucks": None
        if spray is None
        else [
            {
                "truck": rt.truck,
                "segments": len(rt.sprayed),
                "spray_km": round(rt.spray_m / 1000, 3),
                "drive_km": round(rt.drive_m / 1000, 3),
            }
            for rt in spray.routes
        ],
        "hot_segments_left_out": None if spray is None else len(spray.left_out),
    }
    files["summary.json"] = json.dumps(summary, indent=2)
    files["plan.html"] = _html(r, summary)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".heat-plan-", dir=out_dir))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        for name in files:
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / n for n in files]


def _html(r: dict[str, Any], s: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 8), dpi=110)
    f = r["field"]
    if f is not None:
        x0, y0, x1, y1 = f.bounds
        im = ax.imshow(f.values, extent=(x0, x1, y0, y1), cmap="RdYlBu_r", alpha=0.75)
        fig.colorbar(im, ax=ax, shrink=0.6, label="heat (deg C)")
    pxy = r["pxy"]
    sp: ShelterPlan = r["plan"]
    step = max(1, len(pxy) // 20000)
    cov = sp.person_covered_after[::step]
    ax.scatter(*pxy[::step][~cov].T, s=1, c="#444", label="vulnerable, no shelter in reach")
    ax.scatter(*pxy[::step][cov].T, s=1, c="#9ecae1", label="vulnerable, shelter in reach")
    if len(r["sxy"]):
        ax.scatter(*r["sxy"].T, s=25, marker="s", c="#08519c", label="existing shelter")
    if len(sp.chosen):
        ax.scatter(*r["cxy"][sp.chosen].T, s=60, marker="*", c="#00a651", label="new shelter")
    if r["spray"] is not None:
        for rt in r["spray"].routes:
            ax.plot(*rt.path.T, lw=1.5, label=f"truck {rt.truck}")
    ax.set_aspect("equal")
    ax.legend(loc="lower left", fontsize=7, markerscale=3)
    ax.set_title("Heat-wave response plan")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode()
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in s.items()
        if k != "trucks"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Heat-wave response plan</title><style>body{font:14px system-ui,sans-serif;"
        "margin:20px}td,th{text-align:left;padding:2px 8px}</style></head><body>"
        f"<h1>Heat-wave response plan</h1><table>{rows}</table>"
        f"<img alt='plan map' src='data:image/png;base64,{img}' style='max-width:100%'>"
        "</body></html>"
    )
