"""Dashboard figures (issue 9): first render with 10,000 sensors; pan/zoom with 100,000.

A city of N sensors (Things with a Location and one air-temperature Datastream each, spread
over Seoul's extent, public) is written straight into a fresh SQLite database, with one
reading each through the real observation write path. ``urbanops serve`` then serves it and
headless Chromium (Debian's, through Playwright) opens the dashboard with an operator key.

1. **First render** (10,000 sensors): navigation start to the page's ``urbanops-ready`` mark
   (configuration, key check, districts, every sensor fetched and indexed, the sensor layer
   and the indicators drawn) and two animation frames after it; median of 5 fresh browser
   contexts. Baseline in the same page: the same 10,000 sensors added as one Leaflet
   ``circleMarker`` each (SVG, what a dashboard usually does), timed to the next frames.
2. **Pan and zoom** (100,000 sensors): long tasks (PerformanceObserver ``longtask``, main
   thread busy > 50 ms) while the map is dragged with the mouse, wheel-zoomed in and out and
   flown across the city; the figure is the longest one (goal: none above 200 ms). Baseline:
   the same gestures after the sensors are swapped for 100,000 ``circleMarker`` s on Leaflet's
   canvas renderer.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py [--sizes 10000,100000]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import LiveServer, machine  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
#: Seoul's extent (west, south, east, north)
BOUNDS = (126.80, 37.43, 127.18, 37.70)

LONGTASKS = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longtasks.push(e.duration);
}).observe({ type: "longtask", buffered: true });
"""


def build_city(data_dir: Path, n: int, seed: int = 7) -> None:
    """A migrated SQLite database with ``n`` located public sensors and one reading each."""
    from sqlalchemy import insert

    from urbanops.core.sensing.observations import ObservationRow, write_observations
    from urbanops.settings import Settings
    from urbanops.storage import tables as t
    from urbanops.storage.engine import make_engine, upgrade

    settings = Settings(data_dir=data_dir)
    upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    rng = np.random.default_rng(seed)
    lon = rng.uniform(BOUNDS[0], BOUNDS[2], n)
    lat = rng.uniform(BOUNDS[1], BOUNDS[3], n)
    now = datetime.now(UTC).replace(microsecond=0)
    with engine.begin() as conn:
        sensor = conn.execute(
            insert(t.sensors).values(
                name="SHT31", description="", encoding_type="text/plain", metadata="datasheet"
            )
        ).inserted_primary_key[0]
        prop = conn.execute(
            insert(t.observed_properties).values(
                name="air_temperature", definition="http://vocab.nerc.ac.uk/", description=""
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(t.things),
            [
                {"id": i + 1, "name": f"station {i}", "description": "", "is_public": True}
                for i in range(n)
            ],
        )
        conn.execute(
            insert(t.locations),
            [
                {
                    "id": i + 1,
                    "name": f"pole {i}",
                    "description": "",
                    "encoding_type": "application/geo+json",
                    "location": json.dumps(
                        {"type": "Point", "coordinates": [round(lon[i], 6), round(lat[i], 6)]}
                    ),
                }
                for i in range(n)
            ],
        )
        conn.execute(
            insert(t.thing_locations), [{"thing_id": i + 1, "location_id": i + 1} for i in range(n)]
        )
        unit = {"name": "degree Celsius", "symbol": "degC", "definition": ""}
        conn.execute(
            insert(t.datastreams),
            [
                {
                    "id": i + 1,
                    "name": f"temperature {i}",
                    "description": "",
                    "observation_type": "OM_Measurement",
                    "unit_of_measurement": unit,
                    "thing_id": i + 1,
                    "sensor_id": sensor,
                    "observed_property_id": prop,
                }
                for i in range(n)
            ],
        )
        ages = rng.exponential(900, n)  # most fresh, some stale
        values = 27 + 3 * rng.standard_normal(n)
        write_observations(
            conn,
            [
                ObservationRow(
                    i + 1,
                    now - timedelta(seconds=float(ages[i])),
                    None,
                    None,
                    0,
                    float(values[i]),
                    None,
                    None,
                )
                for i in range(n)
            ],
        )
    engine.dispose()


def operator_key(server: LiveServer) -> str:
    out = server.cli("keys", "create", "--role", "operator")
    return out.stdout.strip().splitlines()[-1].strip()


def open_page(browser: Any, url: str, key: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.add_init_script(f"sessionStorage.setItem('urbanops.key', {key!r})")
    page.add_init_script(LONGTASKS)
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=120_000)
    return context, page


def first_render(
    browser: Any, url: str, key: str, runs: int = 5, baseline_too: bool = True
) -> dict[str, Any]:
    ours, baseline, fetch_ms = [], [], []
    for _ in range(runs):
        context, page = open_page(browser, url, key)
        page.wait_for_function("() => performance.getEntriesByName('urbanops-painted').length")
        ours.append(
            page.evaluate("performance.getEntriesByName('urbanops-painted')[0].startTime") / 1000
        )
        entry = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes"
            "('/api/v1/map/sensors')).map(e => e.duration)[0]"
        )
        fetch_ms.append(entry)
        if not baseline_too:  # 100,000 SVG markers take minutes: only measured at 10,000
            context.close()
            continue
        baseline.append(
            page.evaluate(
                """() => new Promise((resolve) => {
  const s = window.__urbanops;
  const t0 = performance.now();
  const group = L.layerGroup();
  for (let i = 0; i < s.sensors.count; i++) {
    group.addLayer(L.circleMarker([s.sensors.lat[i], s.sensors.lon[i]],
      {renderer: L.svg(), radius: 4, color: '#1a9641'}));
  }
  group.addTo(s.map);
  const done = () => resolve((performance.now() - t0) / 1000);
  requestAnimationFrame(() => requestAnimationFrame(done));
})"""
            )
        )
        context.close()
    return {
        "ours_s": statistics.median(ours),
        "ours_runs": ours,
        "fetch_ms": statistics.median(fetch_ms),
        "baseline_s": statistics.median(baseline) if baseline else None,
    }


GESTURES = """async () => {
  const s = window.__urbanops;
  const wait = (ms) => new Promise(r => setTimeout(r, ms));
  const moves = [[37.56, 126.98, 12], [37.50, 127.05, 14], [37.62, 126.92, 13], [37.55, 127.0, 11],
                 [37.57, 126.99, 16], [37.45, 127.10, 12]];
  for (const [la, lo, z] of moves) { s.map.flyTo([la, lo], z, {duration: 0.6}); await wait(1200); }
  return true;
}"""


def pan_zoom(page: Any) -> dict[str, Any]:
    page.evaluate("window.__longtasks = []")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    t0 = time.perf_counter()
    for dx, dy in ((300, 120), (-500, -80), (250, -200), (-100, 260)):  # drags
        page.mouse.move(cx, cy)
        page.mouse.down()
        for k in range(1, 16):
            page.mouse.move(cx + dx * k / 15, cy + dy * k / 15)
            page.wait_for_timeout(16)
        page.mouse.up()
        page.wait_for_timeout(300)
    for delta in (-300, -300, -300, 300, 300, 300, -600, 600):  # wheel zoom in and out
        page.mouse.move(cx, cy)
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(500)
    page.evaluate(GESTURES)
    page.wait_for_timeout(500)
    tasks = page.evaluate("window.__longtasks")
    return {
        "gesture_s": time.perf_counter() - t0,
        "longest_ms": max(tasks, default=0.0),
        "over_200": sum(1 for x in tasks if x > 200),
        "count": len(tasks),
    }


def reload_sensors(page: Any) -> dict[str, Any]:
    """The periodic refresh of every sensor's newest value (fetch, parse, redraw)."""
    page.evaluate("window.__longtasks = []")
    t0 = time.perf_counter()
    page.evaluate("() => window.__urbanops.reloadSensors().then(() => true)")
    page.wait_for_timeout(1500)
    tasks = page.evaluate("window.__longtasks")
    return {
        "reload_s": time.perf_counter() - t0 - 1.5,
        "longest_ms": max(tasks, default=0.0),
        "over_200": sum(1 for x in tasks if x > 200),
    }


def markers_baseline(page: Any) -> None:
    page.evaluate(
        """() => {
  const s = window.__urbanops;
  const entry = s.overlays.get('sensors');
  s.map.removeLayer(entry.layer);
  const r = L.canvas();
  const group = L.layerGroup();
  for (let i = 0; i < s.sensors.count; i++) {
    group.addLayer(L.circleMarker([s.sensors.lat[i], s.sensors.lon[i]],
      {renderer: r, radius: 3, color: '#1a9641'}));
  }
  group.addTo(s.map);
}"""
    )
    page.wait_for_timeout(1500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    print(machine())
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    print(f"browser: {version.strip()} (headless), viewport 1440x900")
    sizes = [int(x) for x in args.sizes.split(",")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                build_city(Path(tmp), n)
                print(f"\n{n:,} sensors written in {time.perf_counter() - t0:.1f} s")
                server = LiveServer(
                    Path(tmp),
                    env={
                        "URBANOPS_DASHBOARD_TILE_URL": "",
                        "URBANOPS_MAX_MAP_ASSETS": str(max(n, 200_000)),
                        "URBANOPS_TAXI_BATCH_S": "0",
                    },
                )
                try:
                    key = operator_key(server)
                    small = n <= 20_000
                    r = first_render(
                        browser, server.url + "/", key, runs=5 if small else 3, baseline_too=small
                    )
                    base = (
                        f" | baseline, one SVG circleMarker per sensor added to the rendered "
                        f"page: {r['baseline_s']:.2f} s more"
                        if r["baseline_s"] is not None
                        else ""
                    )
                    print(
                        f"first render: median {r['ours_s']:.2f} s (runs "
                        f"{', '.join(f'{x:.2f}' for x in r['ours_runs'])}; the sensors call "
                        f"{r['fetch_ms']:.0f} ms){base}"
                    )
                    if n >= 50_000:
                        context, page = open_page(browser, server.url + "/", key)
                        ours = pan_zoom(page)
                        reload = reload_sensors(page)
                        markers_baseline(page)
                        base = pan_zoom(page)
                        context.close()
                        print(
                            f"pan/zoom ({ours['gesture_s']:.0f} s of drags, wheel zooms, flights): "
                            f"longest task {ours['longest_ms']:.0f} ms, {ours['over_200']} above "
                            f"200 ms ({ours['count']} above 50 ms) | baseline, canvas "
                            f"circleMarkers: longest {base['longest_ms']:.0f} ms, "
                            f"{base['over_200']} above 200 ms ({base['count']} above 50 ms)"
                        )
                        print(
                            f"periodic refresh of every sensor's value: "
                            f"{reload['reload_s']:.2f} s, longest task "
                            f"{reload['longest_ms']:.0f} ms, {reload['over_200']} above 200 ms"
                        )
                finally:
                    server.stop()
        browser.close()


if __name__ == "__main__":
    main()
