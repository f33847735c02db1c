"""``map.html``: the plan drawn as one self-contained page (inline SVG, no tiles, no CDN).

Drawn in the plan's metric CRS so distances look true: zones in force (red) and not binding
(grey), pipes, pipes needing authorisation (orange), stretches no shot covers (magenta), each
sortie's path (survey solid, transits dashed) and home. Wheel zooms, drag pans, the table
shows or hides sorties.
"""

from __future__ import annotations

import html
import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from urbanops.domains.drone.plan import MissionPlan

_COLOURS = [
    "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2", "#6b6ecf",
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1",
]  # fmt: skip


class _Frame:
    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = bounds
        pad = max(x1 - x0, y1 - y0, 200.0) * 0.04
        self.x0, self.y1 = x0 - pad, y1 + pad
        self.w, self.h = (x1 - x0) + 2 * pad, (y1 - y0) + 2 * pad

    def pts(self, xy: np.ndarray) -> str:
        return " ".join(f"{x - self.x0:.1f},{self.y1 - y:.1f}" for x, y in xy)

    def path(self, geom: BaseGeometry) -> str:
        d = []
        for part in shapely.get_parts(geom):
            if part.geom_type == "Polygon":
                for ring in [part.exterior, *part.interiors]:
                    d.append("M" + self.pts(np.asarray(ring.coords)[:-1]) + "Z")
            elif part.geom_type == "LineString" and len(part.coords) >= 2:
                d.append("M" + self.pts(np.asarray(part.coords)))
        return " ".join(d)


def map_html(plan: MissionPlan) -> str:
    """The whole page as a string."""
    from urbanops.domains.drone.export import summary

    s = summary(plan)
    geoms = [plan.network.geometry, shapely.Point(plan.home_xy)]
    geoms += [shapely.LineString(ps.path) for ps in plan.sorties]
    bounds = shapely.GeometryCollection(geoms).bounds
    f = _Frame(bounds)
    in_force = {z.id for z in plan.in_force}
    layers: list[str] = []
    for z in plan.zones:
        if not z.polygon.intersects(shapely.box(*bounds).buffer(500)):
            continue
        cls = "zone" if z.id in in_force else "zone off"
        title = html.escape(
            f"{z.id} {z.name}: {z.describe_time()}, floor {z.floor_m:g} m, ceiling "
            f"{'unlimited' if math.isinf(z.ceiling_m) else f'{z.ceiling_m:g} m'}"
            + ("" if z.id in in_force else " (not binding for this plan)")
        )
        layers.append(f'<path class="{cls}" d="{f.path(z.polygon)}"><title>{title}</title></path>')
    layers.append(f'<path class="pipe" d="{f.path(plan.network.geometry)}"/>')
    for z, under in plan.authorisation:
        layers.append(
            f'<path class="auth" d="{f.path(under)}"><title>needs authorisation ({z.id}): '
            f"{under.length:.0f} m</title></path>"
        )
    for gap in plan.coverage.uncovered:
        layers.append(
            f'<path class="gap" d="{f.path(gap)}"><title>not covered: {gap.length:.1f} m'
            "</title></path>"
        )
    for ps in plan.sorties:
        colour = _COLOURS[(ps.number - 1) % len(_COLOURS)]
        survey, transit = [], []
        for k, kind in enumerate(ps.kinds):
            (survey if kind == "survey" else transit).append(ps.path[k : k + 2])
        d_s = " ".join("M" + f.pts(seg) for seg in survey)
        d_t = " ".join("M" + f.pts(seg) for seg in transit)
        layers.append(
            f'<g class="sortie" id="s{ps.number}" style="--c:{colour}">'
            f'<path class="survey" d="{d_s}"/><path class="transit" d="{d_t}"/>'
            f"<title>sortie {ps.number}: {ps.sortie.distance_m / 1000:.2f} km, "
            f"{ps.sortie.time_s / 60:.1f} min</title></g>"
        )
    hx, hy = plan.home_xy
    layers.append(
        f'<circle class="home" cx="{hx - f.x0:.1f}" cy="{f.y1 - hy:.1f}" r="{f.w / 150:.1f}">'
        "<title>home</title></circle>"
    )
    bar_m = 10 ** math.floor(math.log10(max(f.w / 5, 1)))
    layers.append(
        f'<g class="scale"><path d="M{f.w * 0.03:.0f},{f.h * 0.97:.0f} h{bar_m:.0f}"/>'
        f'<text x="{f.w * 0.03:.0f}" y="{f.h * 0.955:.0f}" font-size="{f.w / 60:.0f}">'
        f"{bar_m / 1000:g} km</text></g>"
    )
    rows = "".join(
        f'<tr><td><input type="checkbox" checked data-s="s{x["number"]}"></td>'
        f'<td><span class="sw" style="background:{_COLOURS[(x["number"] - 1) % len(_COLOURS)]}">'
        f"</span>{x['number']}</td><td>{x['lines']}</td><td>{x['distance_km']:.2f}</td>"
        f"<td>{x['survey_km']:.2f}</td><td>{x['time_min']:.1f}</td>"
        f"<td>{x['battery_used_pct']:.0f} %</td><td>{html.escape(x['start'][11:16])}</td></tr>"
        for x in s["sorties"]
    )
    auth = "".join(
        f"<li>{html.escape(a['zone'])} {html.escape(a['name'])}: {a['pipe_km']:.3f} km "
        f"({html.escape(a['schedule'])})</li>"
        for a in s["needs_authorisation"]
    )
    warns = "".join(f"<li>{html.escape(w)}</li>" for w in s["warnings"])
    figures = (
        f"<b>{s['pipe_km_total']:.2f}</b> km of pipe · <b>{s['coverage_pct']:.1f} %</b> of the "
        f"{s['pipe_km_outside_zones']:.2f} km outside zones covered · "
        f"<b>{s['pipe_km_needs_authorisation']:.2f}</b> km need authorisation · "
        f"<b>{s['batteries']}</b> sorties, <b>{s['flight_km_total']:.1f}</b> km "
        f"({s['saving_vs_nearest_neighbour_pct']:.1f} % shorter than nearest-neighbour order) · "
        f"{html.escape(plan.camera.name)} at <b>{s['altitude_m']:.0f} m</b>, GSD "
        f"{s['gsd_m'] * 100:.1f} cm, shots every {s['trigger_distance_m']:.1f} m"
    )
    return _PAGE.format(
        figures=figures,
        w=f"{f.w:.1f}",
        h=f"{f.h:.1f}",
        layers="\n".join(layers),
        rows=rows,
        auth=f"<h3>Needs authorisation</h3><ul>{auth}</ul>" if auth else "",
        warns=f"<h3>Warnings</h3><ul>{warns}</ul>" if warns else "",
        crs=html.escape(plan.crs.name),
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>UrbanOps drone survey plan</title>
<style>
body{{font:14px system-ui,sans-serif;margin:0;display:flex;height:100vh}}
#side{{width:360px;overflow:auto;padding:12px;border-right:1px solid #ccc}}
#map{{flex:1;background:#f4f4ef;cursor:grab}}
svg{{width:100%;height:100%}}
.zone{{fill:#d62728;fill-opacity:.25;stroke:#d62728;stroke-width:1.5}}
.zone.off{{fill:none;stroke:#888;stroke-dasharray:4 3}}
.pipe{{fill:none;stroke:#444;stroke-width:1.5}}
.auth{{fill:none;stroke:#ff7f0e;stroke-width:4}}
.gap{{fill:none;stroke:#e4007c;stroke-width:5}}
.survey{{fill:none;stroke:var(--c);stroke-width:3;stroke-opacity:.8}}
.transit{{fill:none;stroke:var(--c);stroke-width:1.5;stroke-dasharray:6 4}}
.home{{fill:#000}}
.scale path{{stroke:#000;stroke-width:3}}
path,circle{{vector-effect:non-scaling-stroke}}
table{{border-collapse:collapse;width:100%}}td,th{{padding:2px 4px;text-align:right}}
.sw{{display:inline-block;width:10px;height:10px;margin-right:4px}}
.legend span{{display:inline-block;margin-right:10px}}
</style></head><body>
<div id="side"><h2>Drone survey plan</h2><p>{figures}</p>
<p class="legend"><span style="color:#d62728">■ zone in force</span>
<span style="color:#888">□ zone not binding</span><span style="color:#ff7f0e">━ needs
authorisation</span><span style="color:#e4007c">━ not covered</span>
<span>━ survey / ┅ transit</span> <span>● home</span></p>
<table><tr><th></th><th>#</th><th>lines</th><th>km</th><th>survey</th><th>min</th>
<th>battery</th><th>start</th></tr>{rows}</table>{auth}{warns}
<p style="color:#666">Drawn in {crs}. Wheel: zoom, drag: pan.</p></div>
<div id="map"><svg id="svg" viewBox="0 0 {w} {h}" preserveAspectRatio="xMidYMid meet">
{layers}
</svg></div>
<script>
const svg=document.getElementById('svg');let vb=svg.viewBox.baseVal;let drag=null;
svg.addEventListener('wheel',e=>{{e.preventDefault();const r=svg.getBoundingClientRect();
const k=e.deltaY>0?1.2:1/1.2;const px=vb.x+(e.clientX-r.left)/r.width*vb.width;
const py=vb.y+(e.clientY-r.top)/r.height*vb.height;vb.x=px-(px-vb.x)*k;vb.y=py-(py-vb.y)*k;
vb.width*=k;vb.height*=k;}},{{passive:false}});
svg.addEventListener('mousedown',e=>{{drag=[e.clientX,e.clientY];}});
window.addEventListener('mouseup',()=>{{drag=null;}});
window.addEventListener('mousemove',e=>{{if(!drag)return;const r=svg.getBoundingClientRect();
vb.x-=(e.clientX-drag[0])/r.width*vb.width;vb.y-=(e.clientY-drag[1])/r.height*vb.height;
drag=[e.clientX,e.clientY];}});
document.querySelectorAll('input[data-s]').forEach(c=>c.addEventListener('change',()=>{{
document.getElementById(c.dataset.s).style.display=c.checked?'':'none';}}));
</script></body></html>
"""
