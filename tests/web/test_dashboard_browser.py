"""The dashboard in a real browser: Playwright driving Debian's Chromium against ``urbanops serve``.

One server with the demo city (a day of readings), an operator, a viewer and a shared-parking
bay is started for the module; each test opens its own browser context. Screenshots of every
view are written to ``test-artifacts/dashboard/`` (or ``$URBANOPS_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, missing_service

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("URBANOPS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("playwright is not installed")
        return
    if not Path(CHROMIUM).exists():
        missing_service("chromium is not installed (make services)")
        return
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class City:
    """The served demo city and its keys."""

    def __init__(self, server: LiveServer, operator: str, viewer: str) -> None:
        self.server = server
        self.url = server.url
        self.operator = operator
        self.viewer = viewer

    def api(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.operator}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)


def _key(server: LiveServer, role: str) -> str:
    out = server.cli("keys", "create", "--role", role)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1].strip()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[City]:
    data = tmp_path_factory.mktemp("dashboard") / "var"
    env = {"URBANOPS_DASHBOARD_TILE_URL": "", "URBANOPS_TAXI_BATCH_S": "0"}
    server = LiveServer(data, env=env)
    try:
        loaded = server.cli("demo", "load", "--days", "1")
        assert loaded.returncode == 0, loaded.stderr
        c = City(server, _key(server, "operator"), _key(server, "viewer"))
        bay = {
            "id": "urn:ngsi-ld:ParkingSpot:jongno-1",
            "type": "ParkingSpot",
            "name": "Jongno shared bay 1",
            "location": {"type": "Point", "coordinates": [126.9910, 37.5720]},
            "status": "free",
            "tariffPer30Min": 600,
        }
        r = c.api("POST", "/api/v1/parking/ngsi-ld/entities", json=[bay])
        assert r.status_code == 200, r.text
        yield c
    finally:
        server.stop()


class Page:
    """A browser page that records console errors and failed requests."""

    def __init__(self, browser: Any, url: str, *, key: str | None, locale: str = "en-US",
                 path: str = "/", size: tuple[int, int] = (1440, 900)) -> None:  # fmt: skip
        self.context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, locale=locale
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        if key:
            self.page.add_init_script(f"sessionStorage.setItem('urbanops.key', {key!r})")
        self.page.goto(url + path)
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000  # a real picture, not a blank page
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def operator_page(browser: Any, city: City) -> Iterator[Page]:
    page = Page(browser, city.url, key=city.operator)
    yield page
    page.close()


def test_map_and_indicators_render_without_errors(operator_page: Page, city: City) -> None:
    p = operator_page
    p.page.wait_for_timeout(1000)
    assert p.js("window.__urbanops.sensors.count") == 620  # 200 demo stations' datastreams
    assert p.js("document.querySelectorAll('.leaflet-sensors-pane canvas').length") > 0
    assert p.js("document.querySelectorAll('.leaflet-overlay-pane canvas').length") > 0
    tiles = p.page.locator("#tiles .tile")
    assert tiles.count() >= 7  # alerts, sensors, readings and one per domain layer
    assert p.page.locator("[data-tile=sensors] .tile-value").inner_text() == "200 of 200"
    assert "620 data streams" in p.page.locator("[data-tile=sensors]").inner_text()
    heat = p.page.locator("#heat-districts li")
    heat.first.wait_for()
    # one line per district the latest day has readings for (of Seoul's 25; a one-day demo
    # that starts after midnight may leave a district without readings yet)
    districts = city.api("GET", "/api/v1/heat/advisories").json()["value"]
    assert heat.count() == len(districts) >= 20
    assert p.page.locator("#who").inner_text() == "Signed in: operator"
    p.shot("indicators")
    assert p.errors == []


def test_layers_toggle(operator_page: Page) -> None:
    p = operator_page
    sensors = "document.querySelectorAll('.leaflet-sensors-pane canvas').length"
    assert p.js(sensors) > 0
    p.page.get_by_label("Sensors (620)").uncheck()
    assert p.js(sensors) == 0
    p.page.get_by_label("Sensors (620)").check()
    assert p.js(sensors) > 0
    parking = p.page.get_by_label("Shared parking bays")
    assert not parking.is_checked()
    parking.check()
    p.page.wait_for_function(
        "() => window.__urbanops.overlays.get('parking.bays').features.length === 1"
    )
    assert p.js(
        "window.__urbanops.map.hasLayer(window.__urbanops.overlays.get('parking.bays').layer)"
    )
    p.page.locator("[data-tile='parking.bays']").click()  # the tile opens the domain's view
    p.page.locator("#list li").first.wait_for()
    assert "Jongno shared bay 1" in p.page.locator("#list").inner_text()
    p.shot("parking-layer")
    parking.uncheck()
    assert not p.js(
        "window.__urbanops.map.hasLayer(window.__urbanops.overlays.get('parking.bays').layer)"
    )
    assert p.errors == []


def test_heat_map_tiles_and_legend(operator_page: Page) -> None:
    p = operator_page
    p.page.get_by_label("Heat map (apparent temperature)").check()
    # the first view builds the current map (kriging the demo's readings), then tiles load
    p.page.wait_for_selector(
        ".leaflet-tile-pane img.leaflet-tile-loaded[src^='blob:']", timeout=120_000
    )
    legend = p.page.locator("#legend img.legend-img")
    legend.wait_for()
    p.page.wait_for_function(
        "() => { const i = document.querySelector('#legend img.legend-img'); "
        "return i && i.complete && i.naturalWidth > 100; }"
    )
    p.page.wait_for_timeout(500)
    p.shot("heat-layer")
    assert p.errors == []  # no request for a tile outside the map


def test_new_readings_refresh_the_sensor_values(operator_page: Page, city: City) -> None:
    p = operator_page
    ds = p.js("window.__urbanops.sensors.id[0]")
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    r = city.api(
        "POST",
        "/sta/v1.1/Observations",
        json={"Datastream": {"@iot.id": ds}, "phenomenonTime": now, "result": 41.25},
    )
    assert r.status_code == 201, r.text
    p.page.evaluate("() => window.__urbanops.reloadSensors()")
    assert p.js("window.__urbanops.sensors.value[0]") == 41.25
    assert p.js("window.__urbanops.sensors.count") == 620  # same sensors: values only
    assert p.errors == []


HOSTILE = '<img src=x onerror="window.__xss=1">'


def test_hostile_names_are_shown_as_text(operator_page: Page, city: City) -> None:
    p = operator_page
    thing = {
        "name": HOSTILE,
        "properties": {"public": True},
        "Locations": [{"name": HOSTILE, "description": "", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [127.05, 37.62]}}],
        "Datastreams": [{
            "name": HOSTILE, "description": "", "observationType": "OM_Measurement",
            "unitOfMeasurement": {"name": "x", "symbol": "<b>u</b>", "definition": ""},
            "Sensor": {"name": "s", "description": "", "encodingType": "text/plain",
                       "metadata": ""},
            "ObservedProperty": {"name": HOSTILE, "definition": "x", "description": ""},
        }],
    }  # fmt: skip
    r = city.api("POST", "/sta/v1.1/Things", json=thing)
    assert r.status_code == 201, r.text
    ds = city.api("GET", f"/sta/v1.1/Things({r.json()['@iot.id']})/Datastreams").json()
    ds_id = ds["value"][0]["@iot.id"]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    reading = {"Datastream": {"@iot.id": ds_id}, "phenomenonTime": now, "result": 1.5}
    assert city.api("POST", "/sta/v1.1/Observations", json=reading).status_code == 201
    p.page.evaluate("() => window.__urbanops.reloadSensors().then(() => true)")
    i = p.js(f"window.__urbanops.byDatastream.get({ds_id})")
    p.js(f"window.__urbanops.map.setView([window.__urbanops.sensors.lat[{i}], "
         f"window.__urbanops.sensors.lon[{i}]], 16, {{animate: false}})")  # fmt: skip
    p.page.wait_for_timeout(500)
    x, y = p.js(
        f"(() => {{ const s = window.__urbanops; const pt = s.map.latLngToContainerPoint("
        f"[s.sensors.lat[{i}], s.sensors.lon[{i}]]); const r = document.getElementById('map')"
        ".getBoundingClientRect(); return [r.left + pt.x, r.top + pt.y]; })()"
    )
    p.page.mouse.click(x, y)
    p.page.wait_for_selector("#view-details:not([hidden])")
    assert p.page.locator("#details-title").inner_text() == HOSTILE
    assert HOSTILE in p.page.locator("#details-body").inner_text()
    assert (
        p.js("document.querySelectorAll('#details-body img, #layers img:not(.legend-img)').length")
        == 0
    )
    assert HOSTILE in p.page.locator("#property").inner_text()  # the property list, as text
    count = p.js("window.__urbanops.sensors.count")
    assert p.page.get_by_label(f"Sensors ({count})").is_checked()  # the label follows
    p.page.wait_for_timeout(300)
    assert p.js("window.__xss") is None
    p.shot("hostile-names")


def test_clicking_a_sensor_shows_its_chart(operator_page: Page) -> None:
    p = operator_page
    p.js("window.__urbanops.map.setView([window.__urbanops.sensors.lat[0], "
         "window.__urbanops.sensors.lon[0]], 15, {animate: false})")  # fmt: skip
    p.page.wait_for_timeout(500)
    x, y = p.js(
        "(() => { const s = window.__urbanops; const pt = s.map.latLngToContainerPoint("
        "[s.sensors.lat[0], s.sensors.lon[0]]); const r = document.getElementById('map')"
        ".getBoundingClientRect(); return [r.left + pt.x, r.top + pt.y]; })()"
    )
    p.page.mouse.click(x, y)
    p.page.wait_for_selector("#chart:not([hidden])", timeout=10_000)
    assert p.page.locator("#view-details").is_visible()
    title = p.page.locator("#details-title").inner_text()
    assert title == p.js("window.__urbanops.sensors.name[0]")
    assert p.page.locator("#details-body tbody tr").count() == 4  # the station's 4 streams
    p.shot("sensor-details")
    assert p.errors == []


def test_live_alert_and_shared_acknowledgement(browser: Any, city: City) -> None:
    first = Page(browser, city.url, key=city.operator)
    second = Page(browser, city.url, key=city.operator)
    try:
        for p in (first, second):
            p.page.locator("#tab-incidents").click()
            p.page.wait_for_selector("#feed-state.live")
        rule = city.api(
            "POST",
            "/api/v1/rules",
            json={
                "name": "Noise over 120 dB",
                "kind": "threshold",
                "scope": {"observed_property": "noise"},
                "params": {"above": 120},
                "severity": "critical",
                "message": "{value} dB at {datastream}",
            },
        )
        assert rule.status_code == 201, rule.text
        ds = first.js(
            "(() => { const s = window.__urbanops.sensors; const p = Object.entries("
            "s.properties).find(([, n]) => n === 'noise')[0]; "
            "return s.id[s.property.indexOf(Number(p))]; })()"
        )
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        posted = time.perf_counter()
        r = city.api(
            "POST",
            "/sta/v1.1/Observations",
            json={"Datastream": {"@iot.id": ds}, "phenomenonTime": now, "result": 131.0},
        )
        assert r.status_code == 201, r.text
        # picked by its value, not by its place: the heat layer's rebuild (a page asking for the
        # map) may raise a district's heat-wave advisory at the same moment, and that alert can
        # be the newest in the feed
        item = first.page.locator("#feed li.incident", has_text=re.compile(r"\b131(\.0)? dB"))
        item.wait_for(timeout=2000)  # the contract: in the feed within 2 s
        seen_s = time.perf_counter() - posted
        assert seen_s < 2.0
        assert item.count() == 1
        assert "critical" in item.inner_text().lower()
        zone = item.locator(".meta").inner_text()
        assert zone.split(" · ")[1].endswith("-gu"), zone  # the district the sensor stands in
        alert_id = int(item.get_attribute("data-alert"))
        second.page.locator(f"#feed li[data-alert='{alert_id}']").wait_for(timeout=2000)
        first.shot("incidents-open")
        first.page.fill(f"#note-{alert_id}", "crew sent to check the meter")
        first.page.locator(f"button[data-act=acknowledge][data-id='{alert_id}']").click()
        second.page.wait_for_selector(
            f"#feed li.st-acknowledged[data-alert='{alert_id}']", timeout=5000
        )
        assert (
            "acknowledged" in second.page.locator(f"#feed li[data-alert='{alert_id}']").inner_text()
        )
        history = city.api("GET", f"/api/v1/alerts/{alert_id}").json()["history"]
        assert [h["action"] for h in history][-1] == "acknowledged"
        assert history[-1]["note"] == "crew sent to check the meter"
        second.shot("incidents-acknowledged-second-browser")
        # the map flies to the incident
        second.page.locator(f"#feed li[data-alert='{alert_id}'] button.focus").click()
        second.page.wait_for_timeout(1500)
        centre = second.js("window.__urbanops.map.getCenter()")
        i = second.js(f"window.__urbanops.byDatastream.get({ds})")
        assert abs(centre["lat"] - second.js(f"window.__urbanops.sensors.lat[{i}]")) < 1e-3
        # filters: another severity hides it
        second.page.select_option("#f-severity", "info")
        assert second.page.locator(f"#feed li[data-alert='{alert_id}']").count() == 0
        second.page.select_option("#f-severity", "critical")
        assert second.page.locator(f"#feed li[data-alert='{alert_id}']").count() == 1
        first.page.fill(f"#note-{alert_id}", "meter replaced")
        first.page.locator(f"button[data-act=resolve][data-id='{alert_id}']").click()
        second.page.wait_for_function(
            f"() => !document.querySelector(\"#feed li[data-alert='{alert_id}']\")", timeout=5000
        )
        assert first.errors == [] and second.errors == []
    finally:
        first.close()
        second.close()


def test_korean_interface(browser: Any, city: City) -> None:
    p = Page(browser, city.url, key=city.viewer, locale="ko-KR")
    try:
        assert p.js("document.documentElement.lang") == "ko"
        assert p.page.locator("#tab-indicators").inner_text() == "지표"
        assert p.page.locator("#tab-incidents").inner_text() == "사건"
        assert p.page.locator("#layers legend").inner_text() == "레이어"
        assert "공유 주차면" in p.page.locator("#layer-list").inner_text()
        assert "작동 중인 센서" in p.page.locator("#tiles").inner_text()
        p.page.locator("#heat-districts li").first.wait_for()
        assert "구" in p.page.locator("#heat-districts").inner_text()  # 종로구...
        p.shot("korean")
        # switch back by hand: labels follow
        p.page.select_option("#lang", "en")
        assert p.page.locator("#tab-indicators").inner_text() == "Indicators"
        assert p.errors == []
    finally:
        p.close()


def test_public_mode_shows_public_data_only(browser: Any, city: City) -> None:
    p = Page(browser, city.url, key=None)
    try:
        assert p.page.locator("#who").inner_text() == "Public mode (public data only)"
        public = httpx.get(city.url + "/api/v1/map/sensors", timeout=30).json()["count"]
        everything = city.api("GET", "/api/v1/map/sensors").json()["count"]
        assert p.js("window.__urbanops.sensors.count") == public < everything
        assert public >= 560  # the demo's environment stations (4 streams each)
        assert p.page.get_by_label("Active alerts").is_disabled()
        assert "Sign in to see this" in p.page.locator("[data-tile=alerts]").inner_text()
        assert p.page.get_by_label("Shared parking bays").is_enabled()
        p.shot("public")
        assert p.errors == []
    finally:
        p.close()


def test_bad_key_falls_back_to_public_mode(browser: Any, city: City) -> None:
    p = Page(browser, city.url, key="uo_not_a_key")
    try:
        assert p.page.locator("#who").inner_text() == "Public mode (public data only)"
        assert p.page.locator("#toast").inner_text() == "That key was refused"
        # the one expected error is the refused /api/v1/me call
        assert all("401" in e for e in p.errors), p.errors
    finally:
        p.close()


def test_wall_screen_and_keyboard(browser: Any, city: City) -> None:
    p = Page(browser, city.url, key=city.viewer, path="/?wall=1", size=(1920, 1080))
    try:
        assert p.js("document.body.classList.contains('wall')")
        assert p.js("parseFloat(getComputedStyle(document.body).fontSize)") >= 20
        p.shot("wall")
        p.page.keyboard.press("Escape")
        assert not p.js("document.body.classList.contains('wall')")
        # tabs by keyboard: focus the selected tab, arrow to the next view
        p.page.locator("#tab-indicators").focus()
        p.page.keyboard.press("ArrowRight")
        assert p.page.locator("#view-incidents").is_visible()
        assert p.js("document.activeElement.id") == "tab-incidents"
        # every form control has a label
        unlabelled = p.js(
            "[...document.querySelectorAll('input, select')].filter(el => !(el.labels && "
            "el.labels.length) && !el.getAttribute('aria-label')).map(el => el.id)"
        )
        assert unlabelled == []
        p.shot("laptop-incidents")
        assert p.errors == []
    finally:
        p.close()


def test_unreachable_tiles_fall_back_to_local_streets(browser: Any, tmp_path: Path) -> None:
    streets = tmp_path / "streets.geojson"
    lines = [
        {"type": "Feature", "properties": {"name": n},
         "geometry": {"type": "LineString", "coordinates": [[126.9 + d, 37.5], [127.0 + d, 37.6]]}}
        for d, n in ((0.0, "Sejong-daero"), (0.02, "Jong-ro"))
    ]  # fmt: skip
    streets.write_text(json.dumps({"type": "FeatureCollection", "features": lines}))
    env = {
        "URBANOPS_DASHBOARD_TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",  # nothing listens
        "URBANOPS_DASHBOARD_STREETS": str(streets),
        "URBANOPS_TAXI_BATCH_S": "0",
    }
    server = LiveServer(tmp_path / "var", env=env)
    try:
        p = Page(browser, server.url, key=None)
        try:
            p.page.wait_for_selector("#toast:not([hidden])", timeout=20_000)
            assert "local data" in p.page.locator("#toast").inner_text()
            assert p.page.get_by_label("Streets").is_checked()
            assert p.js("window.__urbanops.offline") is True
            # only the refused tiles failed
            assert all("ERR_" in e or "Failed to load" in e for e in p.errors), p.errors
            p.shot("offline-fallback")
        finally:
            p.close()
    finally:
        server.stop()
