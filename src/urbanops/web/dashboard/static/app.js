// The UrbanOps dashboard: wires the map, indicators, incidents, language, sign-in and the
// wall-screen mode. Everything it shows comes from the public API (see docs/dashboard.md).

import { ApiError, api, setApiKey } from "./api.js";
import { initialLanguage, lang, setLanguage, t } from "./i18n.js";
import { focusAlert, renderFeed, startIncidents } from "./incidents.js";
import { refreshDomainCounts, refreshHeat, refreshSummary, renderTiles } from "./indicators.js";
import {
  createAlertLayer,
  createMap,
  domainLayer,
  loadSensors,
  loadZones,
  rebuildSensorLayer,
  refreshDomainLayer,
  refreshSensorValues,
  relabelOverlays,
  renderLegend,
  sensorAt,
  showSensor,
  toast,
} from "./layers.js";

const VIEWS = ["indicators", "incidents", "details"];
const WALL_CYCLE_MS = 20000;

const state = { timers: [], stopFeed: null };
window.__urbanops = state; // read by the browser tests and the benchmark (no secrets in it)

function selectView(view) {
  for (const v of VIEWS) {
    const tab = document.getElementById(`tab-${v}`);
    const panel = document.getElementById(`view-${v}`);
    const on = v === view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    panel.hidden = !on;
  }
  state.view = view;
  document.body.dataset.view = view;
}
state.selectView = selectView;
state.focusAlert = (id) => focusAlert(state, id);
state.reloadSensors = () => refreshSensorValues(state);

function wireTabs() {
  const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
  tabs.forEach((tab, k) => {
    tab.addEventListener("click", () => selectView(tab.dataset.view));
    tab.addEventListener("keydown", (e) => {
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = tabs[(k + step + tabs.length) % tabs.length];
      next.focus();
      selectView(next.dataset.view);
    });
  });
}

function setWall(on) {
  document.body.classList.toggle("wall", on);
  document.getElementById("wall").setAttribute("aria-pressed", String(on));
  clearInterval(state.wallTimer);
  if (on) {
    if (document.fullscreenElement == null && document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
    let k = 0;
    const views = state.me.can_read_all ? ["indicators", "incidents"] : ["indicators"];
    state.wallTimer = setInterval(() => {
      k = (k + 1) % views.length;
      selectView(views[k]);
    }, WALL_CYCLE_MS);
  } else if (document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  }
  setTimeout(() => state.map && state.map.invalidateSize(), 50);
  const url = new URL(location.href);
  if (on) url.searchParams.set("wall", "1");
  else url.searchParams.delete("wall");
  history.replaceState(null, "", url);
}

function every(ms, fn) {
  state.timers.push(setInterval(() => fn().catch((err) => console.warn(err.message)), ms));
}

async function whoAmI() {
  try {
    return await api("/api/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setApiKey("");
      toast(t("bad_key"));
      return api("/api/v1/me");
    }
    throw err;
  }
}

function showWho() {
  const who = document.getElementById("who");
  const signedIn = state.me.role !== "anonymous";
  who.textContent = signedIn ? t("signed_in_as", { role: state.me.role }) : t("public_mode");
  document.getElementById("login").hidden = signedIn;
  document.getElementById("logout").hidden = !signedIn;
}

function tickClock() {
  const fmt = new Intl.DateTimeFormat(lang(), {
    timeZone: state.config.timezone,
    dateStyle: "medium",
    timeStyle: "short",
  });
  document.getElementById("clock").textContent = fmt.format(new Date());
}

async function start() {
  const t0 = performance.now();
  setLanguage(initialLanguage());
  document.getElementById("lang").value = lang();
  wireTabs();
  selectView("indicators");
  state.config = await api("/dashboard/config.json");
  state.me = await whoAmI();
  showWho();
  tickClock();
  createMap(state);
  const zones = loadZones(state).catch((err) => toast(err.message));
  const sensors = loadSensors(state);
  await zones;
  await sensors;
  createAlertLayer(state);
  for (const spec of state.config.layers) domainLayer(state, spec);
  await refreshSummary(state).catch((err) => toast(err.message));
  renderTiles(state);
  state.firstRenderMs = performance.now() - t0;
  state.ready = true;
  document.body.dataset.ready = "1";
  performance.mark("urbanops-ready");
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("urbanops-painted")));

  if (state.zoneBounds) state.map.fitBounds(state.zoneBounds, { padding: [10, 10] });
  else if (state.sensors.count) {
    state.map.fitBounds(
      L.latLngBounds(state.sensors.lat.map((la, i) => [la, state.sensors.lon[i]])),
      { padding: [20, 20] },
    );
  }
  state.map.on("click", (e) => {
    const i = sensorAt(state, e.latlng);
    if (i >= 0) showSensor(state, i);
  });
  state.stopFeed = await startIncidents(state).catch((err) => {
    toast(err.message);
    return null;
  });
  refreshDomainCounts(state);
  refreshHeat(state);
  setTimeout(() => refreshSummary(state).catch(() => {}), 10000); // a first rate soon
  every(30000, () => refreshSummary(state));
  every(60000, () => refreshHeat(state));
  every(120000, () => state.reloadSensors());
  for (const entry of state.overlays.values()) {
    const refresh = entry.spec?.refresh_s;
    if (entry.spec?.kind === "features" && refresh > 0) {
      every(refresh * 1000, async () => {
        await refreshDomainLayer(state, entry);
        renderTiles(state);
      });
    }
  }
  every(30000, async () => tickClock());
  if (new URL(location.href).searchParams.get("wall") === "1") setWall(true);
}

document.getElementById("lang").addEventListener("change", (e) => {
  setLanguage(e.target.value);
  if (!state.ready) return;
  showWho();
  tickClock();
  relabelOverlays(state);
  rebuildSensorLayer(state);
  renderTiles(state);
  renderFeed(state);
  refreshHeat(state);
});
document.getElementById("property").addEventListener("change", () => {
  rebuildSensorLayer(state);
  renderLegend(state);
});
document.addEventListener("urbanops:layers", () => state.ready && renderLegend(state));
for (const id of ["f-zone", "f-severity", "f-kind"]) {
  document.getElementById(id).addEventListener("change", () => renderFeed(state));
}
document.getElementById("wall").addEventListener("click", () => setWall(!document.body.classList.contains("wall")));
document.getElementById("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = document.getElementById("key").value.trim();
  if (!key) return;
  setApiKey(key);
  location.reload();
});
document.getElementById("logout").addEventListener("click", () => {
  setApiKey("");
  location.reload();
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && document.body.classList.contains("wall")) setWall(false);
});

start().catch((err) => {
  console.error(err);
  toast(`${t("error")}: ${err.message}`);
});
