// The city map: basemap (tiles, or districts and streets drawn from local data when offline),
// sensors on canvas tiles coloured by their newest value or freshness, active alerts, districts,
// and every layer the domains declare (GeoJSON-like features or XYZ tiles, see core/layers.py).

import { api, imageUrl } from "./api.js";
import { drawSeries } from "./chart.js";
import { ago, lang, pick, t } from "./i18n.js";
import { PointIndex, pointLayer } from "./points.js";

const FRESH = ["#1a9641", "#f29e2e", "#9e9e9e"]; // online, stale, no data
const RAMP = ["#313695", "#4575b4", "#74add1", "#abd9e9", "#fee090", "#fdae61", "#f46d43", "#d73027", "#a50026"];
const STALE = "#bdbdbd";
const SEVERITY = { critical: "#c62828", warning: "#ef6c00", info: "#1565c0" };

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function createMap(state) {
  const { config } = state;
  const map = L.map("map", { preferCanvas: true, zoomControl: true, keyboard: true });
  map.setView(config.center, config.zoom);
  state.map = map;
  state.canvas = L.canvas({ padding: 0.3 });
  state.offline = !config.tile_url;
  if (config.tile_url) {
    const base = L.tileLayer(config.tile_url, {
      attribution: config.tile_attribution,
      maxZoom: 19,
      crossOrigin: true,
    }).addTo(map);
    // No internet (or the tile server is down): fall back to the local basemap at once.
    let failures = 0;
    base.on("tileerror", () => {
      failures += 1;
      if (failures === 4 && !state.offline) {
        map.removeLayer(base);
        goOffline(state);
        toast(t("tiles_unreachable"));
      }
    });
    base.on("tileload", () => (failures = 0));
  }
  map.attributionControl.setPrefix("UrbanOps · Leaflet");
  state.overlays = new Map();
  return map;
}

/** Register a switchable overlay (checkbox in the layer list). */
export function addOverlay(state, id, title, layer, { visible = true, onShow, disabledReason } = {}) {
  const list = document.getElementById("layer-list");
  const row = document.createElement("div");
  row.className = "layer";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = `layer-${id.replace(/[^a-z0-9_-]/gi, "-")}`;
  box.dataset.layer = id;
  const label = document.createElement("label");
  label.htmlFor = box.id;
  label.textContent = typeof title === "function" ? title() : title;
  row.append(box, label);
  if (disabledReason) {
    box.disabled = true;
    label.title = disabledReason;
    row.classList.add("disabled");
  }
  list.append(row);
  const entry = { id, layer, box, label, title, onShow, shown: false };
  box.addEventListener("change", () => showOverlay(state, id, box.checked));
  state.overlays.set(id, entry);
  if (visible && !disabledReason) showOverlay(state, id, true);
  return entry;
}

export function showOverlay(state, id, on) {
  const entry = state.overlays.get(id);
  if (!entry || entry.box.disabled) return;
  entry.box.checked = on;
  if (on && !entry.shown) {
    entry.layer.addTo(state.map);
    entry.shown = true;
    if (entry.onShow) entry.onShow();
  } else if (!on && entry.shown) {
    state.map.removeLayer(entry.layer);
    entry.shown = false;
  }
  document.dispatchEvent(new CustomEvent("urbanops:layers"));
}

export function relabelOverlays(state) {
  for (const entry of state.overlays.values()) {
    entry.label.textContent = typeof entry.title === "function" ? entry.title() : entry.title;
  }
}

// --- districts and streets ------------------------------------------------------------------

/** Draw the local basemap: districts filled, local streets shown. */
function goOffline(state) {
  state.offline = true;
  const zones = state.overlays.get("zones");
  if (zones) zones.layer.setStyle({ fill: true, fillColor: "#eceff1", fillOpacity: 0.5 });
  if (state.overlays.get("streets")) showOverlay(state, "streets", true);
}

export async function loadZones(state) {
  const data = await api("/api/v1/zones");
  state.zones = new Map();
  for (const f of data.features || []) {
    const p = f.properties || {};
    state.zones.set(Number(f.id ?? p.id), { name: p.name, name_ko: p.name_ko || p.name, feature: f });
  }
  const layer = L.geoJSON(data, {
    renderer: state.canvas,
    style: { color: "#455a64", weight: 1.2, fill: state.offline, fillColor: "#eceff1", fillOpacity: state.offline ? 0.5 : 0.05 },
    onEachFeature: (f, l) =>
      l.bindTooltip(() => escapeHtml(zoneName(state, Number(f.id ?? f.properties.id))), { sticky: true }),
  });
  addOverlay(state, "zones", () => t("zones"), layer, { visible: true });
  const bounds = layer.getBounds();
  if (bounds.isValid()) state.zoneBounds = bounds;
  if (state.config.streets) {
    try {
      const streets = await api(state.config.streets);
      const lines = L.geoJSON(streets, {
        renderer: state.canvas,
        interactive: false,
        style: { color: "#78909c", weight: 0.8, opacity: 0.8 },
      });
      addOverlay(state, "streets", () => t("streets"), lines, { visible: state.offline });
    } catch (err) {
      console.warn("no local streets", err.message);
    }
  }
}

function inRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The id of the zone (district) containing a point, or null. */
export function zoneAt(state, lon, lat) {
  for (const [id, z] of state.zones || []) {
    const g = z.feature.geometry || {};
    const polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const rings of polygons) {
      if (inRing(rings[0], lon, lat) && !rings.slice(1).some((hole) => inRing(hole, lon, lat))) return id;
    }
  }
  return null;
}

/** An alert's zone: its own, or the zone its sensor stands in. */
export function alertZone(state, alert) {
  if (alert.zone_id != null) return Number(alert.zone_id);
  const i = alert.datastream_id == null ? undefined : state.byDatastream?.get(alert.datastream_id);
  return i === undefined ? null : zoneAt(state, state.sensors.lon[i], state.sensors.lat[i]);
}

export function zoneName(state, id) {
  const z = state.zones && state.zones.get(Number(id));
  if (!z) return id == null ? t("city") : `#${id}`;
  return lang() === "ko" ? z.name_ko : z.name;
}

// --- sensors -------------------------------------------------------------------------------

export async function loadSensors(state) {
  const data = await api("/api/v1/map/sensors");
  state.sensors = data;
  state.sensorIndex = new PointIndex(data.lon, data.lat);
  state.byDatastream = new Map(data.id.map((id, i) => [id, i]));
  const select = document.getElementById("property");
  const keep = select.value;
  select.querySelectorAll("option[data-property]").forEach((o) => o.remove());
  for (const [id, name] of Object.entries(data.properties)) {
    const o = document.createElement("option");
    o.value = id;
    o.dataset.property = id;
    o.textContent = name;
    select.append(o);
  }
  select.value = keep && data.properties[keep] ? keep : "";
  rebuildSensorLayer(state);
  return data;
}

/**
 * Refresh the newest values only (a third of the bytes, no re-indexing); a full reload when the
 * set of sensors changed.
 */
export async function refreshSensorValues(state) {
  const data = await api("/api/v1/map/sensors?fields=value,time");
  const s = state.sensors;
  if (data.count !== s.count || data.id.some((id, k) => id !== s.id[k])) {
    await loadSensors(state);
    return;
  }
  s.value = data.value;
  s.time = data.time;
  rebuildSensorLayer(state);
}

function sensorColouring(state) {
  const s = state.sensors;
  const now = Date.now() / 1000;
  const staleAfter = state.config.stale_after_s;
  const property = Number(document.getElementById("property").value) || null;
  if (!property) {
    return {
      palette: FRESH,
      colourOf: (i) => (s.time[i] == null ? 2 : now - s.time[i] > staleAfter ? 1 : 0),
      legend: [
        [FRESH[0], t("online")],
        [FRESH[1], t("stale")],
        [FRESH[2], t("no_data")],
      ],
    };
  }
  const values = [];
  for (let i = 0; i < s.count; i++) {
    if (s.property[i] === property && s.value[i] != null) values.push(s.value[i]);
  }
  values.sort((a, b) => a - b);
  const lo = values.length ? values[Math.floor(values.length * 0.05)] : 0;
  const hi = values.length ? values[Math.min(values.length - 1, Math.floor(values.length * 0.95))] : 1;
  const span = hi - lo || 1;
  const palette = [...RAMP, STALE];
  const unit = s.unit[s.property.indexOf(property)] || "";
  const fmt = (v) => Number(v.toPrecision(3)).toLocaleString(lang());
  return {
    palette,
    colourOf: (i) => {
      if (s.property[i] !== property) return -1;
      if (s.value[i] == null || s.time[i] == null || now - s.time[i] > staleAfter) return RAMP.length;
      const k = Math.floor(((s.value[i] - lo) / span) * RAMP.length);
      return Math.max(0, Math.min(RAMP.length - 1, k));
    },
    legend: [
      [RAMP[0], `≤ ${fmt(lo)} ${unit}`],
      [RAMP[4], `${fmt((lo + hi) / 2)} ${unit}`],
      [RAMP[RAMP.length - 1], `≥ ${fmt(hi)} ${unit}`],
      [STALE, `${t("stale")} / ${t("no_data")}`],
    ],
  };
}

export function rebuildSensorLayer(state) {
  const { palette, colourOf, legend } = sensorColouring(state);
  const layer = pointLayer(state.sensorIndex, colourOf, palette, { pane: "sensors" });
  if (!state.map.getPane("sensors")) {
    state.map.createPane("sensors").style.zIndex = 450;
  }
  const entry = state.overlays.get("sensors");
  if (entry) {
    const wasShown = entry.shown;
    if (wasShown) state.map.removeLayer(entry.layer);
    entry.layer = layer;
    if (wasShown) layer.addTo(state.map);
    entry.label.textContent = entry.title(); // the count may have changed
  } else {
    addOverlay(state, "sensors", () => `${t("sensors")} (${state.sensors.count.toLocaleString()})`, layer);
  }
  state.sensorColour = colourOf;
  state.sensorLegend = legend;
  renderLegend(state);
}

export function renderLegend(state) {
  const box = document.getElementById("legend");
  const rows = (state.sensorLegend || [])
    .map(([c, label]) => `<span class="swatch" style="background:${c}"></span>${escapeHtml(label)}`)
    .join("<br>");
  box.innerHTML = rows;
  for (const entry of state.overlays.values()) {
    if (entry.shown && entry.legendUrl && entry.legendReady) {
      const img = document.createElement("img");
      img.alt = typeof entry.title === "function" ? entry.title() : entry.title;
      img.className = "legend-img";
      imageUrl(entry.legendUrl).then((u) => (img.src = u), () => img.remove());
      box.append(img);
    }
  }
}

/** The datastream nearest to a map click (within 10 px), or -1. */
export function sensorAt(state, latlng) {
  if (!state.sensorIndex || !state.overlays.get("sensors")?.shown) return -1;
  const p = state.map.project(latlng, 0);
  const scale = 256 * 2 ** state.map.getZoom();
  const colour = state.sensorColour;
  return state.sensorIndex.nearest(p.x / 256, p.y / 256, 10 / scale, (i) => colour(i) >= 0);
}

export async function showSensor(state, i) {
  const s = state.sensors;
  const thing = s.thing[i];
  const rows = [];
  for (let k = 0; k < s.count; k++) {
    if (s.thing[k] !== thing) continue;
    const name = s.properties[s.property[k]] || s.property[k];
    const value = s.value[k] == null ? "–" : `${Number(s.value[k]).toLocaleString(lang())} ${s.unit[k] || ""}`;
    const when = s.time[k] == null ? t("no_data") : ago(s.time[k]);
    rows.push(
      `<tr><th scope="row"><button class="linkish" data-ds="${s.id[k]}">${escapeHtml(name)}</button></th>` +
        `<td>${escapeHtml(value)}</td><td>${escapeHtml(when)}</td></tr>`,
    );
  }
  openDetails(
    state,
    s.name[i],
    `<table class="kv"><thead><tr><th>${t("property")}</th><th>${t("value")}</th><th>${t("observed")}</th></tr></thead>` +
      `<tbody>${rows.join("")}</tbody></table><p class="muted">${t("recent")}: ${escapeHtml(s.properties[s.property[i]] || "")}</p>`,
  );
  document.querySelectorAll("#details-body button[data-ds]").forEach((b) =>
    b.addEventListener("click", () => chartDatastream(state, Number(b.dataset.ds))),
  );
  await chartDatastream(state, s.id[i]);
}

export async function chartDatastream(state, datastreamId) {
  const canvas = document.getElementById("chart");
  const i = state.byDatastream.get(datastreamId);
  const since = new Date(Date.now() - 2 * 86400e3).toISOString();
  const path =
    `/sta/v1.1/Datastreams(${datastreamId})/Observations?$top=1000&$orderby=phenomenonTime%20desc` +
    `&$select=phenomenonTime,result&$filter=phenomenonTime%20ge%20${encodeURIComponent(since)}`;
  try {
    const data = await api(path);
    const times = [];
    const values = [];
    for (const o of data.value || []) {
      const stamp = String(o.phenomenonTime).split("/").pop();
      times.push(Date.parse(stamp));
      values.push(typeof o.result === "number" ? o.result : Number.NaN);
    }
    canvas.hidden = false;
    const drawn = drawSeries(canvas, times, values, {
      unit: i == null ? "" : state.sensors.unit[i] || "",
      timeZone: state.config.timezone,
      locale: lang(),
    });
    canvas.hidden = !drawn;
    canvas.dataset.datastream = String(datastreamId);
    const name = i == null ? "" : state.sensors.properties[state.sensors.property[i]];
    canvas.setAttribute("aria-label", `${t("recent")}: ${name}`);
  } catch (err) {
    canvas.hidden = true;
    toast(`${t("error")}: ${err.message}`);
  }
}

export function openDetails(state, title, html) {
  document.getElementById("details-title").textContent = title;
  document.getElementById("details-body").innerHTML = html;
  document.getElementById("chart").hidden = true;
  document.getElementById("list").innerHTML = "";
  state.selectView("details");
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(box._timer);
  box._timer = setTimeout(() => (box.hidden = true), 6000);
}

// --- alerts on the map ------------------------------------------------------------------------

export function alertPosition(state, alert) {
  const i = alert.datastream_id == null ? undefined : state.byDatastream?.get(alert.datastream_id);
  if (i !== undefined) return L.latLng(state.sensors.lat[i], state.sensors.lon[i]);
  const z = alert.zone_id == null ? null : state.zones?.get(Number(alert.zone_id));
  if (z) return L.geoJSON(z.feature).getBounds().getCenter();
  return null;
}

export function createAlertLayer(state) {
  const group = L.layerGroup();
  state.alertMarkers = new Map();
  addOverlay(state, "alerts", () => t("alerts_layer"), group, {
    visible: true,
    disabledReason: state.me.can_read_all ? null : t("needs_key"),
  });
  return group;
}

export function drawAlert(state, alert) {
  const group = state.overlays.get("alerts")?.layer;
  if (!group) return;
  const old = state.alertMarkers.get(alert.id);
  if (old) group.removeLayer(old);
  if (alert.state === "resolved") {
    state.alertMarkers.delete(alert.id);
    return;
  }
  const at = alertPosition(state, alert);
  if (!at) return;
  const marker = L.circleMarker(at, {
    renderer: state.canvas,
    radius: 11,
    color: SEVERITY[alert.severity] || "#555",
    weight: 3,
    fillOpacity: alert.state === "acknowledged" ? 0.15 : 0.45,
  }).bindTooltip(escapeHtml(alert.message || "")); // Leaflet sets tooltips as HTML
  marker.on("click", () => state.focusAlert(alert.id));
  group.addLayer(marker);
  state.alertMarkers.set(alert.id, marker);
}

// --- domain layers -------------------------------------------------------------------------------

/** GeoJSON features from what a layer's URL answers (see core/layers.py for the shapes). */
export function toFeatures(data) {
  if (data && data.type === "FeatureCollection") return data.features || [];
  const items = Array.isArray(data) ? data : (data && data.value) || [];
  const out = [];
  for (const item of items) {
    let geometry = null;
    if (item.location && item.location.type) geometry = item.location;
    else {
      const lon = item.lon ?? item.long ?? item.position?.lon;
      const lat = item.lat ?? item.position?.lat;
      if (Number.isFinite(Number(lon)) && Number.isFinite(Number(lat)) && lon !== null && lat !== null) {
        geometry = { type: "Point", coordinates: [Number(lon), Number(lat)] };
      }
    }
    if (geometry) out.push({ type: "Feature", geometry, properties: item });
  }
  return out;
}

function colourFor(spec, props) {
  const v = spec.colour_by ? props[spec.colour_by] : null;
  return (v != null && spec.colours[String(v)]) || "#757575";
}

export function domainLayer(state, spec) {
  const hidden = spec.needs_key && !state.me.can_read_all;
  if (spec.kind === "tiles") {
    // Tiles are fetched with the key (an <img> cannot send it) once the layer is prepared,
    // and only inside the extent the preparation reports.
    let prepared = null;
    let generation = 0; // tiles asked for before the extent was known are not fetched
    const Tiles = L.TileLayer.extend({
      onAdd(map) {
        prepared = prepared || prepare();
        L.TileLayer.prototype.onAdd.call(this, map);
      },
      createTile(coords, done) {
        const img = document.createElement("img");
        img.alt = "";
        const url = this.getTileUrl(coords);
        const born = generation;
        (prepared || Promise.resolve())
          .then(() => {
            if (born !== generation) throw new Error("stale");
            return imageUrl(url);
          })
          .then(
            (u) => {
              img.onload = () => URL.revokeObjectURL(u);
              img.src = u;
              done(null, img);
            },
            () => done(null, img),
          );
        return img;
      },
    });
    const layer = new Tiles(spec.url, { opacity: spec.opacity, maxZoom: 19, zIndex: 5 });
    const prepare = () => {
      if (!spec.prepare) return Promise.resolve();
      return api(spec.prepare).then((answer) => {
        generation += 1;
        const extent = spec.extent ? spec.extent.split(".").reduce((o, k) => o && o[k], answer) : null;
        if (extent && extent.bounds && extent.zooms) {
          const [w, s, e, n] = extent.bounds;
          layer.options.bounds = L.latLngBounds([s, w], [n, e]);
          layer.options.minNativeZoom = extent.zooms[0];
          layer.options.maxNativeZoom = extent.zooms[1];
          layer.options.minZoom = Math.max(0, extent.zooms[0] - 2);
        }
      });
    };
    const entry = addOverlay(state, spec.id, () => pick(spec.title), layer, {
      visible: spec.visible,
      disabledReason: hidden ? t("needs_key") : null,
      onShow: () => {
        prepared
          .then(() => {
            layer.redraw();
            entry.legendReady = true;
            renderLegend(state);
          })
          .catch((err) => toast(`${pick(spec.title)}: ${err.message}`));
      },
    });
    entry.legendUrl = spec.legend;
    entry.spec = spec;
    return entry;
  }
  const layer = L.geoJSON(null, {
    pointToLayer: (f, at) =>
      L.circleMarker(at, {
        renderer: state.canvas,
        radius: 7,
        color: "#212121",
        weight: 1,
        fillColor: colourFor(spec, f.properties || {}),
        fillOpacity: 0.9,
      }),
    style: (f) => ({ color: colourFor(spec, f.properties || {}), weight: 3 }),
    onEachFeature: (f, l) => l.on("click", () => showFeature(state, spec, f)),
  });
  const entry = addOverlay(state, spec.id, () => pick(spec.title), layer, {
    visible: spec.visible,
    disabledReason: hidden ? t("needs_key") : null,
    onShow: () => refreshDomainLayer(state, entry),
  });
  entry.spec = spec;
  entry.features = [];
  return entry;
}

export async function refreshDomainLayer(state, entry) {
  const { spec } = entry;
  if (spec.kind !== "features" || entry.box.disabled) return entry.features;
  try {
    const data = await api(spec.url);
    entry.features = toFeatures(data);
    entry.error = null;
  } catch (err) {
    entry.features = [];
    entry.error = err.message;
  }
  entry.layer.clearLayers();
  if (entry.features.length) entry.layer.addData({ type: "FeatureCollection", features: entry.features });
  document.dispatchEvent(new CustomEvent("urbanops:domain", { detail: spec.id }));
  return entry.features;
}

export function showFeature(state, spec, feature) {
  const props = feature.properties || {};
  const title = String((spec.label && props[spec.label]) ?? props.name ?? props.id ?? pick(spec.title));
  const rows = Object.entries(props)
    .filter(([, v]) => v !== null && typeof v !== "object")
    .slice(0, 24)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join("");
  openDetails(state, `${pick(spec.title)} · ${title}`, `<table class="kv"><tbody>${rows}</tbody></table>`);
  // a feature backed by a sensor (a parking bay's occupancy detector...): its recent readings
  if (Number.isInteger(props.datastream_id)) chartDatastream(state, props.datastream_id);
}

/** The detail view of a domain layer: turn it on, fit it, and list its features. */
export async function showDomain(state, entry) {
  showOverlay(state, entry.id, true);
  const features = entry.spec.kind === "features" ? await refreshDomainLayer(state, entry) : [];
  openDetails(state, pick(entry.spec.title), entry.error ? `<p class="error">${escapeHtml(entry.error)}</p>` : "");
  if (features.length) {
    const bounds = entry.layer.getBounds();
    if (bounds.isValid()) state.map.fitBounds(bounds, { maxZoom: 16, padding: [20, 20] });
  }
  const spec = entry.spec;
  const list = document.getElementById("list");
  const items = features.slice(0, 200).map((f, k) => {
    const p = f.properties || {};
    const label = String((spec.label && p[spec.label]) ?? p.name ?? p.id ?? k);
    const state_ = spec.colour_by ? p[spec.colour_by] : "";
    return (
      `<li><button class="linkish" data-k="${k}"><span class="swatch" style="background:${colourFor(spec, p)}"></span>` +
      `${escapeHtml(label)} <span class="muted">${escapeHtml(state_ ?? "")}</span></button></li>`
    );
  });
  list.innerHTML = features.length
    ? `<p>${features.length.toLocaleString()} ${t("features")}</p><ol class="plain">${items.join("")}</ol>`
    : "";
  list.querySelectorAll("button[data-k]").forEach((b) =>
    b.addEventListener("click", () => {
      const f = features[Number(b.dataset.k)];
      const g = L.geoJSON(f);
      state.map.flyTo(g.getBounds().getCenter(), Math.max(state.map.getZoom(), 16));
      showFeature(state, spec, f);
    }),
  );
}
