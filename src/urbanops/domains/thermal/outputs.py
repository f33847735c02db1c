"""Write an inspection as files other tools open: GeoJSON, CSV, JSON, and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from urbanops.domains.thermal.inspect import Inspection, params_dict
from urbanops.domains.thermal.models import Finding

#: The columns of findings.csv and the properties of findings.geojson, in this order.
FIELDS = (
    "id",
    "kind",
    "score",
    "severity",
    "delta_t_c",
    "peak_c",
    "area_m2",
    "pipe_id",
    "distance_to_pipe_m",
    "mean_excess_c",
    "background_c",
    "length_m",
    "width_m",
    "alignment_deg",
    "sharpness_per_m",
    "half_area_m2",
    "reasons",
    "frames",
    "best_frame",
)


def feature_collection(findings: list[Finding]) -> dict[str, Any]:
    """RFC 7946 points in EPSG:4326 (lon, lat; 7 decimals = about 1 cm)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f.id,
                "geometry": {"type": "Point", "coordinates": [round(f.lon, 7), round(f.lat, 7)]},
                "properties": f.properties(),
            }
            for f in findings
        ],
    }


def write_outputs(result: Inspection, out_dir: Path, *, report: bool = True) -> dict[str, Path]:
    """findings.geojson, candidates.geojson, findings.csv, coverage.json, survey.json and
    report.html in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "findings": out_dir / "findings.geojson",
        "candidates": out_dir / "candidates.geojson",
        "csv": out_dir / "findings.csv",
        "coverage": out_dir / "coverage.json",
        "survey": out_dir / "survey.json",
    }
    paths["findings"].write_text(json.dumps(feature_collection(result.findings)))
    paths["candidates"].write_text(json.dumps(feature_collection(result.candidates)))
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*FIELDS, "lon", "lat"])
        writer.writeheader()
        for f in result.findings:
            props = f.properties()
            writer.writerow(
                {**{k: props[k] for k in FIELDS}, "lon": round(f.lon, 7), "lat": round(f.lat, 7)}
            )
    paths["coverage"].write_text(json.dumps(result.coverage, indent=1))
    survey = {
        "mosaic": result.info.path,
        "width_px": result.info.width,
        "height_px": result.info.height,
        "pixel_m": round(result.info.px_m, 4),
        "crs": result.info.crs_wkt,
        "summary": result.summary(),
        "params": params_dict(result.params),
        "tiles": result.tiles,
    }
    paths["survey"].write_text(json.dumps(survey, indent=1))
    if report:
        from urbanops.domains.thermal.report import write_report

        paths["report"] = write_report(result, out_dir / "report.html")
    return paths


def read_findings(out_dir: Path) -> list[dict[str, Any]]:
    """Findings of an earlier inspection (its findings.geojson) as flat dicts with lon/lat."""
    from urbanops.domains.thermal.io import ThermalInputError

    path = out_dir / "findings.geojson"
    if not path.is_file():
        raise ThermalInputError(f"{out_dir}: no findings.geojson (not an inspection folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            {
                **feat["properties"],
                "lon": float(feat["geometry"]["coordinates"][0]),
                "lat": float(feat["geometry"]["coordinates"][1]),
            }
            for feat in data["features"]
        ]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ThermalInputError(f"{path}: not a findings GeoJSON ({exc})") from None
