// Indicator tiles: active alerts by severity, sensors online, readings per minute (counted
// exactly between two /api/v1/summary calls), heat-wave status per district, and one tile per
// domain layer (its features counted by state). Each tile opens its detail view.

import { api } from "./api.js";
import { pick, t } from "./i18n.js";
import { escapeHtml, refreshDomainLayer, showDomain, showOverlay, zoneName } from "./layers.js";

let lastSummary = null;
let rate = null;

export async function refreshSummary(state) {
  const query = lastSummary ? `?since_observation=${lastSummary.observation_cursor}` : "";
  const summary = await api(`/api/v1/summary${query}`);
  if (lastSummary && summary.readings_since != null) {
    const minutes = (Date.parse(summary.at) - Date.parse(lastSummary.at)) / 60000;
    if (minutes > 0) rate = summary.readings_since / minutes;
  }
  lastSummary = summary;
  state.summary = summary;
  renderTiles(state);
}

function tile(id, title, value, detail, { tone = "", action } = {}) {
  return { id, title, value, detail, tone, action };
}

export function renderTiles(state) {
  const box = document.getElementById("tiles");
  const s = state.summary;
  const tiles = [];
  if (state.me.can_read_all && s && s.alerts) {
    const a = s.alerts;
    const total = (a.critical || 0) + (a.warning || 0) + (a.info || 0);
    tiles.push(
      tile(
        "alerts",
        t("active_alerts"),
        String(total),
        `<span class="sev-critical">${t("sev_critical")} ${a.critical || 0}</span> · ` +
          `<span class="sev-warning">${t("sev_warning")} ${a.warning || 0}</span> · ${t("sev_info")} ${a.info || 0}`,
        { tone: a.critical ? "bad" : a.warning ? "warn" : "good", action: () => state.selectView("incidents") },
      ),
    );
  } else {
    tiles.push(tile("alerts", t("active_alerts"), "–", escapeHtml(t("needs_key"))));
  }
  if (s) {
    const share = s.things ? s.things_online / s.things : 0;
    tiles.push(
      tile(
        "sensors",
        t("sensors_online"),
        `${s.things_online.toLocaleString()} ${t("of")} ${s.things.toLocaleString()}`,
        `${s.sensors.toLocaleString()} ${t("streams")} · ${t("stale")} ${(s.sensors - s.online).toLocaleString()}`,
        {
          tone: share > 0.95 ? "good" : share > 0.8 ? "warn" : "bad",
          action: () => {
            document.getElementById("property").value = "";
            document.getElementById("property").dispatchEvent(new Event("change"));
            showOverlay(state, "sensors", true);
          },
        },
      ),
    );
    tiles.push(
      tile("readings", t("readings_per_min"), rate == null ? "…" : Math.round(rate).toLocaleString(), ""),
    );
  }
  for (const entry of state.overlays.values()) {
    const spec = entry.spec;
    if (!spec || spec.kind !== "features") continue;
    if (entry.box.disabled) {
      tiles.push(tile(spec.id, pick(spec.title), "–", escapeHtml(t("needs_key"))));
      continue;
    }
    const counts = {};
    for (const f of entry.features || []) {
      const v = spec.colour_by ? String(f.properties?.[spec.colour_by] ?? "–") : "";
      counts[v] = (counts[v] || 0) + 1;
    }
    const detail = Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, n]) => `${escapeHtml(k)} ${n.toLocaleString()}`)
      .join(" · ");
    tiles.push(
      tile(spec.id, pick(spec.title), entry.error ? "!" : (entry.features || []).length.toLocaleString(), entry.error ? escapeHtml(entry.error) : detail, {
        action: () => showDomain(state, entry),
      }),
    );
  }
  box.innerHTML = tiles
    .map(
      (x) =>
        `<button class="tile ${x.tone}" data-tile="${escapeHtml(x.id)}"${x.action ? "" : " disabled"}>` +
        `<span class="tile-title">${escapeHtml(x.title)}</span><span class="tile-value">${escapeHtml(x.value)}</span>` +
        `<span class="tile-detail">${x.detail}</span></button>`,
    )
    .join("");
  for (const x of tiles) {
    if (x.action) box.querySelector(`[data-tile="${CSS.escape(x.id)}"]`).addEventListener("click", x.action);
  }
}

/** Load every visible-or-not features layer once so its tile has a count. */
export async function refreshDomainCounts(state) {
  await Promise.all(
    [...state.overlays.values()]
      .filter((e) => e.spec && e.spec.kind === "features" && !e.box.disabled)
      .map((e) => refreshDomainLayer(state, e)),
  );
  renderTiles(state);
}

export async function refreshHeat(state) {
  const list = document.getElementById("heat-districts");
  if (!state.me.can_read_all) {
    list.innerHTML = `<li class="muted">${escapeHtml(t("needs_key"))}</li>`;
    return;
  }
  try {
    const data = await api("/api/v1/heat/advisories");
    const rows = data.value || [];
    if (!rows.length) {
      list.innerHTML = `<li class="muted">${escapeHtml(t("no_heat"))}</li>`;
      return;
    }
    const order = { warning: 0, advisory: 1, "": 2 };
    rows.sort((a, b) => (order[a.level] ?? 3) - (order[b.level] ?? 3) || (b.max_apparent_c ?? 0) - (a.max_apparent_c ?? 0));
    list.innerHTML = rows
      .map((r) => {
        const level = r.level ? `level_${r.level}` : "level_none";
        const temp = r.max_apparent_c == null ? "" : ` · ${Number(r.max_apparent_c).toFixed(1)} °C`;
        return `<li class="heat-${escapeHtml(r.level || "none")}"><span>${escapeHtml(zoneName(state, r.zone_id))}</span> <strong>${escapeHtml(t(level))}</strong>${escapeHtml(temp)}</li>`;
      })
      .join("");
  } catch (err) {
    list.innerHTML = `<li class="error">${escapeHtml(err.message)}</li>`;
  }
}
