"""Write a mission plan: QGroundControl plans, KML, GeoJSON, a summary and a map.

``mission-<n>.plan`` follows QGroundControl's JSON plan format (``fileType: "Plan"``, mission
version 2): simple items carry MAVLink commands with latitude and longitude in params 5 and 6
and the altitude relative to home (``MAV_FRAME_GLOBAL_RELATIVE_ALT``) in param 7. Each sortie
is take-off (``MAV_CMD_NAV_TAKEOFF``), waypoints (``NAV_WAYPOINT``), on each survey line the
camera triggered by distance (``DO_SET_CAM_TRIGG_DIST``, first shot at once) and one shot at its
end (``DO_DIGICAM_CONTROL``), speeds (``DO_CHANGE_SPEED``), and the planned way back ending over
home before ``NAV_RETURN_TO_LAUNCH`` (so the autopilot's straight return leg has zero length
and cannot cross a zone). The zones in force are written as exclusion polygons of the plan's
geofence, so the autopilot also refuses them.

All files are written to a temporary folder and moved into place together; a failure leaves
the output folder as it was.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from urbanops.domains.drone.plan import MissionPlan, PlannedSortie

NAV_WAYPOINT = 16
NAV_RETURN_TO_LAUNCH = 20
NAV_TAKEOFF = 22
DO_CHANGE_SPEED = 178
DO_DIGICAM_CONTROL = 203
DO_SET_CAM_TRIGG_DIST = 206
FRAME_MISSION = 2
FRAME_GLOBAL_RELATIVE_ALT = 3
#: Items above this many may not fit an autopilot's mission store (ArduPilot boards: ~700).
MAX_ITEMS_WARN = 700


def _r(v: float, nd: int = 7) -> float:
    return round(float(v), nd)


def _lonlat(plan: MissionPlan, xy: np.ndarray) -> np.ndarray:
    lon, lat = plan.to_lonlat().transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _geo(plan: MissionPlan, geom: BaseGeometry) -> BaseGeometry:
    t = plan.to_lonlat()
    return shapely.set_precision(shapely.transform(geom, t.transform, interleaved=False), 1e-7)


class _Items:
    def __init__(self, alt_m: float) -> None:
        self.items: list[dict[str, Any]] = []
        self.alt = alt_m

    def add(self, command: int, params: list[float | None], *, frame: int = FRAME_MISSION) -> None:
        item: dict[str, Any] = {
            "autoContinue": True,
            "command": command,
            "doJumpId": len(self.items) + 1,
            "frame": frame,
            "params": params,
            "type": "SimpleItem",
        }
        if frame == FRAME_GLOBAL_RELATIVE_ALT:
            item.update({"AMSLAltAboveTerrain": None, "Altitude": self.alt, "AltitudeMode": 1})
        self.items.append(item)

    def nav(self, command: int, lon: float, lat: float) -> None:
        self.add(
            command,
            [0, 0, 0, None, _r(lat), _r(lon), _r(self.alt, 2)],
            frame=FRAME_GLOBAL_RELATIVE_ALT,
        )

    def speed(self, ms: float) -> None:
        self.add(DO_CHANGE_SPEED, [1, _r(ms, 2), -1, 0, 0, 0, 0])


def qgc_plan(plan: MissionPlan, ps: PlannedSortie) -> dict[str, Any]:
    """One sortie as a QGroundControl plan (a JSON-ready dict)."""
    ll = _lonlat(plan, ps.path)
    opts = plan.options
    items = _Items(plan.altitude_m)
    items.nav(NAV_TAKEOFF, *ll[0])
    items.speed(opts.transit_speed_ms)
    starts, ends = set(ps.line_starts), set(ps.line_ends)
    survey_speed = min(opts.survey_speed_ms, plan.trigger_m / plan.camera.min_interval_s)
    for k in range(1, len(ll)):
        items.nav(NAV_WAYPOINT, *ll[k])
        if k in starts:
            items.speed(survey_speed)
            items.add(DO_SET_CAM_TRIGG_DIST, [_r(plan.trigger_m, 2), 0, 1, 0, 0, 0, 0])
        if k in ends:
            items.add(DO_DIGICAM_CONTROL, [0, 0, 0, 0, 1, 0, 0])
            items.add(DO_SET_CAM_TRIGG_DIST, [0, 0, 0, 0, 0, 0, 0])
            items.speed(opts.transit_speed_ms)
    items.add(NAV_RETURN_TO_LAUNCH, [0, 0, 0, 0, 0, 0, 0])
    lon0, lat0 = plan.home_lonlat
    return {
        "fileType": "Plan",
        "geoFence": {"circles": [], "polygons": _fence(plan, ps), "version": 2},
        "groundStation": "QGroundControl",
        "mission": {
            "cruiseSpeed": _r(opts.transit_speed_ms, 2),
            "firmwareType": 12,  # PX4; ArduPilot reads the same items
            "globalPlanAltitudeMode": 1,
            "hoverSpeed": _r(survey_speed, 2),
            "items": items.items,
            "plannedHomePosition": [_r(lat0), _r(lon0), _r(plan.home_alt_m, 2)],
            "vehicleType": 2,  # multirotor
            "version": 2,
        },
        "rallyPoints": {"points": [], "version": 2},
        "version": 1,
    }


def _fence(plan: MissionPlan, ps: PlannedSortie) -> list[dict[str, Any]]:
    """Exclusion polygons for the zones in force near the sortie (within 2 km of its path)."""
    near = shapely.LineString(ps.path).buffer(2000)
    out = []
    for z in plan.in_force:
        if not z.polygon.intersects(near):
            continue
        for poly in shapely.get_parts(_geo(plan, z.polygon)):
            ring = np.asarray(poly.exterior.coords)[:-1]
            out.append(
                {
                    "inclusion": False,
                    "polygon": [[_r(lat), _r(lon)] for lon, lat in ring],
                    "version": 1,
                }
            )
    return out


def _feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def mission_geojson(plan: MissionPlan) -> dict[str, Any]:
    """Lines, paths, waypoints, zones, pipes needing authorisation and gaps (EPSG:4326)."""
    feats = [_feature(_geo(plan, shapely.Point(plan.home_xy)), {"kind": "home"})]
    in_force = {z.id for z in plan.in_force}
    for z in plan.zones:
        feats.append(
            _feature(
                _geo(plan, z.polygon),
                {
                    "kind": "zone",
                    "id": z.id,
                    "name": z.name,
                    "in_force": z.id in in_force,
                    "floor_m": z.floor_m,
                    "ceiling_m": None if math.isinf(z.ceiling_m) else z.ceiling_m,
                    "schedule": z.describe_time(),
                },
            )
        )
    for ps in plan.sorties:
        feats.append(
            _feature(
                _geo(plan, shapely.LineString(ps.path)),
                {
                    "kind": "flight_path",
                    "sortie": ps.number,
                    "distance_m": round(ps.sortie.distance_m, 1),
                    "time_s": round(ps.sortie.time_s, 1),
                    "start": ps.start.isoformat(),
                    "end": ps.end.isoformat(),
                    "altitude_m": round(plan.altitude_m, 1),
                },
            )
        )
        for order, (a, b) in enumerate(zip(ps.line_starts, ps.line_ends, strict=True), 1):
            feats.append(
                _feature(
                    _geo(plan, shapely.LineString(ps.path[a : b + 1])),
                    {"kind": "survey_line", "sortie": ps.number, "order": order},
                )
            )
        for seq, xy in enumerate(ps.path):
            feats.append(
                _feature(
                    _geo(plan, shapely.Point(xy)),
                    {"kind": "waypoint", "sortie": ps.number, "seq": seq},
                )
            )
    for z, under in plan.authorisation:
        feats.append(
            _feature(
                _geo(plan, under),
                {"kind": "needs_authorisation", "zone": z.id, "pipe_m": round(under.length, 1)},
            )
        )
    for gap in plan.coverage.uncovered:
        feats.append(
            _feature(_geo(plan, gap), {"kind": "not_covered", "pipe_m": round(gap.length, 1)})
        )
    return {"type": "FeatureCollection", "features": feats}


def summary(plan: MissionPlan) -> dict[str, Any]:
    """The figures an operator and an authority ask for, as a JSON-ready dict."""
    cov = plan.coverage
    auth_m = plan.authorisation_m
    total = plan.network.length_m
    in_force = {z.id for z in plan.in_force}
    dist = plan.distance_m
    endurance_s = plan.options.endurance_min * 60
    return {
        "camera": {
            "key": plan.camera.key,
            "name": plan.camera.name,
            "hfov_deg": round(plan.camera.hfov_deg, 2),
            "vfov_deg": round(plan.camera.vfov_deg, 2),
        },
        "crs": plan.crs.to_string(),
        "home": {"lon": plan.home_lonlat[0], "lat": plan.home_lonlat[1]},
        "altitude_m": round(plan.altitude_m, 1),
        "gsd_m": round(plan.gsd_m, 4),
        "footprint_m": {
            "across": round(plan.footprint_m[0], 1),
            "along": round(plan.footprint_m[1], 1),
        },
        "trigger_distance_m": round(plan.trigger_m, 2),
        "passes": len(plan.offsets_m),
        "start": plan.sorties[0].start.isoformat() if plan.sorties else None,
        "end": plan.sorties[-1].end.isoformat() if plan.sorties else None,
        "pipe_km_total": round(total / 1000, 3),
        "pipe_km_outside_zones": round(cov.pipe_m / 1000, 3),
        "pipe_km_covered": round(cov.covered_m / 1000, 3),
        "pipe_km_needs_authorisation": round(auth_m / 1000, 3),
        "coverage_pct": round(100 * cov.fraction, 2),
        "flight_km_total": round(dist / 1000, 3),
        "flight_time_min_total": round(sum(s.sortie.time_s for s in plan.sorties) / 60, 1),
        "baseline_nearest_neighbour_km": round(plan.baseline_m / 1000, 3),
        "saving_vs_nearest_neighbour_pct": round(100 * (1 - dist / plan.baseline_m), 1)
        if plan.baseline_m > 0
        else 0.0,
        "batteries": len(plan.sorties),
        "sorties": [
            {
                "number": ps.number,
                "file": f"mission-{ps.number}.plan",
                "lines": len(ps.sortie.visits),
                "distance_km": round(ps.sortie.distance_m / 1000, 3),
                "survey_km": round(ps.sortie.survey_m / 1000, 3),
                "transit_km": round(ps.sortie.transit_m / 1000, 3),
                "time_min": round(ps.sortie.time_s / 60, 1),
                "battery_used_pct": round(100 * ps.sortie.time_s / endurance_s, 1),
                "start": ps.start.isoformat(),
                "end": ps.end.isoformat(),
                "waypoints": len(ps.path),
            }
            for ps in plan.sorties
        ],
        "needs_authorisation": [
            {
                "zone": z.id,
                "name": z.name,
                "pipe_km": round(g.length / 1000, 3),
                "schedule": z.describe_time(),
            }
            for z, g in plan.authorisation
        ],
        "zones": {
            "total": len(plan.zones),
            "in_force": sorted(in_force),
            "not_binding": sorted(z.id for z in plan.zones if z.id not in in_force),
        },
        "not_flown_km": round(sum(plan.lines[i].length_m for i in plan.excluded) / 1000, 3),
        "warnings": plan.warnings,
    }


def mission_kml(plan: MissionPlan) -> bytes:
    """Zones, sortie paths (relative to ground) and home as KML 2.2."""
    ns = "http://www.opengis.net/kml/2.2"
    ET.register_namespace("", ns)
    kml = ET.Element(f"{{{ns}}}kml")
    doc = ET.SubElement(kml, "Document")
    ET.SubElement(doc, "name").text = "UrbanOps drone survey"
    for sid, line, fill in (
        ("zone", "ff0000cc", "400000ff"),
        ("path", "ffff7f00", "00000000"),
        ("auth", "ff0080ff", "00000000"),
    ):
        st = ET.SubElement(doc, "Style", id=sid)
        ls = ET.SubElement(st, "LineStyle")
        ET.SubElement(ls, "color").text = line
        ET.SubElement(ls, "width").text = "3" if sid != "zone" else "2"
        ps_ = ET.SubElement(st, "PolyStyle")
        ET.SubElement(ps_, "color").text = fill

    def placemark(parent: ET.Element, name: str, style: str) -> ET.Element:
        pm = ET.SubElement(parent, "Placemark")
        ET.SubElement(pm, "name").text = name
        ET.SubElement(pm, "styleUrl").text = f"#{style}"
        return pm

    def coords(xy: np.ndarray, alt: float | None = None) -> str:
        if alt is None:
            return " ".join(f"{x:.7f},{y:.7f}" for x, y in xy)
        return " ".join(f"{x:.7f},{y:.7f},{alt:.1f}" for x, y in xy)

    home = placemark(doc, "Home", "path")
    ET.SubElement(ET.SubElement(home, "Point"), "coordinates").text = coords(
        np.array([plan.home_lonlat])
    )
    zf = ET.SubElement(doc, "Folder")
    ET.SubElement(zf, "name").text = "Restricted zones in force"
    for z in plan.in_force:
        for poly in shapely.get_parts(_geo(plan, z.polygon)):
            pm = placemark(zf, f"{z.id} {z.name}", "zone")
            ET.SubElement(pm, "description").text = (
                f"floor {z.floor_m:g} m, ceiling "
                f"{'unlimited' if math.isinf(z.ceiling_m) else f'{z.ceiling_m:g} m'}, "
                f"{z.describe_time()}"
            )
            pg = ET.SubElement(pm, "Polygon")
            ob = ET.SubElement(ET.SubElement(pg, "outerBoundaryIs"), "LinearRing")
            ET.SubElement(ob, "coordinates").text = coords(np.asarray(poly.exterior.coords))
            for hole in poly.interiors:
                ib = ET.SubElement(ET.SubElement(pg, "innerBoundaryIs"), "LinearRing")
                ET.SubElement(ib, "coordinates").text = coords(np.asarray(hole.coords))
    sf = ET.SubElement(doc, "Folder")
    ET.SubElement(sf, "name").text = "Sorties"
    for ps in plan.sorties:
        pm = placemark(sf, f"Sortie {ps.number}", "path")
        ET.SubElement(pm, "description").text = (
            f"{ps.sortie.distance_m / 1000:.2f} km, {ps.sortie.time_s / 60:.1f} min, "
            f"{ps.start:%Y-%m-%d %H:%M} - {ps.end:%H:%M}"
        )
        ls = ET.SubElement(pm, "LineString")
        ET.SubElement(ls, "altitudeMode").text = "relativeToGround"
        ET.SubElement(ls, "coordinates").text = coords(_lonlat(plan, ps.path), plan.altitude_m)
    af = ET.SubElement(doc, "Folder")
    ET.SubElement(af, "name").text = "Pipes needing authorisation"
    for z, under in plan.authorisation:
        for part in shapely.get_parts(_geo(plan, under)):
            if part.geom_type != "LineString":
                continue
            pm = placemark(af, f"under {z.id}: {part.length:.5f} deg", "auth")
            ET.SubElement(ET.SubElement(pm, "LineString"), "coordinates").text = coords(
                np.asarray(part.coords)
            )
    return ET.tostring(kml, encoding="utf-8", xml_declaration=True)


def write_outputs(plan: MissionPlan, out_dir: Path) -> list[Path]:
    """Write every output into ``out_dir`` at once; returns the paths written.

    Plans of an earlier run with more sorties (``mission-<n>.plan`` beyond this plan's count)
    are removed, so the folder never mixes two plans.
    """
    from urbanops.domains.drone.mapview import map_html

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for ps in plan.sorties:
        files[f"mission-{ps.number}.plan"] = json.dumps(qgc_plan(plan, ps), indent=2).encode()
        n_items = len(json.loads(files[f"mission-{ps.number}.plan"])["mission"]["items"])
        if n_items > MAX_ITEMS_WARN:
            plan.warnings.append(
                f"mission-{ps.number}.plan has {n_items} items; some autopilots hold fewer "
                f"than {MAX_ITEMS_WARN} (raise the line simplification or split the area)"
            )
    files["mission.geojson"] = json.dumps(mission_geojson(plan)).encode()
    files["mission.kml"] = mission_kml(plan)
    files["summary.json"] = json.dumps(summary(plan), indent=2).encode()
    files["map.html"] = map_html(plan).encode()
    tmp = Path(tempfile.mkdtemp(prefix=".drone-plan-", dir=out_dir))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        for old in out_dir.glob("mission-*.plan"):
            if old.name not in files:
                old.unlink()
        for name in files:
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / name for name in files]
