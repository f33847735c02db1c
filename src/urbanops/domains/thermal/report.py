"""The inspector's report: one self-contained HTML file (pictures inlined, no CDN, prints well).

An overview map of the mosaic with the pipes and the findings, a ranked table, and for each
finding a thermal crop with its colour scale, the pipe and the spot - what a crew takes to the
street.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from urbanops.domains.thermal.inspect import Inspection
from urbanops.domains.thermal.io import to_celsius, work_to_mosaic
from urbanops.domains.thermal.models import Finding

MAX_CROPS = 200
SEVERITY_COLOUR = {"critical": "#b30000", "high": "#e34a33", "medium": "#fc8d59", "low": "#fdbb84"}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _pipes_in_mosaic(result: Inspection) -> list[np.ndarray]:
    """Pipe vertices in mosaic pixel coordinates (col, row)."""
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
            out.append(np.column_stack([cols, rows]))
    return out


def _pixel(result: Inspection, f: Finding) -> tuple[float, float]:
    r0, c0, r1, c1 = f.bbox
    return (c0 + c1) / 2, (r0 + r1) / 2


def _overview(result: Inspection, pipes_px: list[np.ndarray]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from rasterio.enums import Resampling

    info = result.info
    scale = max(1.0, max(info.width, info.height) / 1400)
    shape = (max(1, int(info.height / scale)), max(1, int(info.width / scale)))
    with rasterio.open(info.path) as ds:
        raw = ds.read(1, out_shape=shape, resampling=Resampling.average, masked=True)
    temp = to_celsius(np.ma.getdata(raw), np.ma.getmaskarray(raw), info)
    finite = temp[np.isfinite(temp)]
    lo, hi = np.percentile(finite, [1, 99.5]) if finite.size else (0, 1)
    fig, ax = plt.subplots(figsize=(10, 10 * shape[0] / max(shape[1], 1)))
    im = ax.imshow(temp, cmap="inferno", vmin=lo, vmax=hi, extent=(0, info.width, info.height, 0))
    for line in pipes_px:
        ax.plot(line[:, 0], line[:, 1], color="#00d0ff", lw=0.8)
    for f in result.findings:
        x, y = _pixel(result, f)
        ax.plot(x, y, "o", ms=9, mfc="none", mec=SEVERITY_COLOUR.get(f.severity, "w"), mew=2)
        ax.annotate(f.id, (x, y), xytext=(5, 5), textcoords="offset points", color="w", fontsize=7)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.03, label="deg C")
    data = _png(fig)
    plt.close(fig)
    return data


def _crop(result: Inspection, f: Finding, pipes_px: list[np.ndarray]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from rasterio.windows import Window

    info = result.info
    pad = math.ceil(4.0 / info.px_m)
    r0, c0, r1, c1 = f.bbox
    r0, c0 = max(0, r0 - pad), max(0, c0 - pad)
    r1, c1 = min(info.height, r1 + pad), min(info.width, c1 + pad)
    with rasterio.open(info.path) as ds:
        raw = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
    temp = to_celsius(np.ma.getdata(raw), np.ma.getmaskarray(raw), info)
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    im = ax.imshow(temp, cmap="inferno", extent=(c0, c1, r1, r0))
    for line in pipes_px:
        ax.plot(line[:, 0], line[:, 1], color="#00d0ff", lw=1)
    x, y = _pixel(result, f)
    ax.plot(x, y, "+", color="#00ff66", ms=14, mew=2)
    ax.set_xlim(c0, c1)
    ax.set_ylim(r1, r0)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.046, label="deg C")
    data = _png(fig)
    plt.close(fig)
    return data


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{margin-bottom:0}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}
td.l{text-align:left}.card{display:inline-block;width:330px;margin:6px;vertical-align:top;
border:1px solid #ccc;padding:6px;page-break-inside:avoid;font-size:12px}
.sev{color:#fff;padding:1px 5px;border-radius:3px}img{max-width:100%}
@media print{.card{width:30%}}
"""


def write_report(result: Inspection, path: Path) -> Path:
    """Write ``report.html`` for ``result``."""
    pipes_px = _pipes_in_mosaic(result)
    s = result.summary()
    cov = result.coverage
    rows = []
    cards = []
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
        if rank <= MAX_CROPS:
            cards.append(
                f"<div class=card><b>{rank}. {f.id}</b> {f.kind}, "
                f"<span class=sev style='background:{colour}'>{f.severity}</span>, "
                f"score {f.score:.2f}<br>+{f.delta_t_c:.1f} deg C, {f.area_m2:.1f} m2, pipe "
                f"{html.escape(str(f.pipe_id))}<br>{f.lat:.6f}, {f.lon:.6f}"
                f"<br><img alt='thermal crop of {f.id}' src='data:image/png;base64,"
                f"{_crop(result, f, pipes_px)}'><br><i>{html.escape('; '.join(f.reasons))}</i>"
                "</div>"
            )
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["by_kind"].items())) or "none"
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
<img alt="overview map" src="data:image/png;base64,{_overview(result, pipes_px)}">
<h2>Findings</h2><table><tr><th>#</th><th>id</th><th>kind</th><th>severity</th><th>score</th>
<th>excess deg C</th><th>peak deg C</th><th>area m2</th><th>pipe</th><th>to pipe m</th>
<th>lat, lon</th></tr>{"".join(rows)}</table>
<h2>Each finding</h2>{"".join(cards)}
</body></html>"""
    path.write_text(body, encoding="utf-8")
    return path
