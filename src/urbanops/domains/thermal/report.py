"""The inspector's report: one self-contained HTML file (pictures inlined, no CDN, prints well).

An overview map of the mosaic with the pipes and the findings, a ranked table, and for each
finding a thermal crop with its colour scale, the pipe and the spot - what a crew takes to the
street.
"""

from __future__ import annotations

import base64
import functools
import html
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString

from urbanops.domains.thermal.inspect import Inspection
from urbanops.domains.thermal.io import work_to_mosaic
from urbanops.domains.thermal.models import Finding

MAX_CROPS = 200
SEVERITY_COLOUR = {"critical": "#b30000", "high": "#e34a33", "medium": "#fc8d59", "low": "#fdbb84"}


def _pipes_in_mosaic(result: Inspection) -> list[LineString]:
    """The pipes as lines in mosaic pixel coordinates (x = column, y = row)."""
    to_mosaic = work_to_mosaic(result.info)
    inv = ~result.info.affine
    out = []
    for p in result.pipes:
        for line in getattr(p.line, "geoms", [p.line]):
            xy = np.asarray(line.coords)
            if to_mosaic is not None:
                xs, ys = to_mosaic(xy[:, 0], xy[:, 1])
                xy = np.column_stack([xs, ys])
            cols, rows = inv @ (xy[:, 0], xy[:, 1])
            out.append(LineString(np.column_stack([cols, rows])))
    return out


def _polylines(lines: list[LineString], window: tuple[float, float, float, float]) -> list:
    """Vertex arrays of the parts of ``lines`` inside ``window`` (xmin, ymin, xmax, ymax)."""
    out = []
    for part in shapely.clip_by_rect(lines, *window):
        for seg in getattr(part, "geoms", [part]):
            if not seg.is_empty and seg.geom_type == "LineString":
                out.append(np.asarray(seg.coords))
    return out


def _pixel(result: Inspection, f: Finding) -> tuple[float, float]:
    r0, c0, r1, c1 = f.bbox
    return (c0 + c1) / 2, (r0 + r1) / 2


def _colour(temp: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Temperatures to RGB with the inferno colour map (NaN shown grey)."""
    span = max(hi - lo, 1e-6)
    idx = np.rint(np.clip((np.nan_to_num(temp, nan=lo) - lo) / span * 254, 0, 254))
    rgb = _lut()[idx.astype(np.uint8)]
    rgb[~np.isfinite(temp)] = (128, 128, 128)
    return rgb


def _encode(rgb: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", rgb[:, :, ::-1])
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


def _points(line: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in line)


def _svg(png: str, width: int, height: int, overlay: str, label: str, css_width: int) -> str:
    """A picture as inline SVG: the PNG at its own resolution (pixels drawn square, not
    smoothed) and vector overlays on top, crisp on screen and on paper whatever the zoom."""
    return (
        f"<svg role=img aria-label='{html.escape(label)}' viewBox='0 0 {width} {height}' "
        f"style='width:{css_width}px;max-width:100%'><image width='{width}' height='{height}' "
        f"preserveAspectRatio=none style='image-rendering:pixelated' "
        f"href='data:image/png;base64,{png}'/>{overlay}</svg>"
    )


def _overview(result: Inspection, pipes_px: list[LineString]) -> tuple[str, float, float]:
    """The map: the mean temperatures gathered while inspecting, pipes and findings on top."""
    temp = result.overview if result.overview is not None else np.full((10, 10), np.nan)
    finite = temp[np.isfinite(temp)]
    lo, hi = (
        (float(np.percentile(finite, 1)), float(np.percentile(finite, 99.5)))
        if finite.size
        else (0.0, 1.0)
    )
    h, w = temp.shape
    k = result.overview_factor  # mosaic pixels per overview pixel
    unit = max(h, w) / 1000  # one screen pixel of a 1000-pixel-wide map, in overview pixels
    simple = [shapely.simplify(line, k / 2) for line in pipes_px]
    parts = [
        f"<polyline points='{_points(line / k)}' fill=none stroke='#ffd000' "
        f"stroke-width='{1.2 * unit:.2f}'/>"
        for line in _polylines(simple, (-k, -k, (w + 1) * k, (h + 1) * k))
    ]
    for f in result.findings:
        x, y = _pixel(result, f)
        colour = SEVERITY_COLOUR.get(f.severity, "#ffffff")
        parts.append(
            f"<circle cx='{x / k:.1f}' cy='{y / k:.1f}' r='{7 * unit:.1f}' fill=none "
            f"stroke='{colour}' stroke-width='{2 * unit:.2f}'/><text x='{x / k + 8 * unit:.1f}' "
            f"y='{y / k - 6 * unit:.1f}' fill='#fff' font-size='{11 * unit:.1f}'>{f.id}</text>"
        )
    png = _encode(_colour(temp, lo, hi))
    return _svg(png, w, h, "".join(parts), "overview map", 1000), lo, hi


@functools.cache
def _lut() -> np.ndarray:
    """The inferno colour map in 255 RGB steps (OpenCV's copy of matplotlib's)."""
    import cv2

    ramp = np.rint(np.linspace(0, 255, 255)).astype(np.uint8)[:, None]
    return np.ascontiguousarray(cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO)[:, 0, ::-1])


def _apply(h: np.ndarray | None, pts: np.ndarray) -> np.ndarray:
    """Points (n x 2) through a 3x3 homography (unchanged when ``h`` is None)."""
    if h is None:
        return pts
    q = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return q[:, :2] / q[:, 2:3]


def _crop(result: Inspection, f: Finding, pipes_px: list[LineString], lut: np.ndarray) -> str:
    """The finding's thermal crop (cut while its tile was read, or from the drone frame that
    saw it best) with the pipe and the spot."""
    crop = f.crop
    assert crop is not None
    rgb = np.vstack([lut, [[128, 128, 128]]]).astype(np.uint8)[crop.data]  # 255: nodata, grey
    h, w = crop.data.shape
    unit = max(h, w) / 240  # one screen pixel of the 240-pixel-wide picture, in crop pixels
    c0, r0, step = crop.col0, crop.row0, crop.step
    corners = np.array(
        [
            [c0 - step, r0 - step],
            [c0 + (w + 1) * step, r0 - step],
            [c0 + (w + 1) * step, r0 + (h + 1) * step],
            [c0 - step, r0 + (h + 1) * step],
        ],
        dtype=np.float64,
    )
    back = None if crop.to_source is None else np.linalg.inv(crop.to_source)
    in_mosaic = _apply(back, corners)  # the crop's window in mosaic pixels
    window = (*in_mosaic.min(axis=0), *in_mosaic.max(axis=0))
    parts = [
        f"<polyline points='{_points((_apply(crop.to_source, line) - (c0, r0)) / step)}' "
        f"fill=none stroke='#ffd000' stroke-width='{1.2 * unit:.2f}'/>"
        for line in _polylines(pipes_px, window)
    ]
    x, y = _apply(crop.to_source, np.array([_pixel(result, f)], dtype=np.float64))[0]
    cx, cy, r = (x - c0) / step, (y - r0) / step, 9 * unit
    parts.append(
        f"<path d='M{cx - r:.1f},{cy:.1f}H{cx + r:.1f}M{cx:.1f},{cy - r:.1f}V{cy + r:.1f}' "
        f"stroke='#00ff66' stroke-width='{2 * unit:.2f}'/>"
    )
    label = f"thermal crop of {f.id}" + (f" from frame {crop.source}" if crop.source else "")
    return _svg(_encode(rgb), w, h, "".join(parts), label, 240)


def _scale_bar(lo: float, hi: float) -> str:
    """The colour scale of a picture, as HTML (inferno from ``lo`` to ``hi`` deg C)."""
    stops = ",".join(
        "#%02x%02x%02x" % tuple(c)  # noqa: UP031
        for c in _colour(np.linspace(lo, hi, 6, dtype=np.float32)[None, :], lo, hi)[0]
    )
    return (
        f"<div class=bar><span>{lo:.1f}</span><i style='background:linear-gradient(to right,"
        f"{stops})'></i><span>{hi:.1f} deg C</span></div>"
    )


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{margin-bottom:0}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}
td.l{text-align:left}.bar{display:flex;align-items:center;gap:4px;font-size:11px}
.bar i{display:inline-block;width:160px;height:10px}
.card{display:inline-block;width:330px;margin:6px;vertical-align:top;
border:1px solid #ccc;padding:6px;page-break-inside:avoid;font-size:12px}
.sev{color:#fff;padding:1px 5px;border-radius:3px}img{max-width:100%}
@media print{.card{width:30%}}
"""


def _map_corrections(coverage: dict[str, Any]) -> str:
    """The pipes whose mapped line the lids found on them moved (see ``align``), as a table."""
    moved = [
        p for p in coverage.get("pipes", []) if p.get("lids") and abs(p["map_offset_m"]) >= 0.1
    ]
    if not moved:
        return ""
    rows = "".join(
        f"<tr><td class=l>{html.escape(str(p['pipe_id']))}</td>"
        f"<td>{abs(p['map_offset_m']):.2f}</td>"
        f"<td class=l>{'left' if p['map_offset_m'] > 0 else 'right'}</td><td>{p['lids']}</td></tr>"
        for p in sorted(moved, key=lambda p: -abs(p["map_offset_m"]))
    )
    return (
        "<h2>Network map corrections</h2><p>Registered chambers and manholes found in the image "
        "lie off these pipes' mapped lines: the pipes run there (looking along each line as "
        "drawn), and distances to them are measured from where they run.</p>"
        "<table><tr><th>pipe</th><th>off its mapped line, m</th><th>side</th><th>lids</th></tr>"
        f"{rows}</table>"
    )


def write_report(result: Inspection, path: Path) -> Path:
    """Write ``report.html`` for ``result``."""
    pipes_px = _pipes_in_mosaic(result)
    lut = _lut()
    s = result.summary()
    cov = result.coverage
    rows = []
    cards = []
    with_crop = [f for f in result.findings[:MAX_CROPS] if f.crop is not None]
    with ThreadPoolExecutor(2) as pool:  # PNG encoding releases the GIL
        # The overview map (the largest PNG) is drawn while the crops are.
        overview_job = pool.submit(_overview, result, pipes_px)
        pictures = dict(
            zip(
                (id(f) for f in with_crop),
                pool.map(lambda f: _crop(result, f, pipes_px, lut), with_crop),
                strict=True,
            )
        )
    for rank, f in enumerate(result.findings, start=1):
        colour = SEVERITY_COLOUR.get(f.severity, "#888")
        rows.append(
            f"<tr><td>{rank}</td><td class=l>{f.id}</td><td class=l>{f.kind}</td>"
            f"<td class=l><span class=sev style='background:{colour}'>{f.severity}</span></td>"
            f"<td>{f.score:.2f}</td><td>{f.delta_t_c:.1f}</td><td>{f.peak_c:.1f}</td>"
            f"<td>{f.area_m2:.1f}</td><td class=l>{html.escape(str(f.pipe_id))}</td>"
            f"<td>{'' if f.distance_to_pipe_m is None else f'{f.distance_to_pipe_m:.1f}'}</td>"
            f"<td class=l>{f.lat:.6f}, {f.lon:.6f}</td></tr>"
        )
        if id(f) in pictures and f.crop is not None:
            crop, lo, hi = pictures[id(f)], f.crop.lo_c, f.crop.hi_c
            source = (
                f"<br><small>from frame {html.escape(f.crop.source)}</small>"
                if f.crop.source
                else ""
            )
            cards.append(
                f"<div class=card><b>{rank}. {f.id}</b> {f.kind}, "
                f"<span class=sev style='background:{colour}'>{f.severity}</span>, "
                f"score {f.score:.2f}<br>+{f.delta_t_c:.1f} deg C, {f.area_m2:.1f} m2, pipe "
                f"{html.escape(str(f.pipe_id))}<br>{f.lat:.6f}, {f.lon:.6f}"
                f"<br>{crop}{source}"
                f"{_scale_bar(lo, hi)}<i>{html.escape('; '.join(f.reasons))}</i>"
                "</div>"
            )
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["by_kind"].items())) or "none"
    overview, lo, hi = overview_job.result()
    body = f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<title>Thermal inspection - {html.escape(Path(result.info.path).name)}</title><style>{CSS}</style>
</head><body><h1>Thermal inspection of district-heating pipes</h1>
<p>Mosaic <b>{html.escape(Path(result.info.path).name)}</b>, {s["megapixels"]} megapixels at
{result.info.px_m:.2f} m per pixel. Pipes: {cov["total_length_m"]:.0f} m, of which
{cov["imaged_length_m"]:.0f} m ({100 * cov["fraction"]:.0f} %) imaged.
<b>{s["findings"]} findings</b> ({kinds}); {s["candidates"]} low-confidence candidates are in
candidates.geojson. Ranked by score; severity from the temperature excess and size.</p>
<p>Assumptions: a night survey in the cold season, ground emissivity about 0.95, temperatures
in deg C. A finding is a place to look at, not a confirmed leak.</p>
{overview}{_scale_bar(lo, hi)}
<p>Grey: not imaged, or no pipe nearby (only tiles over the network are read).</p>
{_map_corrections(cov)}
<h2>Findings</h2><table><tr><th>#</th><th>id</th><th>kind</th><th>severity</th><th>score</th>
<th>excess deg C</th><th>peak deg C</th><th>area m2</th><th>pipe</th><th>to pipe m</th>
<th>lat, lon</th></tr>{"".join(rows)}</table>
<h2>Each finding</h2>{"".join(cards)}
</body></html>"""
    path.write_text(body, encoding="utf-8")
    return path
