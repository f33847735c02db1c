// The Smart Hub view: active alerts, kept live from the event stream (alert.opened /
// acknowledged / resolved), filtered by zone, severity and kind (the rule's kind); operators
// acknowledge and resolve with a note, and the map flies to the incident.

import { api, stream } from "./api.js";
import { t } from "./i18n.js";
import { alertPosition, alertZone, drawAlert, escapeHtml, toast, zoneName } from "./layers.js";

const RANK = { critical: 0, warning: 1, info: 2 };

export async function startIncidents(state) {
  state.alerts = new Map();
  state.rules = new Map();
  const status = document.getElementById("feed-state");
  if (!state.me.can_read_all) {
    status.textContent = t("needs_key");
    renderFeed(state);
    return () => {};
  }
  const [rules, alerts] = await Promise.all([
    api("/api/v1/rules"),
    api("/api/v1/alerts?state=active&limit=1000"),
  ]);
  for (const r of rules.value || rules) state.rules.set(r.id, r);
  fillFilters(state);
  for (const a of alerts.value || alerts) {
    state.alerts.set(a.id, a);
    drawAlert(state, a);
  }
  renderFeed(state);
  return stream(
    "/api/v1/events?alerts=true",
    async (type, data) => {
      if (!type.startsWith("alert.")) return;
      let alert = state.alerts.get(data.alert_id);
      if (!alert) {
        alert = { id: data.alert_id, opened_at: data.at };
        state.alerts.set(alert.id, alert);
      }
      Object.assign(alert, {
        rule_id: data.rule_id,
        subject: data.subject,
        datastream_id: data.datastream_id,
        zone_id: data.zone_id,
        severity: data.severity,
        state: data.state,
        message: data.message,
        value: data.value,
      });
      if (type === "alert.acknowledged") alert.acknowledged_at = data.at;
      if (!state.rules.has(alert.rule_id)) {
        try {
          const rule = await api(`/api/v1/rules/${alert.rule_id}`);
          state.rules.set(rule.id, rule);
          fillFilters(state);
        } catch (_) {
          /* the rule was deleted: the alert still shows */
        }
      }
      drawAlert(state, alert);
      if (alert.state === "resolved") state.alerts.delete(alert.id);
      renderFeed(state);
      document.dispatchEvent(new CustomEvent("urbanops:alerts"));
    },
    (s) => {
      status.textContent = s === "live" ? `● ${t("live")}` : s === "forbidden" ? t("needs_key") : t("reconnecting");
      status.className = s === "live" ? "live" : "";
    },
  );
}

function fillFilters(state) {
  const zone = document.getElementById("f-zone");
  const kind = document.getElementById("f-kind");
  const keepZone = zone.value;
  const keepKind = kind.value;
  zone.querySelectorAll("option[data-dyn]").forEach((o) => o.remove());
  kind.querySelectorAll("option[data-dyn]").forEach((o) => o.remove());
  for (const [id] of state.zones || []) {
    const o = new Option(zoneName(state, id), String(id));
    o.dataset.dyn = "1";
    zone.append(o);
  }
  const kinds = new Set([...state.rules.values()].map((r) => r.kind).filter(Boolean));
  for (const k of [...kinds].sort()) {
    const o = new Option(k, k);
    o.dataset.dyn = "1";
    kind.append(o);
  }
  zone.value = keepZone;
  kind.value = keepKind;
}

export function renderFeed(state) {
  const feed = document.getElementById("feed");
  const zone = document.getElementById("f-zone").value;
  const severity = document.getElementById("f-severity").value;
  const kind = document.getElementById("f-kind").value;
  const rows = [...(state.alerts || new Map()).values()]
    .filter((a) => a.state !== "resolved")
    .filter((a) => !zone || String(alertZone(state, a)) === zone)
    .filter((a) => !severity || a.severity === severity)
    .filter((a) => !kind || state.rules.get(a.rule_id)?.kind === kind)
    .sort((a, b) => (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9) || b.id - a.id);
  if (!rows.length) {
    feed.innerHTML = `<li class="muted">${escapeHtml(t("no_incidents"))}</li>`;
    return;
  }
  const canAct = state.me.can_write_entities;
  feed.innerHTML = rows
    .slice(0, 300)
    .map((a) => {
      const rule = state.rules.get(a.rule_id);
      const when = a.opened_at ? new Date(a.opened_at).toLocaleString(document.documentElement.lang, { timeZone: state.config.timezone }) : "";
      const acts = canAct
        ? `<div class="acts"><label class="sr" for="note-${a.id}">${t("note")}</label>` +
          `<input id="note-${a.id}" class="note" maxlength="2000" placeholder="${escapeHtml(t("note"))}">` +
          (a.state === "open" ? `<button data-act="acknowledge" data-id="${a.id}">${t("acknowledge")}</button>` : "") +
          `<button data-act="resolve" data-id="${a.id}">${t("resolve")}</button></div>`
        : "";
      return (
        `<li class="incident sev-${escapeHtml(a.severity)} st-${escapeHtml(a.state)}" data-alert="${a.id}">` +
        `<button class="linkish focus" data-id="${a.id}"><span class="badge">${escapeHtml(t(`sev_${a.severity}`))}</span> ` +
        `${escapeHtml(a.message || rule?.name || a.subject)}</button>` +
        `<div class="meta"><span class="state">${escapeHtml(t(`state_${a.state}`))}</span> · ${escapeHtml(zoneName(state, alertZone(state, a)))}` +
        `${rule ? ` · ${escapeHtml(rule.kind)}` : ""} · <time>${escapeHtml(when)}</time></div>${acts}</li>`
      );
    })
    .join("");
  feed.querySelectorAll("button.focus").forEach((b) => b.addEventListener("click", () => state.focusAlert(Number(b.dataset.id))));
  feed.querySelectorAll("button[data-act]").forEach((b) =>
    b.addEventListener("click", () => act(state, Number(b.dataset.id), b.dataset.act)),
  );
}

async function act(state, id, action) {
  const note = document.getElementById(`note-${id}`)?.value.trim();
  try {
    await api(`/api/v1/alerts/${id}/${action}`, { method: "POST", body: note ? { note } : {} });
    const alert = state.alerts.get(id);
    if (alert) {
      alert.state = action === "resolve" ? "resolved" : "acknowledged";
      drawAlert(state, alert);
      if (alert.state === "resolved") state.alerts.delete(id);
    }
    renderFeed(state);
    toast(`${t(action)}: ${t("done")}`);
  } catch (err) {
    toast(`${t("error")}: ${err.message}`);
  }
}

export function focusAlert(state, id) {
  const alert = state.alerts.get(id);
  if (!alert) return;
  const at = alertPosition(state, alert);
  if (at) state.map.flyTo(at, Math.max(state.map.getZoom(), 15), { duration: 0.8 });
  state.selectView("incidents");
  const row = document.querySelector(`#feed li[data-alert="${id}"]`);
  if (row) {
    row.classList.add("focused");
    row.scrollIntoView({ block: "nearest" });
    setTimeout(() => row.classList.remove("focused"), 2500);
  }
}
