"""Build the small demo-city slices shipped in ``src/urbanops/demo/data`` from ../shared/data.

Run once by a developer (``python scripts/build_demo_data.py``); the outputs are committed so the
package needs nothing at run time. What it derives:

* ``seoul_districts.geojson``: approximate boundaries of Seoul's 25 autonomous districts (gu),
  derived from the 2,586 Ttareungyi bike-station positions and their district names: Voronoi cells
  of the stations (in EPSG:5186), dissolved by district, clipped to the stations' hull buffered by
  800 m, simplified to 40 m. Not survey boundaries; good enough to group sensors on a map.
* ``sdot_sensors.csv``: 200 of the 851 S-DoT sensor positions (every 851/200-th serial in file
  order), with the district each falls in.
* ``seoul_weather_week.csv``: one week of real hourly Seoul weather (temperature, humidity, rain,
  wind) around the 2018 heat wave, from the UCI Seoul Bike Sharing data.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point, mapping
from shapely.ops import unary_union

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "src" / "urbanops" / "demo" / "data"

# Romanised district names (Revised Romanization, as Seoul uses them).
GU = {
    "종로구": "Jongno-gu",
    "중구": "Jung-gu",
    "용산구": "Yongsan-gu",
    "성동구": "Seongdong-gu",
    "광진구": "Gwangjin-gu",
    "동대문구": "Dongdaemun-gu",
    "중랑구": "Jungnang-gu",
    "성북구": "Seongbuk-gu",
    "강북구": "Gangbuk-gu",
    "도봉구": "Dobong-gu",
    "노원구": "Nowon-gu",
    "은평구": "Eunpyeong-gu",
    "서대문구": "Seodaemun-gu",
    "마포구": "Mapo-gu",
    "양천구": "Yangcheon-gu",
    "강서구": "Gangseo-gu",
    "구로구": "Guro-gu",
    "금천구": "Geumcheon-gu",
    "영등포구": "Yeongdeungpo-gu",
    "동작구": "Dongjak-gu",
    "관악구": "Gwanak-gu",
    "서초구": "Seocho-gu",
    "강남구": "Gangnam-gu",
    "송파구": "Songpa-gu",
    "강동구": "Gangdong-gu",
}


def districts() -> list[dict]:
    text = (SHARED / "mobility" / "seoul_ttareungyi_stations_2022.csv").read_text(encoding="cp949")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    fwd = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
    inv = Transformer.from_crs("EPSG:5186", "EPSG:4326", always_xy=True)
    pts, names = [], []
    for r in rows:
        lat, lon = float(r[4]), float(r[5])
        if not (37.4 < lat < 37.75 and 126.7 < lon < 127.25):
            continue
        x, y = fwd.transform(lon, lat)
        pts.append((x, y))
        names.append(r[2])
    xy = np.array(pts)
    hull = MultiPoint(pts).convex_hull.buffer(800)
    cells = shapely.voronoi_polygons(MultiPoint(pts), extend_to=hull)
    out = []
    cell_list = list(cells.geoms)
    tree = shapely.STRtree(cell_list)
    by_gu: dict[str, list] = {}
    for (x, y), name in zip(xy, names, strict=True):
        idx = tree.query(Point(x, y), predicate="intersects")
        for i in idx:
            by_gu.setdefault(name, []).append(cell_list[i])
    for ko, cells_gu in sorted(by_gu.items(), key=lambda kv: GU[kv[0]]):
        geom = unary_union(cells_gu).intersection(hull).simplify(40)
        geom = shapely.transform(
            geom, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1]))
        )
        geom = shapely.set_precision(geom, 1e-6)
        out.append(
            {
                "type": "Feature",
                "geometry": mapping(geom),
                "properties": {"name": GU[ko], "name_ko": ko},
            }
        )
    return out


def sensors(features: list[dict]) -> list[dict]:
    from shapely.geometry import shape

    polys = [(f["properties"]["name"], shape(f["geometry"])) for f in features]
    rows = list(
        csv.reader((SHARED / "heat" / "sdot_sensor_locations_2020.csv").open(encoding="utf-8-sig"))
    )[1:]
    step = len(rows) / 200
    picked = [rows[int(i * step)] for i in range(200)]
    out = []
    for serial, lat, lon in picked:
        p = Point(float(lon), float(lat))
        gu = next((n for n, g in polys if g.covers(p)), "")
        out.append(
            {
                "serial": serial,
                "lat": f"{float(lat):.6f}",
                "lon": f"{float(lon):.6f}",
                "district": gu,
            }
        )
    return out


def weather_week() -> list[dict]:
    path = SHARED / "heat" / "seoul_hourly_weather_2017-12_2018-11_SeoulBikeData.csv"
    rows = list(csv.DictReader(path.open(encoding="latin1")))
    # 2018-07-27 .. 2018-08-02: the heat wave with a rainy start (the demo's flood gauges react).
    # Dates are d/m/yyyy, zero-padded in some rows and not in others: compare as numbers.
    wanted = {(d, 7) for d in range(27, 32)} | {(1, 8), (2, 8)}

    def day_month(text: str) -> tuple[int, int, int]:
        d, m, y = (int(x) for x in text.split("/"))
        return d, m, y

    week = [
        r for r in rows if day_month(r["Date"])[:2] in wanted and day_month(r["Date"])[2] == 2018
    ]
    return [
        {
            "date": r["Date"],
            "hour": r["Hour"],
            "temperature_degc": r["Temperature(C)"],
            "humidity_pct": r["Humidity(percentage)"],
            "wind_m_s": r["Wind speed (m/s)"],
            "rain_mm": r["Rainfall(mm)"],
        }
        for r in week
    ]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    feats = districts()
    (OUT / "seoul_districts.geojson").write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": feats},
            ensure_ascii=False,
            separators=(",", ":"),
        )
    )
    for name, rows in (
        ("sdot_sensors.csv", sensors(feats)),
        ("seoul_weather_week.csv", weather_week()),
    ):
        with (OUT / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(f"wrote {len(feats)} districts and the sensor and weather slices to {OUT}")


if __name__ == "__main__":
    main()
